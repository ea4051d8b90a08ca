"""The training configuration: one dataclass whose fields are the command-line options of ``python -m training.train``.

Defaults follow SimSwap's 224 training (Adam lr 4e-4, betas (0, 0.99), identity weight 30, feature matching 10,
reconstruction 10, every other step a same-identity step). The resolved config is printed by ``--dry-run`` and
stored in every checkpoint; ``--resume`` takes it back from there.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from realtime.faces.align import TEMPLATES
from realtime.models.generator import BLOCK_KINDS, RESOLUTIONS, GeneratorConfig
from realtime.models.layers import CONV_KINDS

__all__ = ["AMP_MODES", "MASK_MODES", "TrainConfig", "add_config_arguments", "config_from_args"]

AMP_MODES = ("none", "bf16", "fp16")
MASK_MODES = ("none", "landmarks", "parsing")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Paths are stored as strings so the config is plain data."""

    data: str = ""  # root/<identity>/*.jpg|png, aligned crops (see python -m training.prepare)
    out: str = "runs/simswap"  # checkpoints/, previews/, log.csv, tensorboard/
    identity_model: str = ""  # ArcFace .onnx/.pth or dlib .dat (frozen); empty: embedded dlib ResNet; stored resolved
    identity_sha256: str = field(default="", metadata={"cli": False})  # its hash, recorded when training starts
    # generator (realtime.models.GeneratorConfig)
    resolution: int = 224
    crop: str = "arcface"  # the template the data is aligned with: arcface or ffhq
    block: str = "adain"
    conv: str = "standard"
    id_blocks: int = 9
    width: int = 64
    # optimisation
    steps: int = 100_000
    batch: int = 8
    lr_g: float = 4e-4
    lr_d: float = 4e-4
    beta1: float = 0.0
    beta2: float = 0.99
    # losses (SimSwap's weights)
    lambda_id: float = 30.0
    lambda_feat: float = 10.0
    lambda_rec: float = 10.0
    lambda_adv: float = 1.0
    feat_layers: int = 2  # weak feature matching: the last N discriminator layers of each scale
    same_every: int = 2  # every N-th step pairs each target with its own identity (reconstruction loss)
    d_scales: int = 2
    d_width: int = 64
    # research options
    mask: str = "none"  # landmarks or parsing: keep the background out of the discriminator's input
    mask_start: int = 10_000  # steps without the mask, so the generator learns the background first
    mask_ramp: int = 10_000  # steps over which the mask fades in
    progressive_every: int = 0  # > 0: start with one identity block and add one every N steps
    # machinery
    device: str = "auto"
    amp: str = "none"
    channels_last: bool = False
    workers: int = 2
    seed: int = 0
    log_every: int = 10
    save_every: int = 1000
    preview_every: int = 500
    augment: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.crop in TEMPLATES, f"crop must be one of {sorted(TEMPLATES)}"),
            (self.amp in AMP_MODES, f"amp must be one of {AMP_MODES}"),
            (self.mask in MASK_MODES, f"mask must be one of {MASK_MODES}"),
            (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
            (self.steps >= 1 and self.batch >= 2, "steps must be >= 1 and batch >= 2 (cross-identity pairs)"),
            (self.same_every >= 1 and self.d_scales >= 1 and self.feat_layers >= 1, "invalid loss schedule"),
            (min(self.log_every, self.save_every, self.preview_every) >= 1, "*_every must be >= 1"),
            (self.progressive_every >= 0 and self.workers >= 0, "progressive_every and workers must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self.generator_config()  # resolution, block, conv, width: GeneratorConfig's own checks

    def generator_config(self) -> GeneratorConfig:
        return GeneratorConfig(
            resolution=self.resolution,
            id_blocks=self.id_blocks,
            block=self.block,
            conv=self.conv,
            width=self.width,
            crop=self.crop,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


_CHOICES = {"crop": sorted(TEMPLATES), "block": BLOCK_KINDS, "conv": CONV_KINDS, "amp": AMP_MODES,
            "mask": MASK_MODES, "device": ("auto", "cpu", "cuda"), "resolution": RESOLUTIONS}  # fmt: skip
_HELP = {
    "data": "dataset root: one folder of aligned face crops per identity",
    "out": "run folder (checkpoints/, previews/, log.csv, tensorboard/)",
    "identity_model": "frozen identity network of the identity loss: ArcFace (.onnx or arcface_torch .pth) or dlib's "
    ".dat (default: the embedded dlib face-recognition ResNet, 128-d)",
    "crop": "template the crops are aligned with (python -m training.prepare writes it)",
    "mask": "mask the background out of the discriminator's input with the landmark hull or a parsing model's mask "
    "(python -m training.prepare writes both)",
    "progressive_every": "start with one identity block, add one every N steps (earlier blocks frozen)",
    "amp": "mixed precision (autocast; fp16 adds loss scaling); meant for CUDA, also runs on the CPU",
    "same_every": "every N-th step is a same-identity step with the reconstruction loss",
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field (``--lambda-id``, ``--channels-last`` ...), defaulting to None so that
    only what the user typed overrides a resumed run's config."""
    hints = typing.get_type_hints(TrainConfig)
    group = parser.add_argument_group("training configuration (defaults: SimSwap 224)")
    for f in fields(TrainConfig):
        if not f.metadata.get("cli", True):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        help_text = f"{_HELP.get(f.name, '')} (default: {default})".strip()
        if hints[f.name] is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        kind = hints[f.name]
        kind = kind if not isinstance(kind, types.UnionType) else str
        group.add_argument(flag, type=kind, choices=_CHOICES.get(f.name), default=None, help=help_text)


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (the defaults, or a resumed checkpoint's config) with every option the user gave applied."""
    values = (base or TrainConfig()).to_dict()
    for f in fields(TrainConfig):
        given = getattr(args, f.name, None)
        if given is not None:
            values[f.name] = str(given) if isinstance(given, Path) else given
    return TrainConfig(**values)
