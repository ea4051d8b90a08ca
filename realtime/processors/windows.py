"""Where in a model's FFHQ-aligned crop a face's box lies: the chain runs its models on whole crops, but reads their
outputs only over the part it pastes back (a 512 crop of a 720p face is about three times the box's area)."""

from __future__ import annotations

import numpy as np

from realtime.faces.align import alignment_matrix, transform_points
from realtime.faces.types import kps5_from_68

__all__ = ["FFHQ_SIDE", "Window", "crop_window", "ffhq_matrix", "map_matrix", "within"]

FFHQ_SIDE = 512
# part of a crop a map is wanted for: crop pixels [y0:y1:step, x0:x1:step], as (x0, y0, x1, y1, step)
Window = tuple[int, int, int, int, int]


def ffhq_matrix(landmarks: np.ndarray) -> np.ndarray:
    """[2,3] float64 frame -> FFHQ 512 crop matrix of a face with [68,2] ``landmarks``; times size/512 for a crop
    of another side (the template scales with it)."""
    return alignment_matrix(kps5_from_68(landmarks), "ffhq", FFHQ_SIDE)


def crop_window(m: np.ndarray, box: tuple[int, int, int, int], size: int, subsample: bool = True) -> Window:
    """The part of a ``size`` crop (frame -> crop matrix ``m``) that a map warped back to the frame region ``box``
    (x0, y0, x1, y1) reads: the box's bounding rectangle in the crop plus the pixels bilinear reads need. With
    ``subsample``, every ``step``-th pixel, ``step`` the whole number of times the crop enlarges the face: the box
    has fewer pixels than that, so a finer map only adds values the resampling skips."""
    x0, y0, x1, y1 = box
    corners = transform_points(np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64), m)
    left, top = np.clip(np.floor(corners.min(0)).astype(int) - 1, 0, size)
    right, bottom = np.clip(np.ceil(corners.max(0)).astype(int) + 2, 0, size)
    step = max(1, int(np.sqrt(abs(np.linalg.det(m[:, :2]))))) if subsample else 1
    return int(left), int(top), int(right), int(bottom), step


def map_matrix(m: np.ndarray, window: Window) -> np.ndarray:
    """[2,3] frame -> map pixels for a map over ``window`` of the crop that ``m`` maps the frame to."""
    x0, y0, _, _, step = window
    return (m - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])) / step


def within(maps: np.ndarray | list[np.ndarray], windows: list[Window]) -> list[np.ndarray]:
    """Each of ``maps`` (per crop, [S,S] or [S,S,C]) cut to its window, as views."""
    return [m[y0:y1:step, x0:x1:step] for m, (x0, y0, x1, y1, step) in zip(maps, windows, strict=True)]
