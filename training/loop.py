"""The SimSwap training step and loop: generator and discriminator updates, masks, progressive identity blocks,
mixed precision, DDP, checkpoints that resume exactly, previews and logs.

One iteration: the generator swaps each target with its source's identity (the target's own identity on every
``same_every``-th step, a batch neighbour's otherwise); the discriminator takes one hinge step on real targets and
detached results; then the generator takes one step on identity + weak feature matching + reconstruction +
adversarial losses. With a ``mask`` both discriminator inputs are multiplied by the target's face mask,
faded in from ``mask_start`` over ``mask_ramp`` steps.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from realtime.errors import InputError
from realtime.io.files import TempOutput, file_sha256
from realtime.io.images import write_image
from realtime.models.checkpoint import load_state, save_generator, save_state
from realtime.models.encoder import IdentityEncoder
from realtime.models.generator import SwapGenerator
from realtime.models.identity import default_identity_model, load_identity_encoder
from training.config import TrainConfig
from training.data import LANDMARKS_FILE, IdentityFolders, PairDataset, StepBatchSampler
from training.discriminator import MultiScaleDiscriminator
from training.losses import feature_matching_loss, hinge_d_loss, hinge_g_loss, identity_loss, reconstruction_loss
from training.parsing import MASKS_FILE

__all__ = ["CHECKPOINT_FORMAT", "Trainer", "active_blocks", "mask_weight"]

CHECKPOINT_FORMAT = "realtime-train"
LOSS_NAMES = ("loss_d", "loss_g", "id", "feat", "rec", "adv")


def active_blocks(step: int, every: int, total: int) -> int:
    """Identity blocks in use at ``step``: all without progressive training, else 1 + step // every (at most all)."""
    return total if every == 0 else min(total, 1 + step // every)


def mask_weight(step: int, config: TrainConfig) -> float:
    """How much of the face mask the discriminator sees at ``step``: 0 before ``mask_start``, then ramps to 1."""
    if config.mask == "none" or step < config.mask_start:
        return 0.0
    return min(1.0, (step - config.mask_start + 1) / max(1, config.mask_ramp))


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


class Trainer:
    """Builds the models, optimisers and data for ``config`` (optionally from a checkpoint) and runs the steps.

    Args:
        config: the resolved configuration.
        resume: a checkpoint dict written by :meth:`save` (its weights, optimiser states and step are restored).
        quiet: no progress bar.
    """

    def __init__(self, config: TrainConfig, resume: dict[str, Any] | None = None, quiet: bool = False) -> None:
        self.config, self.quiet = config, quiet
        self.dist = Distributed.from_env()
        self.device = self._device()
        self.out = Path(config.out)
        self.folders = IdentityFolders.scan(config.data)
        if config.mask == "landmarks":
            self.folders.check_sidecar(LANDMARKS_FILE, "--mask landmarks", "python -m training.prepare")
        elif config.mask == "parsing":
            self.folders.check_sidecar(MASKS_FILE, "--mask parsing", "training.prepare --parsing-model")
        self.dataset = PairDataset(self.folders, config.resolution, config.augment, config.mask)

        self.encoder = self._encoder()  # before seeding: building it draws random numbers
        torch.manual_seed(config.seed)
        generator_config = dataclasses.replace(config.generator_config(), latent_dim=self.encoder.dim)
        self.generator = SwapGenerator(generator_config).to(self.device)
        self.discriminator = MultiScaleDiscriminator(config.d_scales, config.d_width).to(self.device)
        if config.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.amp == "fp16")
        self.start = 0
        if resume is not None:
            self._restore(resume)
        self.g_train: nn.Module = self.generator
        self.d_train: nn.Module = self.discriminator
        if self.dist.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            unused = config.progressive_every > 0  # inactive and frozen blocks get no gradient
            self.g_train = DistributedDataParallel(self.generator, device_ids=ids, find_unused_parameters=unused)
            self.d_train = DistributedDataParallel(self.discriminator, device_ids=ids)

    # -- setup ---------------------------------------------------------------------------------------------------
    def _device(self) -> torch.device:
        config = self.config
        cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
        if config.device == "cuda" and not torch.cuda.is_available():
            raise InputError("--device cuda but no CUDA GPU is visible")
        if cuda:
            torch.cuda.set_device(self.dist.local_rank)
            return torch.device("cuda", self.dist.local_rank)
        return torch.device("cpu")

    def _encoder(self) -> IdentityEncoder:
        """The frozen identity network: --identity-model, else the embedded dlib ResNet. The config records its
        resolved path and hash (evaluate finds the network by them, from any folder); a resumed run must use the
        very network it started with."""
        path = Path(self.config.identity_model or default_identity_model()).resolve()
        encoder = load_identity_encoder(path).to(self.device).eval()
        if encoder.crop[0] == "simswap":
            raise InputError("the identity model must be a plain ArcFace (.onnx, arcface_torch .pth) or dlib's .dat")
        digest = file_sha256(path)
        recorded = self.config.identity_sha256
        if recorded and recorded != digest:
            raise InputError(
                f"{path} is not the identity model this run started with (sha256 {digest[:12]}... vs "
                f"{recorded[:12]}...): resuming with another network would change what the run learns"
            )
        self.config = dataclasses.replace(self.config, identity_model=str(path), identity_sha256=digest)
        return encoder.requires_grad_(False)

    def _restore(self, state: dict[str, Any]) -> None:
        try:
            self.generator.load_state_dict(state["generator"])
            self.discriminator.load_state_dict(state["discriminator"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or ["?"])[0][:200]
            raise InputError(f"checkpoint does not match this configuration: {first}") from None
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_cpu"])
        self.start = int(state["step"])

    # -- one step ------------------------------------------------------------------------------------------------
    def _apply_progressive(self, step: int) -> None:
        """Active identity blocks for ``step``; with progressive training the encoder and all but the newest block
        are frozen (no gradient, batch-norm statistics fixed) once a second block is in."""
        g, every = self.generator, self.config.progressive_every
        k = active_blocks(step, every, self.config.id_blocks)
        g.active_id_blocks = k
        g.train()
        if every == 0:
            return
        down, _ = g.stages
        encoder = [g.first_layer, *(getattr(g, name) for name in down)]
        for i, block in enumerate(g.BottleNeck):
            block.requires_grad_(i == k - 1)
        for module in encoder:
            module.requires_grad_(k == 1)
            if k > 1:
                module.eval()

    def _masked(self, images: torch.Tensor, masks: torch.Tensor, weight: float) -> torch.Tensor:
        return images if weight == 0.0 else images * (1.0 - weight + weight * masks)

    def _autocast(self) -> torch.autocast:
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype, enabled=self.config.amp != "none")

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        """One discriminator and one generator update on ``batch`` (from :class:`PairDataset`) at ``step``
        (0-based); returns the losses as floats."""
        config = self.config
        fmt = torch.channels_last if config.channels_last else torch.contiguous_format
        target = batch["target"].to(self.device, non_blocking=True).contiguous(memory_format=fmt)
        source = batch["source"].to(self.device, non_blocking=True).contiguous(memory_format=fmt)
        masks, labels = batch["mask"].to(self.device), batch["label"].to(self.device)
        source_labels = labels
        if step % config.same_every != 0:  # cross-identity step: each target gets its neighbour's source
            source, source_labels = source.roll(1, 0), labels.roll(1, 0)
        same = labels == source_labels
        weight = mask_weight(step, config)
        self._apply_progressive(step)
        with torch.no_grad():
            source_id = self.encoder.embed_crops(source.float(), config.crop)

        with self._autocast():
            fake = self.g_train(target, source_id)
        # discriminator: real targets against detached results, in one forward (one DDP reduction)
        self.discriminator.requires_grad_(True)
        with self._autocast():
            both = self.d_train(self._masked(torch.cat([target, fake.detach()]), torch.cat([masks, masks]), weight))
            real_out = [[f[: len(target)] for f in scale] for scale in both]
            fake_out = [[f[len(target) :] for f in scale] for scale in both]
            loss_d = hinge_d_loss(real_out, fake_out)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        # generator: the discriminator is a fixed function here, so it runs unwrapped
        self.discriminator.requires_grad_(False)
        with self._autocast():
            fake_feats = self.discriminator(self._masked(fake, masks, weight))
            with torch.no_grad():
                real_feats = self.discriminator(self._masked(target, masks, weight))
            losses = {
                "id": identity_loss(self.encoder.embed_crops(fake.float(), config.crop), source_id),
                "feat": feature_matching_loss(fake_feats, real_feats, config.feat_layers),
                "rec": reconstruction_loss(fake.float(), target.float(), same),
                "adv": hinge_g_loss(fake_feats),
            }
            loss_g = (
                config.lambda_id * losses["id"]
                + config.lambda_feat * losses["feat"]
                + config.lambda_rec * losses["rec"]
                + config.lambda_adv * losses["adv"]
            )
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        for p in self.generator.parameters():
            if not p.requires_grad:  # DDP hands frozen parameters zero gradients; Adam's momentum would move them
                p.grad = None
        self.scaler.step(self.opt_g)
        self.scaler.update()
        values = {"loss_d": loss_d, "loss_g": loss_g, **losses}
        return {k: float(v.detach()) for k, v in values.items()}

    # -- run -----------------------------------------------------------------------------------------------------
    def loader(self) -> DataLoader:
        c = self.config
        sampler = StepBatchSampler(len(self.dataset), c.batch, c.seed, self.start, c.steps, self.dist.rank)
        return DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=c.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def run(self) -> dict[str, float]:
        """Train from ``self.start`` to ``config.steps``; checkpoints, previews and logs on rank 0. Returns the last
        step's losses."""
        c, main = self.config, self.dist.rank == 0
        if main:
            (self.out / "checkpoints").mkdir(parents=True, exist_ok=True)
        logger = _Logger(self.out, self.start) if main else None
        bar = tqdm(total=c.steps, initial=self.start, disable=self.quiet or not main, unit="step", dynamic_ncols=True)
        last: dict[str, float] = {}
        tic = time.perf_counter()
        batches = iter(self.loader())
        try:
            for step, batch in enumerate(batches, start=self.start):
                last = self.train_step(batch, step)
                done = step + 1
                if logger is not None and (done % c.log_every == 0 or done == c.steps):
                    rate = (done - self.start) / max(time.perf_counter() - tic, 1e-9)
                    logger.write(done, {**last, "blocks": self.generator.active_id_blocks, "steps_per_s": rate})
                    bar.set_postfix({k: f"{last[k]:.3f}" for k in ("loss_g", "loss_d", "id", "rec")})
                if main and (done % c.preview_every == 0 or done == c.steps):
                    self.preview(batch, done)
                if done % c.save_every == 0 or done == c.steps:
                    self.save(done)
                bar.update(1)
        finally:
            # Stop the loader's workers now. After an error (a bad image in a worker) the traceback keeps the
            # iterator alive until the garbage collector finds it, and its shutdown then waits ~5 s per worker:
            # a caller that goes on (a test, a notebook) stalls. DataLoader has no public close.
            shutdown = getattr(batches, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
            bar.close()
            if logger is not None:
                logger.close()
        return last

    @torch.no_grad()
    def preview(self, batch: dict[str, torch.Tensor], step: int) -> Path:
        """previews/step-NNNNNNN.jpg: rows of (source | target | result) for up to 4 cross-identity swaps of the
        batch, with the generator in eval mode."""
        target = batch["target"][:4].to(self.device)
        source = batch["source"].roll(1, 0)[:4].to(self.device)
        self.generator.eval()
        result = self.generator(target, self.encoder.embed_crops(source, self.config.crop)).float()
        self.generator.train()
        rows = torch.cat([torch.cat([s, t, r], dim=2) for s, t, r in zip(source, target, result, strict=True)], dim=1)
        grid = (rows.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        path = self.out / "previews" / f"step-{step:07d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, grid, synthetic=True)
        return path

    def save(self, step: int) -> Path | None:
        """checkpoints/step-NNNNNNN.pt (everything needed to resume) and generator.pt (the model for realtime.swap);
        rank 0 writes, every rank waits."""
        path = self.out / "checkpoints" / f"step-{step:07d}.pt"
        if self.dist.rank == 0:
            state = {
                "format": CHECKPOINT_FORMAT,
                "version": 1,
                "config": self.config.to_dict(),
                "step": step,
                "generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng_cpu": torch.get_rng_state(),
            }
            save_state(state, path)
            with TempOutput(self.out / "checkpoints" / "latest") as temp:
                temp.write_text(path.name + "\n")
            save_generator(self.out / "generator.pt", self.generator, step=step, training=self.config.to_dict())
        if self.dist.world > 1:
            dist.barrier()
        return path


def load_checkpoint(path: str | Path, out: str | None = None) -> dict[str, Any]:
    """A training checkpoint written by :meth:`Trainer.save` (``weights_only``); ``path`` may be ``auto`` (the run
    folder ``out``'s latest). InputError (one line) for anything else."""
    if str(path) == "auto":
        latest = Path(out or TrainConfig().out) / "checkpoints" / "latest"
        if not latest.is_file():
            raise InputError(f"--resume auto: no checkpoint in {latest.parent}")
        path = latest.parent / latest.read_text().strip()
    state = load_state(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a training checkpoint of python -m training.train")
    return state


class _Logger:
    """log.csv (rows after ``start`` from an earlier run are dropped on resume) and TensorBoard scalars."""

    def __init__(self, out: Path, start: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path = out / "log.csv"
        kept: list[dict[str, str]] = []
        if self.path.is_file():
            with self.path.open(newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= start]
        self.fields = ["step", "time", *LOSS_NAMES, "blocks", "steps_per_s"]
        self.file = self.path.open("w", newline="")
        self.csv = csv.DictWriter(self.file, self.fields)
        self.csv.writeheader()
        self.csv.writerows(kept)
        self.tensorboard = SummaryWriter(str(out / "tensorboard"), purge_step=start + 1 if start else None)

    def write(self, step: int, values: dict[str, float]) -> None:
        row = {"step": step, "time": f"{time.time():.3f}", **{k: f"{v:.6g}" for k, v in values.items()}}
        self.csv.writerow({k: row.get(k, "") for k in self.fields})
        self.file.flush()
        for name, value in values.items():
            self.tensorboard.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        self.file.close()
        self.tensorboard.close()
