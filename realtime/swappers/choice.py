"""Which picture of the source person a warping swapper uses for a target face: the one that looks most like it
(head turned the same way, mouth as open), chosen per tracked face, with hysteresis so a face does not flicker
between source pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from realtime.faces.pose import head_pose, mouth_openness, pose_distance
from realtime.swappers.base import SourceFace

__all__ = ["SourceChooser"]


@dataclass
class _Choice:
    current: int
    candidate: int = -1
    streak: int = 0
    seen: int = 0  # the chooser's call count when this track was last seen


class SourceChooser:
    """Per target track, the index of the source face to warp.

    A track starts on the closest face (by :func:`~realtime.faces.pose.pose_distance`) and moves to another only
    when that one is closer by more than ``margin`` (degrees of head turn) for ``hold`` consecutive frames of the
    track, so landmark noise near the midpoint of two source faces cannot make it alternate. A face seen once
    (``track_id`` -1) gets the closest face. Tracks unseen for ``forget`` calls are forgotten.
    """

    def __init__(self, faces: Sequence[SourceFace], margin: float = 8.0, hold: int = 5, forget: int = 1000) -> None:
        self.faces = list(faces)
        self.margin, self.hold, self.forget = margin, hold, forget
        self._choices: dict[int, _Choice] = {}
        self._calls = 0

    def costs(self, landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
        """How unlike the target face (its [68,2] ``landmarks`` in a frame of (height, width)) each source face
        looks, float64 [len(faces)]."""
        pose, mouth = head_pose(landmarks, frame_size), mouth_openness(landmarks)
        return np.array([pose_distance(pose, mouth, f.pose, f.mouth) for f in self.faces])

    def choose(self, landmarks: np.ndarray, frame_size: tuple[int, int], track_id: int = -1) -> int:
        """The source face for the target face with [68,2] ``landmarks`` in a frame of (height, width)."""
        if len(self.faces) == 1:
            return 0
        self._calls += 1
        costs = self.costs(landmarks, frame_size)
        best = int(np.argmin(costs))
        if track_id < 0:
            return best
        choice = self._choices.get(track_id)
        if choice is None:
            choice = self._choices[track_id] = _Choice(best)
        choice.seen = self._calls
        if best != choice.current and costs[best] < costs[choice.current] - self.margin:
            choice.streak = choice.streak + 1 if best == choice.candidate else 1
            choice.candidate = best
            if choice.streak >= self.hold:
                choice.current, choice.candidate, choice.streak = best, -1, 0
        else:
            choice.candidate, choice.streak = -1, 0
        if self._calls % 100 == 0:
            self._choices = {k: c for k, c in self._choices.items() if self._calls - c.seen <= self.forget}
        return choice.current
