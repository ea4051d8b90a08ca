"""Training speed and memory: iterations per second and peak memory at batch 8 and 224 px, for SimSwap's reference
setup (AdaIN identity blocks, standard convs) and ours (modulated-conv identity blocks, depthwise-separable convs),
with a full-size generator and discriminator and an ArcFace r50 identity model (random weights: this measures
speed, not learning). One iteration is one discriminator and one generator update (training.loop.Trainer).

Each measurement runs in its own process, so the CPU's peak resident memory belongs to it alone; on CUDA the peak is
torch.cuda.max_memory_allocated. CUDA rows (float32, and bf16 autocast with channels_last) appear when a GPU is
visible.

Examples:
    python bench/train.py                       # saves bench/results/train-<date>.json
    python bench/train.py --steps 2 --no-save
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report

VARIANTS = [("adain", "standard"), ("modulated", "separable")]


def measure(data: Path, arcface: Path, block: str, conv: str, device: str, amp: str, batch: int, steps: int) -> dict:
    """Time ``steps`` iterations after one warm-up in this process; returns the row."""
    from training.config import TrainConfig
    from training.loop import Trainer

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data=str(data), identity_model=str(arcface), out=out, block=block, conv=conv,
                             batch=batch, steps=steps + 1, device=device, amp=amp, channels_last=amp != "none",
                             workers=2)  # fmt: skip
        trainer = Trainer(config, quiet=True)
        batches = iter(trainer.loader())
        trainer.train_step(next(batches), 0)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        tic = time.perf_counter()
        for step, item in enumerate(batches, start=1):
            trainer.train_step(item, step)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - tic
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _peak_rss_mb()
    return {"block": block, "conv": conv, "device": device, "amp": amp, "batch": batch, "size": 224,
            "it_per_s": steps / seconds, "s_per_it": seconds / steps, "peak_mb": peak,
            "peak_kind": "cuda allocated" if device == "cuda" else "process RSS"}  # fmt: skip


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def prepare_inputs(root: Path) -> tuple[Path, Path]:
    """The sample identity photos prepared into aligned crops, and a random-weight ArcFace r50 .pth."""
    from realtime.faces.dlib_backend import DlibAnalyzer
    from realtime.models.arcface import ARCFACE_ARCHS, IResNet
    from training.cleaning import CleaningRules
    from training.prepare import prepare
    from training.sample_data import write_identity_photos

    data = root / "data"
    prepare(write_identity_photos(root / "photos"), data, DlibAnalyzer(), rules=CleaningRules(max_roll=0), quiet=True)
    arcface = root / "r50.pth"
    torch.save(IResNet(ARCFACE_ARCHS["r50"]).state_dict(), arcface)
    return data, arcface


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="timed iterations per row (after one warm-up)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--one", nargs=6, metavar=("DATA", "ARCFACE", "BLOCK", "CONV", "DEVICE", "AMP"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.one:
        data, arcface, block, conv, device, amp = args.one
        print(json.dumps(measure(Path(data), Path(arcface), block, conv, device, amp, args.batch, args.steps)))
        return 0
    targets = [("cpu", "none")] + ([("cuda", "none"), ("cuda", "bf16")] if torch.cuda.is_available() else [])
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data, arcface = prepare_inputs(Path(tmp))
        for device, amp in targets:
            for block, conv in VARIANTS:
                cmd = [sys.executable, __file__, "--one", str(data), str(arcface), block, conv, device, amp,
                       "--steps", str(args.steps), "--batch", str(args.batch)]  # fmt: skip
                result = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    sys.exit(f"bench/train.py: {block}/{conv} on {device} failed:\n{result.stderr[-3000:]}")
                rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
                row = rows[-1]
                print(f"  {block}/{conv} {device} amp={amp}: {row['s_per_it']:.2f} s/it, peak {row['peak_mb']:.0f} MB")
    columns = ["block", "conv", "device", "amp", "batch", "size", "it_per_s", "s_per_it", "peak_mb", "peak_kind"]
    return report("train", rows, columns, save=not args.no_save)


if __name__ == "__main__":
    sys.exit(main())
