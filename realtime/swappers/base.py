"""What every swapper shares: the :class:`Swapper` interface the pipeline drives, the :class:`SwapResult` it gets
back, and :func:`hull_box`, the frame region a swap of one face may touch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from realtime.faces.types import HULL, Face

__all__ = ["SwapResult", "Swapper", "hull_box"]


@dataclass
class SwapResult:
    """A swapped face in frame coordinates, confined to ``box`` = (x0, y0, x1, y1) of the frame.

    ``face`` is RGB float32 [h,w,3] in [0,255] and ``mask`` float32 [h,w] in {0,1} (1 where the swap applies).
    """

    box: tuple[int, int, int, int]
    face: np.ndarray
    mask: np.ndarray


class Swapper(Protocol):
    """A face swapper: :meth:`set_source` once, then :meth:`swap_many` per frame."""

    name: str

    def set_source(self, image: np.ndarray, face: Face) -> None:
        """Use ``face`` (68 landmarks) of the RGB uint8 ``image`` as the identity to paste."""
        ...

    def swap_many(self, frame: np.ndarray, faces: list[np.ndarray]) -> list[SwapResult | None]:
        """One result per target face ([68,2] landmarks) of an RGB uint8 frame [H,W,3], all faces at once (neural
        swappers batch them); None for a face that cannot be swapped (off-frame, too small)."""
        ...


def hull_box(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The frame region (x0, y0, x1, y1) a swap of the face with [68,2] ``landmarks`` may touch: the landmark hull's
    bounding box plus a 2-3 px margin, clipped to the (height, width) frame; None when under 8 px a side."""
    h, w = frame_size
    hull = landmarks[HULL]
    x0, y0 = np.floor(hull.min(0)).astype(int) - 2
    x1, y1 = np.ceil(hull.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x1 - x0 < 8 or y1 - y0 < 8 else (int(x0), int(y0), int(x1), int(y1))
