"""``python -m training.ablate --data DATA --pairs PAIRS --steps N``: the research's seed experiments, repeatable.

Each of --variants (baseline, mask, modulated, separable, progressive, cleaned; see training.ablation) trains from
the same base configuration (the training options below), seed and data order for --steps steps, in a
``python -m training.train`` process of its own under OUT/<variant>/. Each is then evaluated with the course
protocol on PAIRS (python -m training.pairs makes them), scored by --metric-model when given (an identity network
other than the training one: without it the score is flagged as not independent), and OUT gets:

- ``ablation.md``: the research's table: identity distance and its change vs the baseline in %, landmark error,
  train-step and inference time and their change vs the baseline in %;
- ``loss_curves.png`` (identity, reconstruction, adversarial losses per step) and ``previews.png`` (donor |
  recipient | each variant's result, side by side);
- ``ablation.json``: the configuration and every finished variant's results.

"cleaned" trains on a copy of DATA (OUT/data-cleaned) after the identity-outlier pass; when DATA was cleaned
already (training.prepare runs the pass; --no-outliers keeps the outliers in), it says so: there is nothing to
compare. An interrupted ablation resumes where it stopped: finished variants are kept, an unfinished run
continues from its last checkpoint. Toy size runs on a CPU in minutes; real size wants GPUs and --amp bf16.

Examples:
    python -m training.ablate --data data/ --pairs test_pairs/ --out runs/ablate --steps 30 --width 8 \\
        --id-blocks 2 --d-width 8 --batch 4 --workers 0 --variants baseline,modulated
    python -m training.ablate --data data/ --pairs test_pairs/ --out runs/ablate --steps 100000 --batch 16 \\
        --amp bf16 --identity-model w600k_r50.onnx --metric-model glint360k_r100.onnx

Exit status: 0 done, 1 a data, model or training problem, 2 a usage error, 130 interrupted (run it again to resume).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput
from realtime.models.identity import default_identity_model, load_identity_encoder
from training.ablation import (
    VARIANTS,
    inference_times,
    loss_curves,
    markdown_table,
    preview_sheet,
    step_time,
    train_command,
    variant_config,
)
from training.config import TrainConfig, add_config_arguments, config_from_args
from training.identities import clean_outliers
from training.protocol import evaluate_generator, read_pairs

PROG = "python -m training.ablate"
STATE = "ablation.json"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("--pairs", type=Path, required=True, help="test images for the evaluation (training.pairs)")
    parser.add_argument("--variants", default="baseline,mask,modulated,separable,progressive,cleaned",
                        help=f"comma-separated, from: {', '.join(VARIANTS)} (default: all)")  # fmt: skip
    parser.add_argument(
        "--metric-model",
        type=Path,
        help="identity network of the score, other than the training one (ArcFace or dlib .dat)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress (errors still print)")
    add_config_arguments(parser)  # --data, --out (the ablation's root), --steps, and the base configuration
    return parser


def _state(out: Path, config: TrainConfig) -> dict[str, Any]:
    """The ablation's record in OUT, or a new one; UsageError when OUT holds an ablation of another configuration."""
    path = out / STATE
    if not path.is_file():
        return {"config": config.to_dict(), "results": {}}
    state = json.loads(path.read_text())
    differ = [k for k, v in config.to_dict().items() if state["config"].get(k) != v]
    if differ:
        raise UsageError(f"{out} holds an ablation with other settings ({', '.join(differ[:3])}); use another --out")
    return state


def _save(out: Path, state: dict[str, Any]) -> None:
    with TempOutput(out / STATE) as temp:
        Path(temp).write_text(json.dumps(state, indent=2))


def _cleaned_data(base: TrainConfig, out: Path, state: dict[str, Any], note: Callable[[str], None]) -> str:
    """OUT/data-cleaned: DATA after the identity-outlier pass (made once)."""
    target = out / "data-cleaned"
    if "cleaned" not in state:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base.data, target, ignore=shutil.ignore_patterns("rejected"))
        encoder = load_identity_encoder(base.identity_model or default_identity_model())
        report = clean_outliers(target, encoder, quiet=True)
        state["cleaned"] = {"moved": sum(len(v) for v in report.moved.values()), "summary": report.summary()}
        _save(out, state)
    note(f"cleaned data: {state['cleaned']['summary']}")
    if not state["cleaned"]["moved"]:
        note("cleaned data: no outlier in DATA, so 'cleaned' trains on the baseline's data (prepare --no-outliers "
             "keeps outliers in for this comparison)")  # fmt: skip
    return str(target)


def _train(config: TrainConfig, quiet: bool, note: Callable[[str], None]) -> None:
    """Run (or continue) one variant's training in its own process."""
    latest = Path(config.out) / "checkpoints" / "latest"
    done = int(latest.read_text().strip().removeprefix("step-").removesuffix(".pt")) if latest.is_file() else 0
    if done >= config.steps:
        return
    note(f"{Path(config.out).name}: {'continuing from step ' + str(done) if done else 'training'} to step "
         f"{config.steps} -> {config.out}")  # fmt: skip
    code = subprocess.run(train_command(config, resume=done > 0, quiet=quiet), check=False).returncode
    if code == 130:
        raise KeyboardInterrupt
    if code != 0:
        raise InputError(f"training the {Path(config.out).name} variant failed (exit {code}; its error is above)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def note(text: str) -> None:
        if not args.quiet:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    def body() -> int:
        names = [n.strip() for n in args.variants.split(",") if n.strip()]
        unknown = [n for n in names if n not in VARIANTS]
        if unknown or not names:
            raise UsageError(f"unknown variant(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}")
        if args.out is None:
            raise UsageError("--out DIR is required (the ablation's folder)")
        try:
            base = config_from_args(args)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if not base.data:
            raise UsageError("--data ROOT is required")
        pairs = read_pairs(args.pairs)
        out = Path(base.out)
        out.mkdir(parents=True, exist_ok=True)
        state = _state(out, base)
        cleaned = _cleaned_data(base, out, state, note) if "cleaned" in names else ""
        quiet = not show_progress(args.quiet)
        for name in names:
            if name in state["results"]:
                note(f"{name}: finished earlier, kept")
                continue
            config = variant_config(base, name, out, cleaned)
            _train(config, quiet, note)
            note(f"{name}: evaluating on {len(pairs)} pair(s)")
            report, evaluator = evaluate_generator(Path(config.out) / "generator.pt", pairs,
                                                   metric_model=args.metric_model, quiet=quiet)  # fmt: skip
            np.save(Path(config.out) / "previews.npy", np.stack([np.stack(p) for p in evaluator.previews]))
            state["results"][name] = {"distance": report["mean"]["distance"], "nme": report["mean"]["nme_all"],
                                      "step_s": step_time(Path(config.out)), "metric": report["identity_model"],
                                      "independent": not report["metric_is_training_network"]}  # fmt: skip
            _save(out, state)
        runs = {n: out / n for n in names}
        for name, seconds in inference_times({n: run / "generator.pt" for n, run in runs.items()}, base.device).items():
            state["results"][name]["inference_s"] = seconds
        _save(out, state)
        results = {n: state["results"][n] for n in names}
        independent = all(r["independent"] for r in results.values())
        if not independent:
            note("warning: the score's identity network is the training network; pass --metric-model for an "
                 "independent score")  # fmt: skip
        with TempOutput(out / "ablation.md") as temp:
            Path(temp).write_text(markdown_table(results, results[names[0]]["metric"], independent))
        loss_curves(runs, out / "loss_curves.png")
        preview_sheet({n: np.load(run / "previews.npy") for n, run in runs.items()}, out / "previews.png")
        note(f"{len(names)} variant(s) -> {out / 'ablation.md'}, loss_curves.png, previews.png")
        if not args.quiet:
            print((out / "ablation.md").read_text())
        return 0

    return run_cli(PROG, body, interrupted="run the same command again to resume")


if __name__ == "__main__":
    sys.exit(main())
