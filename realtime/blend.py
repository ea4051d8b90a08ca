"""Paste a swapped face back into its frame: Poisson (seamless) blending or a feathered alpha composite."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
import torch

from realtime.ops import seamless_blend
from realtime.swappers.base import SwapResult
from realtime.threads import torch_threads

__all__ = ["BLEND_MODES", "paste"]

BLEND_MODES = ("poisson", "feather")


def paste(frame: np.ndarray, result: SwapResult, mode: str = "poisson", device: str = "cpu") -> None:
    """Blend ``result`` into the RGB uint8 ``frame`` in place.

    ``poisson`` solves the masked Poisson problem with :func:`realtime.ops.seamless_blend` (the source's gradients
    inside, the frame on the boundary, nothing re-centred) on ``device``; ``feather`` alpha-blends with a blurred
    mask on the CPU.
    """
    x0, y0, x1, y1 = result.box
    target = frame[y0:y1, x0:x1]
    if mode == "poisson":
        # Shrink the mask by a pixel so its boundary samples the frame, not the warp's antialiased rim.
        mask = cv2.erode(result.mask, np.ones((3, 3), np.uint8))
        dst = torch.from_numpy(np.ascontiguousarray(target)).permute(2, 0, 1)[None].to(device, torch.float32)
        src = torch.from_numpy(np.ascontiguousarray(result.face)).permute(2, 0, 1)[None].to(device)
        with torch_threads(1) if device == "cpu" else contextlib.nullcontext():  # see realtime.threads
            out = seamless_blend(dst, src, torch.from_numpy(mask)[None, None].to(device))
        target[...] = out[0].permute(1, 2, 0).clamp_(0, 255).round_().to(torch.uint8).cpu().numpy()
    elif mode == "feather":
        size = max(3, int(0.08 * min(target.shape[:2])) | 1)
        alpha = cv2.GaussianBlur(cv2.erode(result.mask, np.ones((size, size), np.uint8)), (size, size), 0)[..., None]
        target[...] = np.clip(result.face * alpha + target.astype(np.float32) * (1 - alpha) + 0.5, 0, 255).astype(
            np.uint8
        )
    else:
        raise ValueError(f"unknown blend mode {mode!r}; choose one of {BLEND_MODES}")
