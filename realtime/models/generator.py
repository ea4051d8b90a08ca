"""The SimSwap-style swap generator: an encoder-decoder that keeps the target face's pose, expression and lighting
and takes the identity from a 512-d vector injected in its bottleneck blocks.

The architecture follows SimSwap (Chen et al., 2020): a 7x7 stem, stride-2 downsampling to 1/8 of the crop (1/16
at 512), identity blocks at 512 channels, bilinear upsampling, a 7x7 head with tanh. With the defaults
(``block="adain"``, ``conv="standard"``, ``width=64``) parameter names and shapes equal the official checkpoints'
(``latest_net_G.pth`` at 224, ``550000_net_G.pth`` at 512), so they load as they are. The research variants:

- ``block="modulated"``: identity blocks whose 3x3 convolutions are demodulated modulated convolutions
  (StyleGAN2-style) instead of conv + instance norm + AdaIN;
- ``conv="separable"``: depthwise-separable convolutions in the encoder, decoder and identity blocks, where SimSwap
  spends most of its compute (``bench/generator.py`` counts GFLOP per face; the bottleneck holds most of it);
- ``width``: channel multiplier (64 is SimSwap's), for small models in tests and quick training runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from realtime.faces.align import CROPS
from realtime.models.layers import (
    CONV_KINDS,
    ApplyStyle,
    DepthwiseConv2d,
    InstanceNorm,
    ModulatedConv2d,
    conv_layer,
)

__all__ = ["BLOCK_KINDS", "RESOLUTIONS", "VARIANTS", "GeneratorConfig", "SwapGenerator"]

RESOLUTIONS = (224, 256, 512)
BLOCK_KINDS = ("adain", "modulated")
VARIANTS = ("released", "trainpy")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class GeneratorConfig:
    """What :class:`SwapGenerator` builds. ``deep`` adds one more down/up stage (SimSwap's ``Gdeep``)."""

    resolution: int = 224
    id_blocks: int = 9
    block: str = "adain"
    conv: str = "standard"
    latent_dim: int = 512
    width: int = 64
    deep: bool = False
    crop: str = "auto"  # face crop the model works on: arcface, ffhq or simswap (auto: ffhq at 512, else arcface)
    # "released": input in [0,1], tanh head, output (x+1)/2, as SimSwap's released generators (models/fs_networks.py)
    # and ours. "trainpy": what SimSwap's current train.py trains (models/fs_networks_fix.py): input and output
    # normalised with ImageNet's mean and spread, no tanh. The weights' names and shapes are the same.
    variant: str = "released"

    def __post_init__(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if self.block not in BLOCK_KINDS:
            raise ValueError(f"block must be one of {BLOCK_KINDS}, got {self.block!r}")
        if self.conv not in CONV_KINDS:
            raise ValueError(f"conv must be one of {CONV_KINDS}, got {self.conv!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.crop not in ("auto", *CROPS):
            raise ValueError(f"crop must be auto or one of {CROPS}, got {self.crop!r}")
        if self.id_blocks < 0 or self.width < 2 or self.width % 2 or self.latent_dim < 1:
            raise ValueError(f"invalid generator size: {self}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def crop_name(self) -> str:
        """The alignment crop (see :func:`realtime.faces.align.alignment_matrix`) with ``auto`` resolved."""
        if self.crop != "auto":
            return self.crop
        return "ffhq" if self.resolution == 512 else "arcface"


class AdaINBlock(nn.Module):
    """SimSwap's identity block: two (conv 3x3, instance norm, AdaIN) stages with a ReLU between, plus the input.
    x [N,C,H,W], latent [N,latent_dim] -> [N,C,H,W]. Names match the official ``ResnetBlock_Adain``."""

    def __init__(self, dim: int, latent_dim: int, conv: str = "standard") -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.ReflectionPad2d(1), conv_layer(conv, dim, dim, 3), InstanceNorm())
        self.style1 = ApplyStyle(latent_dim, dim)
        self.act1 = nn.ReLU(True)
        self.conv2 = nn.Sequential(nn.ReflectionPad2d(1), conv_layer(conv, dim, dim, 3), InstanceNorm())
        self.style2 = ApplyStyle(latent_dim, dim)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.style1(self.conv1(x), latent))
        return x + self.style2(self.conv2(y), latent)


class ModulatedBlock(nn.Module):
    """Identity block on modulated convolution: two demodulated 3x3 modulated convs (identity-scaled weights) with
    a ReLU between, plus the input. With ``conv="separable"`` each becomes a 3x3 depthwise conv followed by a
    modulated 1x1. x [N,C,H,W], latent [N,latent_dim] -> [N,C,H,W]."""

    def __init__(self, dim: int, latent_dim: int, conv: str = "standard") -> None:
        super().__init__()
        k = 1 if conv == "separable" else 3
        self.spatial1 = DepthwiseConv2d(dim, 3, padding=1, padding_mode="reflect") if k == 1 else nn.Identity()
        self.conv1 = ModulatedConv2d(dim, dim, k, latent_dim)
        self.act1 = nn.ReLU(True)
        self.spatial2 = DepthwiseConv2d(dim, 3, padding=1, padding_mode="reflect") if k == 1 else nn.Identity()
        self.conv2 = ModulatedConv2d(dim, dim, k, latent_dim)

    def forward(self, x: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(self.spatial1(x), latent))
        return x + self.conv2(self.spatial2(y), latent)


def _down(conv: str, cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(conv_layer(conv, cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU(True))


def _up(conv: str, cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        conv_layer(conv, cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(True),
    )


class SwapGenerator(nn.Module):
    """target [N,3,R,R] float in [0,1] (an aligned crop, RGB) + identity [N,latent_dim] (L2-normalised ArcFace
    embedding of the source) -> swapped crop [N,3,R,R] in [0,1]. R is ``config.resolution``."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or GeneratorConfig()
        w, conv = cfg.width, cfg.conv
        big = cfg.resolution == 512  # one more stage at half width in front (SimSwap's 512 model)
        stem = w // 2 if big else w
        self.first_layer = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, stem, 7), nn.BatchNorm2d(stem), nn.ReLU(True)
        )
        if big:
            self.down0 = _down(conv, stem, w)
        self.down1, self.down2, self.down3 = _down(conv, w, 2 * w), _down(conv, 2 * w, 4 * w), _down(conv, 4 * w, 8 * w)
        if cfg.deep:
            self.down4 = _down(conv, 8 * w, 8 * w)
        block = AdaINBlock if cfg.block == "adain" else ModulatedBlock
        self.BottleNeck = nn.ModuleList(block(8 * w, cfg.latent_dim, conv) for _ in range(cfg.id_blocks))
        if cfg.deep:
            self.up4 = _up(conv, 8 * w, 8 * w)
        self.up3, self.up2, self.up1 = _up(conv, 8 * w, 4 * w), _up(conv, 4 * w, 2 * w), _up(conv, 2 * w, w)
        if big:
            self.up0 = _up(conv, w, stem)
        head = [nn.Tanh()] if cfg.variant == "released" else []
        self.last_layer = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(stem, 3, 7), *head)
        self.register_buffer("_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        # Progressive training runs only the first k identity blocks; inference always runs all of them
        # (save_generator drops the inactive ones from the file).
        self.active_id_blocks = cfg.id_blocks

    @property
    def stages(self) -> tuple[list[str], list[str]]:
        """Names of the down and up stages in order (e.g. for freezing the encoder in progressive training)."""
        big, deep = self.config.resolution == 512, self.config.deep
        down = ["down0"] * big + ["down1", "down2", "down3"] + ["down4"] * deep
        up = ["up4"] * deep + ["up3", "up2", "up1"] + ["up0"] * big
        return down, up

    def forward(self, target: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        down, up = self.stages
        trainpy = self.config.variant == "trainpy"
        x = self.first_layer((target - self._mean) / self._std if trainpy else target)
        for name in down:
            x = getattr(self, name)(x)
        for block in self.BottleNeck[: self.active_id_blocks]:
            x = block(x, identity)
        for name in up:
            x = getattr(self, name)(x)
        if trainpy:
            return self.last_layer(x) * self._std + self._mean
        return (self.last_layer(x) + 1) / 2
