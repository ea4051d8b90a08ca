"""Paste a swapped face back into its frame: Poisson (seamless) blending or a feathered alpha composite.

:func:`paste` takes host frames (numpy), :func:`paste_on_device` frames that stay on a device as torch tensors;
both compute the same blend (the Poisson solve is :func:`realtime.ops.seamless_blend` either way).
"""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from realtime.ops import seamless_blend
from realtime.swappers.base import DeviceSwapResult, SwapResult
from realtime.threads import torch_threads

__all__ = ["BLEND_MODES", "paste", "paste_on_device"]

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
        dst = torch.from_numpy(np.ascontiguousarray(target)).to(device)
        src = torch.from_numpy(np.ascontiguousarray(result.face)).permute(2, 0, 1).to(device)
        target[...] = _poisson(dst, src, torch.from_numpy(result.mask).to(device)).cpu().numpy()
    elif mode == "feather":
        size = _feather_size(target.shape[:2])
        alpha = cv2.GaussianBlur(cv2.erode(result.mask, np.ones((size, size), np.uint8)), (size, size), 0)[..., None]
        target[...] = np.clip(result.face * alpha + target.astype(np.float32) * (1 - alpha) + 0.5, 0, 255).astype(
            np.uint8
        )
    else:
        raise ValueError(f"unknown blend mode {mode!r}; choose one of {BLEND_MODES}")


def paste_on_device(frame: torch.Tensor, result: DeviceSwapResult, mode: str = "poisson") -> None:
    """:func:`paste` for an RGB uint8 frame tensor [H,W,3] on the device of ``result``'s tensors, in place; the
    feathered mask is eroded and blurred there too (cv2's kernels and borders)."""
    x0, y0, x1, y1 = result.box
    target = frame[y0:y1, x0:x1]
    if mode == "poisson":
        target.copy_(_poisson(target, result.face, result.mask))
    elif mode == "feather":
        size = _feather_size(tuple(target.shape[:2]))
        alpha = _gaussian_blur(_erode(result.mask, size), size)
        mixed = result.face * alpha + target.permute(2, 0, 1).float() * (1 - alpha) + 0.5
        target.copy_(mixed.clamp_(0, 255).floor_().permute(1, 2, 0).to(torch.uint8))
    else:
        raise ValueError(f"unknown blend mode {mode!r}; choose one of {BLEND_MODES}")


def _poisson(target: torch.Tensor, face: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The seamless blend of ``face`` (float32 [3,h,w] in [0,255]) into ``target`` (uint8 [h,w,3]) inside ``mask``
    (float32 [h,w] in {0,1}), as uint8 [h,w,3] on their device."""
    # Shrink the mask by a pixel so its boundary samples the frame, not the warp's antialiased rim.
    inside = _erode(mask, 3)
    dst = target.permute(2, 0, 1)[None].float()
    with torch_threads(1) if target.device.type == "cpu" else contextlib.nullcontext():  # see realtime.threads
        out = seamless_blend(dst, face[None], inside[None, None])
    return out[0].permute(1, 2, 0).clamp_(0, 255).round_().to(torch.uint8)


def _feather_size(size: tuple[int, int]) -> int:
    """The odd erosion and blur width of a feathered paste into a region of (height, width): 8% of its short side."""
    return max(3, int(0.08 * min(size)) | 1)


def _erode(mask: torch.Tensor, size: int) -> torch.Tensor:
    """cv2.erode of float [h,w] by a size x size square (odd size); beyond the edge nothing erodes, as in cv2."""
    return -F.max_pool2d(-mask[None, None], size, stride=1, padding=size // 2)[0, 0]


def _gaussian_blur(image: torch.Tensor, size: int) -> torch.Tensor:
    """cv2.GaussianBlur of float [h,w] with a size x size kernel and sigma from the size (cv2's sigma 0), reflected
    at the edges (cv2's default BORDER_REFLECT_101)."""
    kernel = torch.from_numpy(cv2.getGaussianKernel(size, 0).astype(np.float32)).to(image.device)
    half = size // 2
    padded = F.pad(image[None, None], (half, half, half, half), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, size, 1))
    return F.conv2d(rows, kernel.view(1, 1, 1, size))[0, 0]
