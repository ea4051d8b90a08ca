"""Comparison helpers for extension-vs-reference tests."""

from __future__ import annotations

import torch

# Relative error bound (max |a - b| / max |b|) per dtype, as in kornia's tolerance tables.
REL_TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}


def rel_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual − expected| / max |expected| in float64 (0 when both are zero)."""
    a, e = actual.double(), expected.double()
    scale = e.abs().max().item()
    diff = (a - e).abs().max().item()
    return diff / scale if scale > 0 else diff


def assert_close_rel(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    err = rel_error(actual, expected)
    assert err <= REL_TOL[dtype], f"{what}: relative error {err:.3e} > {REL_TOL[dtype]:.0e} ({dtype})"


def make_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """Return the same values as contiguous, channels_last, or a non-contiguous view."""
    if layout == "contiguous":
        return t.contiguous()
    if layout == "channels_last":
        return t.contiguous(memory_format=torch.channels_last)
    if layout == "noncontiguous":
        # Values live in every other column of a wider buffer.
        wide = torch.zeros(*t.shape[:-1], t.shape[-1] * 2, dtype=t.dtype, device=t.device)
        wide[..., ::2] = t
        view = wide[..., ::2]
        assert not view.is_contiguous()
        return view
    raise ValueError(layout)


def assert_grads_match(
    call,
    inputs: tuple[torch.Tensor, ...],
    names: tuple[str, ...],
    layout: str,  # type: ignore[no-untyped-def]
    what: str,
) -> None:
    """Backpropagate one fixed upstream gradient through ``call(*inputs, impl=...)`` for the extension (float32)
    and the reference (in float64, so the comparison measures the kernel's rounding alone: long reductions on CUDA
    differ from a float32 reference by ~1e-5 from summation order) and compare every input's gradient (float32
    tolerance). The first input gets ``layout``."""
    grads = []
    for impl, dtype in (("ext", torch.float32), ("ref", torch.float64)):
        leaves = [make_layout(inputs[0].to(dtype, copy=True), layout).requires_grad_()]
        leaves += [t.to(dtype, copy=True).requires_grad_() for t in inputs[1:]]
        out = call(*leaves, impl=impl)
        upstream = torch.linspace(-1, 1, out.numel(), device=out.device, dtype=dtype).reshape(out.shape)
        (out * upstream).sum().backward()
        grads.append([leaf.grad for leaf in leaves])
    for name, got, want in zip(names, grads[0], grads[1], strict=True):
        assert_close_rel(got, want, torch.float32, f"grad_{name} {what}")
