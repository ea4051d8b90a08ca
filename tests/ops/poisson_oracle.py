"""Exact solution of the masked Poisson "normal clone" problem with a sparse direct solver (scipy), for tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def poisson_clone_exact(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """dst, src: float64 [C,H,W]; mask: bool [H,W] (not the whole frame). Returns float64 [C,H,W].

    For p in the mask: Σ_{q∈N(p)} (f_p − f_q) = Σ_{q∈N(p)} (src_p − src_q) with f_q = dst_q off the mask, N(p) the
    4-neighbours inside the frame. Outside the mask f = dst.
    """
    channels, h, w = dst.shape
    ys, xs = np.nonzero(mask)
    index = -np.ones((h, w), dtype=np.int64)
    index[ys, xs] = np.arange(len(ys))
    rows, cols, vals = [], [], []
    rhs = np.zeros((len(ys), channels))
    for k, (y, x) in enumerate(zip(ys, xs, strict=True)):
        degree = 0
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            qy, qx = y + dy, x + dx
            if not (0 <= qy < h and 0 <= qx < w):
                continue
            degree += 1
            rhs[k] += src[:, y, x] - src[:, qy, qx]
            if mask[qy, qx]:
                rows.append(k)
                cols.append(index[qy, qx])
                vals.append(-1.0)
            else:
                rhs[k] += dst[:, qy, qx]
        rows.append(k)
        cols.append(k)
        vals.append(float(degree))
    matrix = sp.csc_matrix((vals, (rows, cols)), shape=(len(ys), len(ys)))
    solution = spla.spsolve(matrix, rhs).reshape(len(ys), channels)
    out = dst.copy()
    out[:, ys, xs] = solution.T
    return out
