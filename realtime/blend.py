"""Paste a swapped face back into its frame: Poisson (seamless) blending or a feathered alpha composite.

:func:`paste` takes host frames (numpy), :func:`paste_on_device` frames that stay on a device as torch tensors;
both compute the same blend (the Poisson solve is :func:`realtime.ops.seamless_blend` either way).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from realtime.ops import seamless_blend
from realtime.swappers.base import DeviceSwapResult, SwapResult
from realtime.threads import torch_threads

__all__ = ["BLEND_MODES", "paste", "paste_all_on_device", "paste_on_device"]

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
        inside = _erode(torch.from_numpy(result.mask).to(device), 3)
        target[...] = _poisson(dst[None], src[None], inside[None])[0].cpu().numpy()
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
        target.copy_(_poisson(target[None], result.face[None], _erode(result.mask, 3)[None])[0])
    elif mode == "feather":
        size = _feather_size(tuple(target.shape[:2]))
        # in float64: cuDNN would run a float32 blur in TF32, a thousandth off cv2's weights
        alpha = _gaussian_blur(_erode(result.mask.double(), size), size).float()
        mixed = result.face * alpha + target.permute(2, 0, 1).float() * (1 - alpha) + 0.5
        target.copy_(mixed.clamp_(0, 255).floor_().permute(1, 2, 0).to(torch.uint8))
    else:
        raise ValueError(f"unknown blend mode {mode!r}; choose one of {BLEND_MODES}")


def paste_all_on_device(frame: torch.Tensor, results: Sequence[DeviceSwapResult | None], mode: str = "poisson") -> int:
    """:func:`paste_on_device` of every result (None: a face not swapped) into the frame tensor, in order; returns
    how many were pasted.

    The Poisson solves of a frame's faces run as one batch when no two boxes overlap (a face pasted over another
    must see it pasted first): each face gets a window of the frame of one common size around its box, moved
    inward at the frame's edges so a box on an edge keeps that edge as the window's (the solver's natural
    boundary there), and only each box is written back. Since a mask stays inside its box, 2 px from any edge
    that is not the frame's, each face's solve sees what it would see alone.
    """
    pasted = [r for r in results if r is not None]
    boxes = [r.box for r in pasted]
    if mode != "poisson" or len(pasted) < 2 or _any_overlap(boxes):
        for result in pasted:
            paste_on_device(frame, result, mode)
        return len(pasted)
    height, width = frame.shape[:2]
    side_y = min(max(y1 - y0 for _, y0, _, y1 in boxes), height)
    side_x = min(max(x1 - x0 for x0, _, x1, _ in boxes), width)
    origins = [(min(max(x0, 0), width - side_x), min(max(y0, 0), height - side_y)) for x0, y0, _, _ in boxes]
    targets = torch.stack([frame[oy : oy + side_y, ox : ox + side_x] for ox, oy in origins])
    faces = targets.permute(0, 3, 1, 2).float()
    inside = torch.zeros((len(pasted), side_y, side_x), device=frame.device)
    for k, (result, (ox, oy)) in enumerate(zip(pasted, origins, strict=True)):
        x0, y0, x1, y1 = result.box
        faces[k, :, y0 - oy : y1 - oy, x0 - ox : x1 - ox] = result.face
        inside[k, y0 - oy : y1 - oy, x0 - ox : x1 - ox] = _erode(result.mask, 3)
    blended = _poisson(targets, faces, inside)
    for k, (result, (ox, oy)) in enumerate(zip(pasted, origins, strict=True)):
        x0, y0, x1, y1 = result.box
        frame[y0:y1, x0:x1] = blended[k, y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return len(pasted)


def _any_overlap(boxes: Sequence[tuple[int, int, int, int]]) -> bool:
    """Whether any two (x0, y0, x1, y1) boxes share a pixel."""
    return any(
        a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3] for i, a in enumerate(boxes) for b in boxes[i + 1 :]
    )


def _poisson(targets: torch.Tensor, faces: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Seamless blends of ``faces`` (float32 [N,3,h,w] in [0,255]) into ``targets`` (uint8 [N,h,w,3]) inside the
    already shrunk masks ``inside`` (float32 [N,h,w] in {0,1}), as uint8 [N,h,w,3] on their device."""
    dst = targets.permute(0, 3, 1, 2).float()
    with torch_threads(1) if targets.device.type == "cpu" else contextlib.nullcontext():  # see realtime.threads
        out = seamless_blend(dst, faces, inside[:, None])
    return out.permute(0, 2, 3, 1).clamp_(0, 255).round_().to(torch.uint8)


def _feather_size(size: tuple[int, int]) -> int:
    """The odd erosion and blur width of a feathered paste into a region of (height, width): 8% of its short side."""
    return max(3, int(0.08 * min(size)) | 1)


def _erode(mask: torch.Tensor, size: int) -> torch.Tensor:
    """cv2.erode of float [h,w] by a size x size square (odd size); beyond the edge nothing erodes, as in cv2. The
    Poisson paste shrinks its mask by a pixel (size 3) so the boundary samples the frame, not the warp's
    antialiased rim."""
    return -F.max_pool2d(-mask[None, None], size, stride=1, padding=size // 2)[0, 0]


def _gaussian_blur(image: torch.Tensor, size: int) -> torch.Tensor:
    """cv2.GaussianBlur of float [h,w] with a size x size kernel and sigma from the size (cv2's sigma 0), reflected
    at the edges (cv2's default BORDER_REFLECT_101)."""
    kernel = torch.from_numpy(cv2.getGaussianKernel(size, 0)).to(image.device, image.dtype)
    half = size // 2
    padded = F.pad(image[None, None], (half, half, half, half), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, size, 1))
    return F.conv2d(rows, kernel.view(1, 1, 1, size))[0, 0]
