"""One identity decision per track (realtime.faces.identity) and tracks grouped into people
(realtime.faces.grouping)."""

from __future__ import annotations

import numpy as np

from realtime.faces.grouping import group_tracks
from realtime.faces.identity import UNKNOWN, IdentityDecider

ALICE, BOB = np.array([0.0, 0.0]), np.array([1.0, 0.0])


def euclid(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def decider(**kwargs: object) -> IdentityDecider:
    return IdentityDecider([ALICE, BOB], euclid, threshold=0.6, **kwargs)  # type: ignore[arg-type]


def test_a_clear_first_descriptor_decides_and_an_unclear_one_waits_for_a_second() -> None:
    d = decider()
    d.observe(1, ALICE + np.array([0.05, 0.0]))  # near Alice, far from Bob: decided at once
    assert d.person(1) == 0
    d.observe(2, [0.5, 0])  # within the threshold of both: not clear
    assert d.person(2) is None
    d.observe(2, [0.45, 0])  # the same answer again
    assert d.person(2) == 0
    d.observe(3, [5.0, 5.0])  # far from everyone: someone unmapped
    assert d.person(3) == UNKNOWN
    assert d.person(4) is None  # never seen


def test_a_decision_flips_only_after_three_disagreeing_descriptors_running() -> None:
    d = decider()
    d.observe(1, ALICE)
    for answer in (BOB, BOB, ALICE, BOB, BOB):  # an interrupted streak starts again
        d.observe(1, answer)
        assert d.person(1) == 0
    d.observe(1, BOB)
    assert d.person(1) == 1


def test_single_image_mode_decides_on_one_unclear_descriptor() -> None:
    d = decider(confirm=1)
    d.observe(1, [0.5, 0])
    assert d.person(1) == 0


def test_descriptors_are_wanted_while_undecided_then_every_recheck_rounds() -> None:
    d = decider(recheck=3)
    assert d.wants(1)
    d.observe(1, ALICE)
    d.new_round([1])
    assert not d.wants(1)
    d.new_round([1])
    d.new_round([1])
    assert d.wants(1)
    d.new_round([])  # the track ended: forgotten
    assert d.person(1) is None and d.wants(1)


def test_grouping_joins_a_persons_tracks_but_never_two_tracks_seen_together() -> None:
    tracks = [ALICE, ALICE + 0.1, BOB, BOB + 0.1, ALICE + 0.05]
    groups = group_tracks(tracks, euclid, 0.6, apart=set())
    assert sorted(groups) == [[0, 1, 4], [2, 3]]
    # tracks 0 and 1 on screen at once are two people, however alike
    groups = group_tracks(tracks, euclid, 0.6, apart={(0, 1)})
    assert [0, 1] not in groups and not any({0, 1} <= set(g) for g in groups)
    assert sorted(len(g) for g in groups) == [1, 2, 2]
