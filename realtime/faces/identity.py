"""Who each tracked face is, among the people of a map: one decision per track, kept until the evidence has said
otherwise several times running.

A track's descriptors (taken at detections: :class:`~realtime.faces.detection.TrackedFaces` asks
:meth:`IdentityDecider.wants` which tracks need one) are compared with each mapped person's reference descriptors.
A track is undecided until one observation is *confident* (its nearest person nearer
than the threshold and clearly nearer than the next, or every person clearly farther than the threshold: someone
unmapped) or ``confirm`` observations running agree (a single image has one observation: ``confirm=1``). Once
decided, it changes only after ``flip`` observations running agree on another answer, so two people crossing, a
blurred frame or a turned head cannot move a face to another source for a frame. Undecided tracks are not swapped:
a face is left alone rather than given a source that may be the wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["UNKNOWN", "IdentityDecider"]

UNKNOWN = -1  # a decided track that is none of the mapped people


@dataclass
class _TrackState:
    person: int | None = None  # the decision: a person's index, UNKNOWN, or None (undecided)
    candidate: int | None = None  # the latest answer that disagrees with ``person`` (or, undecided, the latest)
    streak: int = 0  # observations running that gave ``candidate``
    observed: int = -(10**9)  # the detection round of the latest observation


class IdentityDecider:
    """Per track id, which of ``people`` it is.

    Args:
        people: per mapped person, its reference descriptors, float [K,D] (K >= 1) in the analyzer's space.
        distance: the analyzer's descriptor distance, ``(a, b) -> float``.
        threshold: the distance under which two descriptors are the same person (the analyzer's operating point).
        margin: how much nearer than the runner-up (or farther than ``threshold``, for nobody) an answer must be,
            as a fraction of ``threshold``, to decide a track on one observation.
        confirm: observations running that must agree to decide a track when none of them is confident.
        flip: observations running that must agree on another answer before a decided track changes.
        recheck: detection rounds between descriptors of a decided track (undecided ones want one every round).
            A dlib descriptor costs about 75 ms at 720p on 2 cores, so a decided track is only rechecked now and
            then (24 rounds: every 4 s at 30 fps with detection every 5 frames); the tracker describes faces
            anyway where tracks meet (two people crossing), and those descriptors count too.
    """

    def __init__(
        self,
        people: Sequence[np.ndarray],
        distance: Callable[[np.ndarray, np.ndarray], float],
        threshold: float,
        margin: float = 0.15,
        confirm: int = 2,
        flip: int = 3,
        recheck: int = 24,
    ) -> None:
        if not people:
            raise ValueError("an IdentityDecider needs at least one person")
        self.people = [np.atleast_2d(np.asarray(p, np.float32)) for p in people]
        self.distance, self.threshold = distance, threshold
        self.margin, self.confirm, self.flip, self.recheck = margin * threshold, confirm, flip, recheck
        self._tracks: dict[int, _TrackState] = {}
        self._round = 0

    def new_round(self, live: Iterable[int]) -> None:
        """A detection round starts; tracks not in ``live`` (ids) are forgotten (they ended, or a scene cut)."""
        self._round += 1
        keep = set(live)
        self._tracks = {k: v for k, v in self._tracks.items() if k in keep}

    def wants(self, track_id: int) -> bool:
        """Whether a descriptor of this track is wanted in this round: undecided, or due for its recheck."""
        state = self._tracks.get(track_id)
        return state is None or state.person is None or self._round - state.observed >= self.recheck

    def answer(self, embedding: np.ndarray) -> tuple[int, bool]:
        """(the person ``embedding`` is nearest to, or UNKNOWN when none is within the threshold; whether that
        answer is confident, see the module notes)."""
        distances = np.array([min(self.distance(embedding, ref) for ref in refs) for refs in self.people])
        order = np.argsort(distances)
        best = float(distances[order[0]])
        if best >= self.threshold:
            return UNKNOWN, best >= self.threshold + self.margin
        runner_up = float(distances[order[1]]) if len(order) > 1 else np.inf
        return int(order[0]), best <= self.threshold - self.margin and runner_up - best >= self.margin

    def observe(self, track_id: int, embedding: np.ndarray) -> None:
        """A descriptor (float [D]) of the track's face, from this round's detection."""
        state = self._tracks.setdefault(track_id, _TrackState())
        state.observed = self._round
        answer, confident = self.answer(embedding)
        if state.person is not None and answer == state.person:
            state.candidate, state.streak = None, 0
            return
        state.streak = state.streak + 1 if answer == state.candidate else 1
        state.candidate = answer
        needed = (1 if confident else self.confirm) if state.person is None else self.flip
        if state.streak >= needed:
            state.person, state.candidate, state.streak = answer, None, 0

    def person(self, track_id: int) -> int | None:
        """The track's decision: a person's index (into ``people``), UNKNOWN, or None while undecided."""
        state = self._tracks.get(track_id)
        return None if state is None else state.person
