"""Modulated convolution (StyleGAN2): how the source identity is injected into the generator's features."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from realtime.ops._dispatch import autocasting, choose_impl, ext_op, extension_loaded, needs_grad
from realtime.ops._layout import output_layout

__all__ = ["modulated_conv2d", "modulated_conv2d_ref"]


def _check(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, padding: int, eps: float) -> None:
    if x.dim() != 4:
        raise ValueError(f"modulated_conv2d: x must be [N,C,H,W], got shape {tuple(x.shape)}")
    if weight.dim() != 4 or weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"modulated_conv2d: weight must be [O,C,kH,kW] with C={x.shape[1]}, got shape {tuple(weight.shape)}"
        )
    if tuple(styles.shape) != (x.shape[0], x.shape[1]):
        raise ValueError(
            f"modulated_conv2d: styles must be [N,C]={(x.shape[0], x.shape[1])}, got {tuple(styles.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"modulated_conv2d: x must be a floating tensor, got {x.dtype}")
    for name, t in (("weight", weight), ("styles", styles)):
        if (t.dtype != x.dtype and not autocasting(x)) or t.device != x.device:
            raise TypeError(
                f"modulated_conv2d: {name} must match x's dtype and device ({x.dtype}, {x.device}), "
                f"got {t.dtype} on {t.device}"
            )
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"modulated_conv2d: padding must be an int >= 0, got {padding!r}")
    if eps < 0:
        raise ValueError(f"modulated_conv2d: eps must be >= 0, got {eps}")
    kh, kw = weight.shape[2:]
    if x.shape[2] + 2 * padding < kh or x.shape[3] + 2 * padding < kw:
        raise ValueError(
            f"modulated_conv2d: input {x.shape[2]}x{x.shape[3]} with padding {padding} is smaller than the "
            f"{kh}x{kw} kernel"
        )


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    padding: int = 0,
    eps: float = 1e-8,
    impl: str = "auto",
) -> torch.Tensor:
    """Convolve each sample with its own modulated (and optionally demodulated) weight.

    Args:
        x: [N,C,H,W] float16/bfloat16/float32/float64, any strides (channels_last keeps its layout).
        weight: [O,C,kH,kW] shared base weight, same dtype/device.
        styles: [N,C] per-sample input-channel scales (the identity vector after its affine layer).
        demodulate: divide each output channel by sqrt(Σ_{C,k}(w·s)² + eps), as StyleGAN2.
        padding: zero padding on every side (stride 1, no dilation).
        eps: added inside the square root of the demodulation.
        impl: "auto" (extension when loaded), "ext" or "ref".

    Returns:
        [N,O,H+2p−kH+1,W+2p−kW+1], x's dtype (autocast's under autocast). Half inputs accumulate in float32.
    """
    _check(x, weight, styles, padding, eps)
    if choose_impl(impl, "modulated_conv2d", x, needs_grad(x, weight, styles)) == "ref":
        return _reference(x, weight, styles, demodulate, padding, eps)
    return ext_op("modulated_conv2d")(x, weight, styles, demodulate, padding, eps)


def modulated_conv2d_ref(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    *,
    demodulate: bool = True,
    padding: int = 0,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Pure-PyTorch reference of :func:`modulated_conv2d`: StyleGAN2's literal per-sample weights + grouped conv."""
    _check(x, weight, styles, padding, eps)
    return _reference(x, weight, styles, demodulate, padding, eps)


def _reference(
    x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool, padding: int, eps: float
) -> torch.Tensor:
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    acc = torch.float64 if x.dtype == torch.float64 else torch.float32
    per_sample = weight.to(acc)[None] * styles.to(acc)[:, None, :, None, None]  # [N,O,C,kH,kW]
    if demodulate:
        per_sample = per_sample * (per_sample.square().sum(dim=(2, 3, 4)) + eps).rsqrt()[:, :, None, None, None]
    out = F.conv2d(
        x.reshape(1, n * c, h, w), per_sample.to(x.dtype).reshape(n * o, c, kh, kw), padding=padding, groups=n
    )
    return out.reshape(n, o, out.shape[2], out.shape[3]).contiguous(memory_format=output_layout(x))


def modulated_conv2d_traceable(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    eps: float = 1e-8,
) -> torch.Tensor:
    """The same operation as :func:`modulated_conv2d_ref`, written as scale - shared conv - rescale so that it
    traces with a symbolic batch size (the reference's grouped convolution fixes ``groups`` to the batch). Used for
    ONNX export; same shapes and dtypes as :func:`modulated_conv2d`."""
    y = F.conv2d(x * styles[:, :, None, None].to(x.dtype), weight, padding=padding)
    if demodulate:
        acc = torch.float64 if x.dtype == torch.float64 else torch.float32
        norm = (weight.to(acc).square().sum(dim=(2, 3))[None] * styles.to(acc).square()[:, None, :]).sum(dim=2)
        y = y * (norm + eps).rsqrt().to(x.dtype)[:, :, None, None]
    return y


if extension_loaded():

    @torch.library.register_fake("realtime::modulated_conv2d")
    def _fake_forward(x, weight, styles, demodulate, padding, eps):  # type: ignore[no-untyped-def]
        n, _, h, w = x.shape
        o, _, kh, kw = weight.shape
        out = x.new_empty((n, o, h + 2 * padding - kh + 1, w + 2 * padding - kw + 1))
        return out.contiguous(memory_format=output_layout(x))

    @torch.library.register_fake("realtime::modulated_conv2d_backward")
    def _fake_backward(grad_out, out, x, weight, styles, demodulate, padding, eps):  # type: ignore[no-untyped-def]
        return (
            torch.empty_like(x, memory_format=output_layout(x)),
            torch.empty_like(weight, memory_format=torch.contiguous_format),
            torch.empty_like(styles, memory_format=torch.contiguous_format),
        )

    def _setup_context(ctx, inputs, output):  # type: ignore[no-untyped-def]
        x, weight, styles, demodulate, padding, eps = inputs
        ctx.save_for_backward(x, weight, styles, output)
        ctx.config = (demodulate, padding, eps)

    def _backward(ctx, grad):  # type: ignore[no-untyped-def]
        x, weight, styles, out = ctx.saved_tensors
        grad_x, grad_w, grad_s = ext_op("modulated_conv2d_backward")(grad, out, x, weight, styles, *ctx.config)
        return grad_x, grad_w, grad_s, None, None, None

    torch.library.register_autograd("realtime::modulated_conv2d", _backward, setup_context=_setup_context)
