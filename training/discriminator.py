"""SimSwap's discriminator: multi-scale PatchGAN (pix2pixHD), each scale returning its intermediate features for the
weak feature-matching loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiScaleDiscriminator", "PatchDiscriminator"]


class PatchDiscriminator(nn.Module):
    """images [N,3,H,W] in [0,1] -> list of features, the last being patch logits [N,1,~H/8,~W/8] (unbounded).

    4x4 convolutions: a stride-2 input layer, ``layers - 1`` stride-2 layers doubling the width (up to 8x),
    one stride-1 layer, then the 1-channel logits; instance norm and LeakyReLU(0.2) between, spectral norm on every
    convolution for a stable hinge loss."""

    def __init__(self, width: int = 64, layers: int = 3) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        blocks: list[nn.Module] = [nn.Sequential(sn(nn.Conv2d(3, width, 4, 2, 2)), nn.LeakyReLU(0.2, True))]
        channels = width
        for i in range(1, layers + 1):
            out = width * min(2**i, 8)
            stride = 2 if i < layers else 1
            blocks.append(
                nn.Sequential(
                    sn(nn.Conv2d(channels, out, 4, stride, 2)), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)
                )
            )
            channels = out
        blocks.append(nn.Sequential(sn(nn.Conv2d(channels, 1, 4, 1, 2))))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x * 2.0 - 1.0
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """``scales`` PatchDiscriminators on the image and its 2x, 4x ... average-pooled versions:
    images [N,3,H,W] in [0,1] -> one feature list per scale (see :class:`PatchDiscriminator`)."""

    def __init__(self, scales: int = 2, width: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(width, layers) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outputs = []
        for i, scale in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(scale(x))
        return outputs
