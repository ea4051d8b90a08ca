"""Pixel boost: a 128-px swapper yields a 256- or 512-px face. The face is cropped at k x 128 px; the k x k crops
made of every k-th pixel (each a sub-pixel-shifted 128-px view of the face) are swapped one by one, and their
outputs are interleaved back into one k x 128 crop (FaceFusion's "pixel boost")."""

from __future__ import annotations

import numpy as np

__all__ = ["explode", "implode"]


def explode(crops: np.ndarray, k: int) -> np.ndarray:
    """[N,S,S,C] -> [N*k*k,S/k,S/k,C]: face n's view (i, j) is ``crops[n, i::k, j::k]``, at index n*k*k + i*k + j."""
    n, size, _, c = crops.shape
    if size % k:
        raise ValueError(f"crop size {size} is not a multiple of {k}")
    s = size // k
    return crops.reshape(n, s, k, s, k, c).transpose(0, 2, 4, 1, 3, 5).reshape(n * k * k, s, s, c)


def implode(views: np.ndarray, k: int) -> np.ndarray:
    """The inverse of :func:`explode`: [N*k*k,s,s,C] -> [N,s*k,s*k,C]."""
    nkk, s, _, c = views.shape
    n = nkk // (k * k)
    return views.reshape(n, k, k, s, s, c).transpose(0, 3, 1, 4, 2, 5).reshape(n, s * k, s * k, c)
