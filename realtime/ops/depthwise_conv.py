"""Depthwise 2-D convolution (one k×k filter per channel), the cheap half of a depthwise-separable conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from realtime.ops._dispatch import autocasting, choose_impl, ext_op, extension_loaded, needs_grad
from realtime.ops._layout import output_layout

__all__ = ["depthwise_conv2d", "depthwise_conv2d_ref"]

Pair = int | tuple[int, int]


def _pair(v: Pair, name: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(i, int) for i in pair):
        raise ValueError(f"depthwise_conv2d: {name} must be an int or a pair of ints, got {v!r}")
    return pair  # type: ignore[return-value]


def _check(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    if x.dim() != 4:
        raise ValueError(f"depthwise_conv2d: x must be [N,C,H,W], got shape {tuple(x.shape)}")
    if weight.dim() != 4 or weight.shape[0] != x.shape[1] or weight.shape[1] != 1:
        raise ValueError(
            f"depthwise_conv2d: weight must be [C,1,kH,kW] with C={x.shape[1]}, got shape {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"depthwise_conv2d: bias must be [C]=[{x.shape[1]}], got shape {tuple(bias.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"depthwise_conv2d: x must be a floating tensor, got {x.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and ((t.dtype != x.dtype and not autocasting(x)) or t.device != x.device):
            raise TypeError(
                f"depthwise_conv2d: {name} must match x's dtype and device ({x.dtype}, {x.device}), "
                f"got {t.dtype} on {t.device}"
            )


def depthwise_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Depthwise convolution.

    Args:
        x: [N,C,H,W] float16/bfloat16/float32/float64, any strides (channels_last keeps its layout).
        weight: [C,1,kH,kW], same dtype and device.
        bias: optional [C].
        stride, padding, dilation: int or (h, w) pair; padding is zero padding on both sides.
        impl: "auto" (extension when loaded), "ext" or "ref".

    Returns:
        [N,C,H',W'] with H' = (H + 2·pad − dil·(kH−1) − 1) // stride + 1 (likewise W'); x's dtype (autocast's
        under autocast).
    """
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    _check(x, weight, bias)
    if choose_impl(impl, "depthwise_conv2d", x, needs_grad(x, weight, bias)) == "ref":
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups=x.shape[1])
    return ext_op("depthwise_conv2d")(x, weight, bias, list(stride), list(padding), list(dilation))


def depthwise_conv2d_ref(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> torch.Tensor:
    """Pure-PyTorch reference of :func:`depthwise_conv2d` (a grouped ``F.conv2d``)."""
    return depthwise_conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation, impl="ref")


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


if extension_loaded():

    @torch.library.register_fake("realtime::depthwise_conv2d")
    def _fake_forward(x, weight, bias, stride, padding, dilation):  # type: ignore[no-untyped-def]
        n, c, h, w = x.shape
        kh, kw = weight.shape[2:]
        ho = _out_size(h, kh, stride[0], padding[0], dilation[0])
        wo = _out_size(w, kw, stride[1], padding[1], dilation[1])
        return x.new_empty((n, c, ho, wo)).contiguous(memory_format=output_layout(x))

    @torch.library.register_fake("realtime::depthwise_conv2d_backward")
    def _fake_backward(grad_out, x, weight, stride, padding, dilation):  # type: ignore[no-untyped-def]
        return torch.empty_like(x, memory_format=output_layout(x)), torch.empty_like(
            weight, memory_format=torch.contiguous_format
        )

    def _setup_context(ctx, inputs, output):  # type: ignore[no-untyped-def]
        x, weight, bias, stride, padding, dilation = inputs
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation)
        ctx.has_bias = bias is not None

    def _backward(ctx, grad):  # type: ignore[no-untyped-def]
        x, weight = ctx.saved_tensors
        grad_x, grad_w = ext_op("depthwise_conv2d_backward")(grad, x, weight, *ctx.geometry)
        grad_b = grad.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return grad_x, grad_w, grad_b, None, None, None

    torch.library.register_autograd("realtime::depthwise_conv2d", _backward, setup_context=_setup_context)
