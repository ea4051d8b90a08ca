"""Layers on the custom ops: modulated convolution (identity injection), depthwise-separable convolution, and
SimSwap's instance norm and AdaIN style application (kept parameter-compatible with the official checkpoints).

Layers that run a custom op have an ``impl`` attribute ("auto", "ext" or "ref", see :mod:`realtime.ops`);
:func:`set_ops_impl` sets it on a whole model, which is how tests compare the compiled kernels with the references.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from realtime.ops import depthwise_conv2d, modulated_conv2d
from realtime.ops.modulated_conv import modulated_conv2d_traceable

__all__ = [
    "ApplyStyle",
    "DepthwiseConv2d",
    "DepthwiseSeparableConv2d",
    "InstanceNorm",
    "ModulatedConv2d",
    "conv_layer",
    "set_ops_impl",
]

CONV_KINDS = ("standard", "separable")


class InstanceNorm(nn.Module):
    """Per-sample, per-channel normalisation without affine parameters (SimSwap's, eps 1e-8): x [N,C,H,W]."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - x.mean((2, 3), keepdim=True)
        return x * torch.rsqrt(x.square().mean((2, 3), keepdim=True) + self.eps)


class ApplyStyle(nn.Module):
    """AdaIN's modulation from the identity vector: x * (1 + scale) + shift, with (scale, shift) = linear(latent).

    x [N,C,H,W], latent [N,latent_dim] -> [N,C,H,W]. The parameter is named ``linear`` as in SimSwap."""

    def __init__(self, latent_dim: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, channels * 2)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        style = self.linear(latent).view(-1, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1.0) + style[:, 1]


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution driven by the identity vector, on ``realtime.ops.modulated_conv2d``.

    The per-sample input-channel scales are ``affine(latent)`` (initialised to 1); with ``demodulate`` each output
    channel is renormalised, which replaces instance norm + AdaIN. Stride 1, 'same' size, reflection or zero padding.
    x [N,in,H,W], latent [N,latent_dim] -> [N,out,H,W].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        latent_dim: int,
        demodulate: bool = True,
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.affine = nn.Linear(latent_dim, in_channels)
        nn.init.normal_(self.affine.weight, std=1.0 / math.sqrt(latent_dim))
        nn.init.ones_(self.affine.bias)
        self.demodulate, self.padding_mode, self.pad = demodulate, padding_mode, kernel_size // 2
        self.impl = "auto"

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        styles = self.affine(latent)
        if self.padding_mode == "reflect":
            x = F.pad(x, [self.pad] * 4, mode="reflect")
            padding = 0
        else:
            padding = self.pad
        if torch.onnx.is_in_onnx_export():  # a graph with a dynamic batch: see modulated_conv2d_traceable
            y = modulated_conv2d_traceable(x, self.weight, styles, self.demodulate, padding)
        else:
            y = modulated_conv2d(x, self.weight, styles, demodulate=self.demodulate, padding=padding, impl=self.impl)
        return y + self.bias.to(y.dtype).view(1, -1, 1, 1)  # y is in autocast's dtype under autocast


class DepthwiseConv2d(nn.Module):
    """A k x k depthwise convolution on ``realtime.ops.depthwise_conv2d`` (one filter per channel, no bias), with
    zero or reflection padding. x [N,C,H,W] -> [N,C,H',W']."""

    def __init__(
        self, channels: int, kernel_size: int, stride: int = 1, padding: int = 0, padding_mode: str = "zeros"
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, 1, kernel_size, kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.stride, self.padding, self.padding_mode = stride, padding, padding_mode
        self.impl = "auto"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = self.padding
        if self.padding_mode == "reflect" and padding:
            x, padding = F.pad(x, [padding] * 4, mode="reflect"), 0
        return depthwise_conv2d(x, self.weight, stride=self.stride, padding=padding, impl=self.impl)


class DepthwiseSeparableConv2d(nn.Module):
    """:class:`DepthwiseConv2d` followed by a 1x1 pointwise convolution: a drop-in for
    ``nn.Conv2d(in, out, k, stride, padding)`` at about (1/out + 1/k^2) of its multiply-adds.
    x [N,in,H,W] -> [N,out,H',W']."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        self.depthwise = DepthwiseConv2d(in_channels, kernel_size, stride, padding, padding_mode)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def conv_layer(
    kind: str, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
) -> nn.Module:
    """``nn.Conv2d`` for kind 'standard', :class:`DepthwiseSeparableConv2d` for 'separable' (same arguments)."""
    if kind == "standard":
        return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
    if kind == "separable":
        return DepthwiseSeparableConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
    raise ValueError(f"conv kind must be one of {CONV_KINDS}, got {kind!r}")


def set_ops_impl(model: nn.Module, impl: str) -> nn.Module:
    """Make every custom-op layer of ``model`` use ``impl`` ("auto", "ext" or "ref"); returns the model."""
    if impl not in ("auto", "ext", "ref"):
        raise ValueError(f"impl must be auto, ext or ref, got {impl!r}")
    for module in model.modules():
        if isinstance(module, ModulatedConv2d | DepthwiseConv2d):
            module.impl = impl
    return model
