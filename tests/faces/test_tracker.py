"""Tracker identity matching: box overlap, with identity descriptors deciding when faces cross."""

from __future__ import annotations

import numpy as np

from realtime.faces.tracker import Tracker
from realtime.faces.types import Face, kps5_from_68


def face_at(x0: float, embedding: np.ndarray | None) -> Face:
    box = np.array([x0, 0.0, x0 + 100.0, 100.0])
    pts = np.random.default_rng(0).uniform([x0, 0], [x0 + 100, 100], (68, 2))
    return Face(bbox=box, score=1.0, landmarks=pts, kps5=kps5_from_68(pts), embedding=embedding)


def same_person(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.linalg.norm(a - b)) < 0.6


ALICE, BOB = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)


def ids_after_crossing(tracker: Tracker) -> dict[str, int]:
    """Alice at x=0 and Bob at x=60, then Bob's face at x=10 and Alice's at x=50 (they swap sides)."""
    alice, bob = tracker.update_detections([face_at(0, ALICE), face_at(60, BOB)], 0.0)
    assert (alice.track_id, bob.track_id) == (0, 1)
    bob_now, alice_now = face_at(10, BOB), face_at(50, ALICE)
    tracker.update_detections([bob_now, alice_now], 0.1)
    return {"alice": alice_now.track_id, "bob": bob_now.track_id}


def test_descriptors_keep_identities_when_faces_cross() -> None:
    assert ids_after_crossing(Tracker(same_person=same_person)) == {"alice": 0, "bob": 1}
    # by overlap alone, each track follows the nearer box: the identities swap
    assert ids_after_crossing(Tracker()) == {"alice": 1, "bob": 0}


def test_a_different_person_in_the_same_place_starts_a_new_track() -> None:
    tracker = Tracker(same_person=same_person)
    tracker.update_detections([face_at(0, ALICE)], 0.0)
    newcomer = face_at(5, BOB)
    live = tracker.update_detections([newcomer], 0.1)
    assert newcomer.track_id == 1 and [tr.track_id for tr in live] == [1]
    unknown = face_at(8, None)  # no descriptor: overlap decides
    tracker.update_detections([unknown], 0.2)
    assert unknown.track_id == 1
