"""The embedder's two frame-sized steps on a frame that stays on a device (a torch tensor): the cell means it reads
(:func:`cell_means_on_device`, what :func:`~realtime.watermark.grid.to_luma` and
:func:`~realtime.watermark.grid.cell_means` give on the host) and adding the smooth field of the cell amplitudes
(:func:`add_field`, :func:`~realtime.watermark.grid.smooth_field` plus a saturating add). Only the cell grid
(rows x cols floats) travels to the host and back; the lattice arithmetic between stays in
:class:`~realtime.watermark.embed.Watermarker`."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from realtime.watermark.grid import ANALYSIS_WIDTH

__all__ = ["add_field", "cell_means_on_device", "luma_on_device"]

# cv2's fixed-point RGB -> grey for uint8 (BT.601, 15 fractional bits, rounded)
_GREY_WEIGHTS = (9798, 19235, 3735)
_GREY_SHIFT = 15


def luma_on_device(frame: torch.Tensor) -> torch.Tensor:
    """:func:`~realtime.watermark.grid.to_luma` of an RGB uint8 frame tensor [H,W,3]: int32 [h,w] on its device,
    equal to cv2's (grey rounded as cv2 rounds it, halved by rounded 2x2 means while at least twice
    ``ANALYSIS_WIDTH`` wide)."""
    rgb = frame.to(torch.int32)
    r, g, b = _GREY_WEIGHTS
    grey = (rgb[..., 0] * r + rgb[..., 1] * g + rgb[..., 2] * b + (1 << (_GREY_SHIFT - 1))) >> _GREY_SHIFT
    while grey.shape[1] >= 2 * ANALYSIS_WIDTH:
        h, w = grey.shape
        even = grey[: h - h % 2, : w - w % 2]
        grey = (even[0::2, 0::2] + even[0::2, 1::2] + even[1::2, 0::2] + even[1::2, 1::2] + 2) >> 2
    return grey


@lru_cache(maxsize=32)
def _area_weights(size: int, cells: int, device: torch.device) -> torch.Tensor:
    """float64 [cells, size] on ``device``: row k holds the weights cv2's INTER_AREA gives each of ``size`` pixels
    in output cell k (the resize of an identity matrix along one axis: INTER_AREA is separable)."""
    eye = np.eye(size, dtype=np.float64)
    return torch.from_numpy(cv2.resize(eye, (size, cells), interpolation=cv2.INTER_AREA)).to(device)


def cell_means_on_device(frame: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """``cell_means(to_luma(frame), rows, cols)`` of an RGB uint8 frame tensor [H,W,3], computed on its device:
    float32 [rows, cols] on the host (the one small download the embedder needs)."""
    luma = luma_on_device(frame).double()  # float64: exact sums whatever TF32 setting a caller has made
    h, w = luma.shape
    means = _area_weights(h, rows, frame.device) @ luma @ _area_weights(w, cols, frame.device).T
    return means.float().cpu().numpy()


def add_field(frame: torch.Tensor, pattern: np.ndarray) -> None:
    """Add the smooth field of the per-cell amplitudes ``pattern`` (float32 [rows, cols], grey levels) to R, G and B
    of the RGB uint8 frame tensor [H,W,3] in place, rounded and saturated: what the host embedder does with
    ``smooth_field`` (cv2's bicubic, A = -0.75, edges repeated, as torch's) and ``cv2.add``/``cv2.subtract``."""
    h, w = frame.shape[:2]
    cells = torch.from_numpy(np.ascontiguousarray(pattern, np.float32)).to(frame.device)
    field = F.interpolate(cells[None, None], size=(h, w), mode="bicubic", align_corners=False)[0, 0]
    offset = field.round_().to(torch.int16)[..., None]
    frame.copy_((frame.to(torch.int16) + offset).clamp_(0, 255).to(torch.uint8))
