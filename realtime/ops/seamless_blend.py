"""Seamless (Poisson) blending: paste ``src`` into ``dst`` inside a mask without seams.

Inside the mask Ω the result ``f`` solves Pérez et al.'s "normal clone" problem on the 4-neighbour grid::

    Σ_{q∈N(p)} (f_p - f_q) = Σ_{q∈N(p)} (src_p - src_q)     for p ∈ Ω
    f_q = dst_q                                              for q ∉ Ω

where N(p) are the neighbours of p inside the frame (so masks touching the frame border get a natural
Neumann condition there). Outside Ω the result is ``dst`` exactly, and nothing is re-centred, so content never
shifts. Writing ``f = src + u`` turns this into a membrane problem: ``u`` is harmonic in Ω with ``u = dst - src``
on the boundary, which is smooth and therefore ideal for multigrid.

The solver is multigrid-preconditioned conjugate gradient (cell-centred, piecewise-constant transfer, symmetric
red-black Gauss-Seidel smoothing) confined to the mask's bounding box plus one pixel; it stops on a relative
residual ``‖r‖₂ ≤ rtol·‖b‖₂``. The extension runs the same algorithm with fused kernels; this file holds the
public entry point and the pure-PyTorch reference, which is both the fallback and the algorithm's specification.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from realtime.ops._dispatch import choose_impl, ext_op, extension_loaded

__all__ = ["BlendNotConvergedWarning", "seamless_blend", "seamless_blend_ref"]

DEFAULT_RTOL = 1e-4
DEFAULT_MAX_ITER = 200
_SMOOTH_SWEEPS = 2
_COARSEST = 4  # stop coarsening once both sides are at most this many cells


class BlendNotConvergedWarning(RuntimeWarning):
    """The Poisson solve hit ``max_iter`` before reaching ``rtol``; the result is the last iterate."""


def _check(dst: torch.Tensor, src: torch.Tensor, mask: torch.Tensor, rtol: float, max_iter: int) -> None:
    if dst.dim() != 4:
        raise ValueError(f"seamless_blend: dst must be [N,C,H,W], got shape {tuple(dst.shape)}")
    if src.shape != dst.shape:
        raise ValueError(f"seamless_blend: src shape {tuple(src.shape)} must equal dst shape {tuple(dst.shape)}")
    n, _, h, w = dst.shape
    if mask.shape != (n, 1, h, w):
        raise ValueError(f"seamless_blend: mask must be [N,1,H,W] = {(n, 1, h, w)}, got {tuple(mask.shape)}")
    if not dst.is_floating_point() or src.dtype != dst.dtype:
        raise TypeError(f"seamless_blend: dst and src must share one floating dtype, got {dst.dtype} and {src.dtype}")
    if not (mask.is_floating_point() or mask.dtype in (torch.bool, torch.uint8)):
        raise TypeError(f"seamless_blend: mask must be float, bool or uint8, got {mask.dtype}")
    if src.device != dst.device or mask.device != dst.device:
        raise ValueError(
            f"seamless_blend: dst, src and mask must be on one device, got {dst.device}, {src.device}, {mask.device}"
        )
    if not 0.0 < rtol < 1.0:
        raise ValueError(f"seamless_blend: rtol must be in (0, 1), got {rtol}")
    if max_iter < 1:
        raise ValueError(f"seamless_blend: max_iter must be >= 1, got {max_iter}")


def binarize_mask(mask: torch.Tensor) -> torch.Tensor:
    """[N,1,H,W] float/bool/uint8 mask → uint8 0/1 (float masks are thresholded at 0.5, uint8 at 128 if > 1)."""
    if mask.dtype == torch.bool:
        return mask.to(torch.uint8)
    if mask.dtype == torch.uint8:
        return (mask >= 128).to(torch.uint8) if int(mask.max()) > 1 else mask.contiguous()
    return (mask > 0.5).to(torch.uint8)


def seamless_blend(
    dst: torch.Tensor,
    src: torch.Tensor,
    mask: torch.Tensor,
    *,
    rtol: float = DEFAULT_RTOL,
    max_iter: int = DEFAULT_MAX_ITER,
    impl: str = "auto",
) -> torch.Tensor:
    """Poisson-blend ``src`` into ``dst`` inside ``mask``.

    Args:
        dst: [N,C,H,W] floating frame that receives the paste (any value range; [0,1] or [0,255] typical).
        src: [N,C,H,W] same dtype/device, already in ``dst``'s pixel coordinates (e.g. a warped face).
        mask: [N,1,H,W] float (thresholded at 0.5), bool, or uint8 (0/1 or 0/255).
        rtol: relative residual ‖r‖₂/‖b‖₂ at which the solve stops, per image and channel.
        max_iter: conjugate-gradient iteration cap; reaching it emits :class:`BlendNotConvergedWarning`.
        impl: ``"auto"`` (extension when loaded, else reference with a one-time warning), ``"ext"`` or ``"ref"``.

    Returns:
        [N,C,H,W] tensor of ``dst``'s dtype: ``dst`` outside the mask, the Poisson solution inside.
    """
    out, stats = seamless_blend_stats(dst, src, mask, rtol=rtol, max_iter=max_iter, impl=impl)
    _warn_if_not_converged(stats, rtol, max_iter)
    return out


def seamless_blend_ref(
    dst: torch.Tensor,
    src: torch.Tensor,
    mask: torch.Tensor,
    *,
    rtol: float = DEFAULT_RTOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> torch.Tensor:
    """Pure-PyTorch reference of :func:`seamless_blend` (same arguments and result)."""
    return seamless_blend(dst, src, mask, rtol=rtol, max_iter=max_iter, impl="ref")


def seamless_blend_stats(
    dst: torch.Tensor,
    src: torch.Tensor,
    mask: torch.Tensor,
    *,
    rtol: float = DEFAULT_RTOL,
    max_iter: int = DEFAULT_MAX_ITER,
    impl: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`seamless_blend` but returns ``(out, stats)`` without warning; stats is float64 [N,C,2] =
    (conjugate-gradient iterations, final relative residual) per image and channel, on ``dst``'s device."""
    _check(dst, src, mask, rtol, max_iter)
    binary = binarize_mask(mask)
    if choose_impl(impl, "seamless_blend", dst) == "ref":
        return _blend_ref_with_stats(dst, src, binary, rtol, max_iter)
    return ext_op("seamless_blend")(dst.contiguous(), src.contiguous(), binary, rtol, max_iter)


def _warn_if_not_converged(stats: torch.Tensor, rtol: float, max_iter: int) -> None:
    residuals = stats[..., 1].cpu()
    if residuals.numel() and bool((residuals > rtol).any()):
        worst = float(residuals.max())
        warnings.warn(
            f"seamless_blend: Poisson solve stopped at max_iter={max_iter} with relative residual {worst:.2e} > "
            f"rtol={rtol:.0e}; raise max_iter or rtol",
            BlendNotConvergedWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------------------------------------------
# Reference solver. Grids are [C,h,w] tensors of the accumulation dtype; "labels" are two bool [h,w] planes:
# present (inside the frame: counts in the stencil's diagonal) and unknown (inside Ω: solved for).


def _accum_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _neighbour_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of the 4 neighbours of every cell of [..., h, w]; cells outside the grid count as 0."""
    p = F.pad(x, (1, 1, 1, 1))
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]


class _Level:
    def __init__(self, present: torch.Tensor, unknown: torch.Tensor, dtype: torch.dtype) -> None:
        self.present, self.unknown = present, unknown
        self.u = unknown.to(dtype)
        self.deg = _neighbour_sum(present.to(dtype)).clamp_min(1.0)
        h, w = present.shape
        parity = (torch.arange(h, device=present.device)[:, None] + torch.arange(w, device=present.device)) % 2
        self.colour = [unknown & (parity == 0), unknown & (parity == 1)]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """A·x restricted to unknown cells (x is zero off Ω)."""
        return (self.deg * x - _neighbour_sum(x)) * self.u

    def smooth(self, x: torch.Tensor, b: torch.Tensor, order: tuple[int, int]) -> None:
        for colour in order:
            update = (b + _neighbour_sum(x)) / self.deg
            x.copy_(torch.where(self.colour[colour], update, x))

    def coarsen(self) -> _Level:
        def pool(m: torch.Tensor) -> torch.Tensor:
            return F.max_pool2d(m[None].float(), 2, ceil_mode=True)[0] > 0

        return _Level(pool(self.present), pool(self.unknown), self.u.dtype)


def _restrict(r: torch.Tensor) -> torch.Tensor:
    h, w = r.shape[-2:]
    r = F.pad(r, (0, w % 2, 0, h % 2))
    return r.reshape(r.shape[0], (h + 1) // 2, 2, (w + 1) // 2, 2).sum(dim=(2, 4))


def _prolong(e: torch.Tensor, fine: _Level) -> torch.Tensor:
    h, w = fine.present.shape
    return e.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[..., :h, :w] * fine.u


def _vcycle(levels: list[_Level], depth: int, b: torch.Tensor) -> torch.Tensor:
    level = levels[depth]
    x = torch.zeros_like(b)
    if depth == len(levels) - 1:
        for _ in range(16):
            level.smooth(x, b, (0, 1))
            level.smooth(x, b, (1, 0))
        return x
    for _ in range(_SMOOTH_SWEEPS):
        level.smooth(x, b, (0, 1))
    r = b - level.apply(x)
    x += _prolong(_vcycle(levels, depth + 1, _restrict(r)), level)
    for _ in range(_SMOOTH_SWEEPS):
        level.smooth(x, b, (1, 0))
    return x


def _hierarchy(unknown: torch.Tensor, dtype: torch.dtype) -> list[_Level]:
    levels = [_Level(torch.ones_like(unknown), unknown, dtype)]
    while max(levels[-1].present.shape) > _COARSEST:
        levels.append(levels[-1].coarsen())
    return levels


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=(-2, -1), dtype=torch.float64)


def _pcg(levels: list[_Level], b: torch.Tensor, rtol: float, max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve A u = b per channel; returns u [C,h,w] and stats [C,2] = (iterations, ‖r‖/‖b‖)."""
    top = levels[0]
    x = torch.zeros_like(b)
    r = b.clone()
    b_norm = _dot(b, b).sqrt()
    stats = torch.zeros(b.shape[0], 2, dtype=torch.float64)
    active = b_norm > 0
    rel = torch.where(active, torch.ones_like(b_norm), torch.zeros_like(b_norm))
    z = _vcycle(levels, 0, r)
    p = z.clone()
    rz = _dot(r, z)
    it = 0
    while bool(active.any()) and it < max_iter:
        it += 1
        ap = top.apply(p)
        alpha = torch.where(active, rz / _dot(p, ap).clamp_min(1e-300), torch.zeros_like(rz))
        x += alpha.to(b.dtype)[:, None, None] * p
        r -= alpha.to(b.dtype)[:, None, None] * ap
        rel = torch.where(active, _dot(r, r).sqrt() / b_norm.clamp_min(1e-300), rel)
        stats[:, 0] += active.double().cpu()
        active = active & (rel > rtol)
        if not bool(active.any()):
            break
        z = _vcycle(levels, 0, r)
        rz_new = _dot(r, z)
        beta = torch.where(active, rz_new / rz.clamp_min(1e-300), torch.zeros_like(rz))
        rz = rz_new
        p = z + beta.to(b.dtype)[:, None, None] * p
    stats[:, 1] = rel.cpu()
    return x, stats


def _bbox(m: torch.Tensor) -> tuple[int, int, int, int] | None:
    rows = torch.nonzero(m.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(m.any(dim=0)).flatten()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _blend_ref_with_stats(
    dst: torch.Tensor, src: torch.Tensor, mask: torch.Tensor, rtol: float, max_iter: int
) -> tuple[torch.Tensor, torch.Tensor]:
    n, c, height, width = dst.shape
    acc = _accum_dtype(dst.dtype)
    out = dst.clone()
    stats = torch.zeros(n, c, 2, dtype=torch.float64)
    for i in range(n):
        m = mask[i, 0] > 0
        box = _bbox(m)
        if box is None:
            continue
        y0, y1 = max(box[0] - 1, 0), min(box[1] + 1, height)
        x0, x1 = max(box[2] - 1, 0), min(box[3] + 1, width)
        unknown = m[y0:y1, x0:x1]
        d = dst[i, :, y0:y1, x0:x1].to(acc)
        s = src[i, :, y0:y1, x0:x1].to(acc)
        if bool(unknown.all()):
            # The mask covers the whole frame: no Dirichlet boundary, so the solution is src up to a constant;
            # take the constant that keeps dst's mean.
            u = (d - s).mean(dim=(-2, -1), keepdim=True).expand_as(s)
        else:
            levels = _hierarchy(unknown, acc)
            outside = (~unknown).to(acc)
            b = _neighbour_sum((d - s) * outside) * levels[0].u
            u, stats[i] = _pcg(levels, b, rtol, max_iter)
        blended = torch.where(unknown, s + u, d)
        out[i, :, y0:y1, x0:x1] = blended.to(dst.dtype)
    return out, stats.to(dst.device)


if extension_loaded():

    @torch.library.register_fake("realtime::seamless_blend")
    def _fake_blend(dst, src, mask, rtol, max_iter):  # type: ignore[no-untyped-def]
        n, c = dst.shape[:2]
        return torch.empty_like(dst, memory_format=torch.contiguous_format), dst.new_empty(
            (n, c, 2), dtype=torch.float64
        )
