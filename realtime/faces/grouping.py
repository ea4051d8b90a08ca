"""Tracks grouped into people by their descriptors: average-linkage clustering that never joins two tracks seen in
the same frame (one person cannot be in two places at once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["group_tracks"]


def group_tracks(
    descriptors: Sequence[np.ndarray],
    distance: Callable[[np.ndarray, np.ndarray], float],
    threshold: float,
    apart: set[tuple[int, int]],
) -> list[list[int]]:
    """Groups of track indices, each one person.

    Args:
        descriptors: per track, its representative descriptor (float [D]).
        distance: the analyzer's descriptor distance.
        threshold: two groups join only while their average pairwise distance is below it.
        apart: index pairs (i < j) of tracks seen in the same frame, never in one group.

    Closest groups join first, so a person's many short tracks gather before a look-alike can claim them.
    """
    n = len(descriptors)
    pair = np.full((n, n), np.inf)
    for i in range(n):
        for j in range(i + 1, n):
            pair[i, j] = pair[j, i] = distance(descriptors[i], descriptors[j])
    groups: list[list[int]] = [[i] for i in range(n)]
    while len(groups) > 1:
        best: tuple[float, int, int] | None = None
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                if any((min(i, j), max(i, j)) in apart for i in groups[a] for j in groups[b]):
                    continue
                linkage = float(np.mean(pair[np.ix_(groups[a], groups[b])]))
                if linkage < threshold and (best is None or linkage < best[0]):
                    best = (linkage, a, b)
        if best is None:
            break
        _, a, b = best
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    return groups
