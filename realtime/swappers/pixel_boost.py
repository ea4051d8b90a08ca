"""Pixel boost: a 128-px swapper yields a 256- or 512-px face. The face is cropped at k x 128 px; the k x k crops
made of every k-th pixel (each a sub-pixel-shifted 128-px view of the face) are swapped one by one, and their
outputs are interleaved back into one k x 128 crop (FaceFusion's "pixel boost")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

__all__ = ["explode", "implode", "run_boosted"]

Crops = TypeVar("Crops", np.ndarray, torch.Tensor)


def explode(crops: Crops, k: int) -> Crops:
    """[N,S,S,C] -> [N*k*k,S/k,S/k,C] (numpy arrays or torch tensors): face n's view (i, j) is
    ``crops[n, i::k, j::k]``, at index n*k*k + i*k + j."""
    n, size, _, c = crops.shape
    if size % k:
        raise ValueError(f"crop size {size} is not a multiple of {k}")
    s = size // k
    return _reorder(crops.reshape(n, s, k, s, k, c), (0, 2, 4, 1, 3, 5)).reshape(n * k * k, s, s, c)


def implode(views: Crops, k: int) -> Crops:
    """The inverse of :func:`explode`: [N*k*k,s,s,C] -> [N,s*k,s*k,C]."""
    nkk, s, _, c = views.shape
    n = nkk // (k * k)
    return _reorder(views.reshape(n, k, k, s, s, c), (0, 3, 1, 4, 2, 5)).reshape(n, s * k, s * k, c)


def run_boosted(run: Callable[[Crops, np.ndarray], Crops], crops: Crops, identities: np.ndarray, k: int) -> Crops:
    """``run(crops, identities)`` (a swap of [N,S,S,C] crops, face n with ``identities[n]``) with pixel boost's
    factor ``k``: each face's k*k views are consecutive (:func:`explode`), so each takes its face's identity k*k
    times, and the swapped views are put back together (:func:`implode`); k = 1 is the plain call."""
    if k == 1:
        return run(crops, identities)
    return implode(run(explode(crops, k), np.repeat(identities, k * k, axis=0)), k)


def _reorder(x: Crops, axes: tuple[int, ...]) -> Crops:
    return x.permute(*axes) if isinstance(x, torch.Tensor) else x.transpose(axes)
