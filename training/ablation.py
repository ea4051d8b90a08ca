"""The seed experiments of the research, made repeatable: what each variant changes, how its run is launched and
measured, and the table, curves and previews that compare them (``python -m training.ablate`` drives it).

Every variant trains from the same base configuration, seed and data order; it differs from the baseline in one
thing only (:data:`VARIANTS`). Each run is a ``python -m training.train`` process of its own, so its step times are
not coloured by another run's threads; inference times are measured afterwards, all generators interleaved in one
process (round-robin, median per variant).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from realtime.io.files import TempOutput
from realtime.io.images import write_image
from realtime.io.sheet import labelled_sheet
from training.config import TrainConfig

__all__ = ["VARIANTS", "Variant", "inference_times", "loss_curves", "markdown_table", "preview_sheet", "step_time",
           "train_command", "variant_config"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Variant:
    """One experiment: its name, what it changes (as the research describes it), and its config overrides for a
    base config (the cleaned dataset path is given for "cleaned")."""

    name: str
    change: str
    overrides: Callable[[TrainConfig, str], dict[str, Any]]


VARIANTS = {v.name: v for v in (
    Variant("baseline", "SimSwap's generator (AdaIN identity blocks, standard convs)", lambda c, d: {}),
    Variant("mask", "discriminator sees only the face (landmark mask, faded in over the second quarter)",
            lambda c, d: {"mask": "landmarks", "mask_start": c.steps // 4, "mask_ramp": max(1, c.steps // 4)}),
    Variant("modulated", "identity by modulated convolution", lambda c, d: {"block": "modulated"}),
    Variant("separable", "depthwise-separable convolutions", lambda c, d: {"conv": "separable"}),
    Variant("progressive", "identity blocks added one at a time (all in by the last step)",
            lambda c, d: {"progressive_every": max(1, c.steps // max(1, c.id_blocks))}),
    Variant("cleaned", "identity outliers moved out of the data (training.outliers)", lambda c, d: {"data": d}),
)}  # fmt: skip


def variant_config(base: TrainConfig, name: str, out: Path, cleaned_data: str) -> TrainConfig:
    """The config of variant ``name``: ``base`` with the variant's overrides, its own run folder ``out/name``, a
    log row every step (for step times), and checkpoints often enough that an interrupted run loses little."""
    values = base.to_dict()
    values.update(out=str(out / name), log_every=1, save_every=min(base.save_every, max(1, base.steps // 4)),
                  preview_every=min(base.preview_every, base.steps))  # fmt: skip
    values.update(VARIANTS[name].overrides(base, cleaned_data))
    return TrainConfig(**values)


def train_command(config: TrainConfig, resume: bool, quiet: bool) -> list[str]:
    """The ``python -m training.train`` argv that trains ``config`` (or continues it, with ``resume``)."""
    argv = [sys.executable, "-m", "training.train", "--out", config.out, "--steps", str(config.steps)]
    if resume:
        return [*argv, "--resume", "auto", *(["--quiet"] if quiet else [])]
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        value = getattr(config, f.name)
        if not f.metadata.get("cli", True) or f.name in ("out", "steps") or value == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    return [*argv, *(["--quiet"] if quiet else [])]


def _log(run: Path) -> list[dict[str, str]]:
    path = run / "log.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def step_time(run: Path) -> float:
    """Median seconds per training step of run folder ``run`` (from log.csv rows one step apart, the first two left
    out as warm-up; a resumed run's gap is one outlier the median ignores). NaN without two such rows."""
    rows = _log(run)
    deltas = [float(b["time"]) - float(a["time"]) for a, b in itertools.pairwise(rows)
              if int(b["step"]) == int(a["step"]) + 1]  # fmt: skip
    deltas = deltas[2:] if len(deltas) > 4 else deltas
    return statistics.median(deltas) if deltas else float("nan")


def inference_times(models: dict[str, Path], device: str, rounds: int = 7) -> dict[str, float]:
    """Median seconds of one generator forward (batch 1, at each model's resolution, its identity size) per model,
    measured round-robin so every model sees the same machine state; CUDA timings are synchronised."""
    from realtime.models.checkpoint import load_generator

    target = torch.device("cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    nets, inputs = {}, {}
    for name, path in models.items():
        net = load_generator(path).to(target).eval()
        size, dim = net.config.resolution, net.config.latent_dim
        nets[name], inputs[name] = net, (torch.rand(1, 3, size, size, device=target), torch.rand(1, dim, device=target))
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for round_ in range(rounds + 1):
            for name, net in nets.items():
                if target.type == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                net(*inputs[name])
                if target.type == "cuda":
                    torch.cuda.synchronize()
                if round_:  # round 0 warms every model up
                    times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _percent(value: float, base: float) -> str:
    if not (np.isfinite(value) and np.isfinite(base)) or base == 0:
        return "n/a"
    return f"{100.0 * (value - base) / base:+.1f} %"


def markdown_table(results: dict[str, dict[str, Any]], metric: str, independent: bool) -> str:
    """The research's table: per variant the identity distance and its change vs the baseline (positive: closer
    to the donor), landmark error, and train-step and inference times with their change (positive: slower)."""
    base = results.get("baseline", {})
    lines = ["# Ablation", "",
             f"Identity distance: mean cosine distance of each swap to its donor by {metric}, lower is better; "
             "change vs baseline as the research reports it, positive when the identity is closer."
             + ("" if independent else " **The score's network is the training network: not an independent "
                "score (pass --metric-model).**"),
             "Times: median per training step and per generator forward; change vs baseline, positive when slower.",
             "", "| variant | change | ID distance | vs baseline | landmark NME | train step | vs baseline | "
             "inference | vs baseline |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in results.items():
        distance = r["distance"]
        change = "n/a" if name == "baseline" or "distance" not in base else (
            f"{100.0 * (base['distance'] - distance) / base['distance']:+.2f} %")  # fmt: skip
        lines.append(
            f"| {name} | {VARIANTS[name].change} | {distance:.4f} | {change} | {r['nme']:.4f} | "
            f"{1000 * r['step_s']:.1f} ms | {_percent(r['step_s'], base.get('step_s', float('nan')))} | "
            f"{1000 * r['inference_s']:.1f} ms | {_percent(r['inference_s'], base.get('inference_s', float('nan')))} |"
        )
    return "\n".join(lines) + "\n"


def loss_curves(runs: dict[str, Path], path: Path) -> None:
    """loss_curves.png: identity, reconstruction and adversarial generator losses per step, a line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("id", "identity loss (1 - cosine)"), ("rec", "reconstruction (same-identity steps)"),
              ("adv", "adversarial (generator)"))  # fmt: skip
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8))
    for axis, (key, title) in zip(axes, panels, strict=True):
        for name, run in runs.items():
            points = [(int(r["step"]), float(r[key])) for r in _log(run) if r.get(key) not in (None, "")]
            if key == "rec":
                points = [p for p in points if p[1] > 0]  # cross-identity steps log 0
            if points:
                axis.plot(*zip(*points, strict=True), label=name, linewidth=1.2)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.legend(fontsize=8)
    figure.tight_layout()
    with TempOutput(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)


def preview_sheet(previews: dict[str, np.ndarray], path: Path, rows: int = 4) -> None:
    """previews.png: per swap of the protocol (up to ``rows``) donor | recipient | each variant's result.
    ``previews[name]`` is that variant's [K,3,S,S,3] uint8 stack of (donor, recipient, result) crops."""
    names = list(previews)
    first = previews[names[0]]
    tiles, labels = [], []
    for k in range(min(rows, len(first))):
        tiles += [first[k][0], first[k][1], *(previews[n][k][2] for n in names)]
        labels += ["donor", "recipient", *names]
    write_image(path, labelled_sheet(tiles, labels, tile=160, columns=2 + len(names), font_scale=0.5),
                synthetic=True)  # fmt: skip
