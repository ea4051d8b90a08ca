"""``python -m realtime.batch INPUT... --out-dir DIR --source FACE``: swap many videos and images, and long videos
in parallel parts, on a pool of workers (Ray: a local instance by default, a cluster with --address).

Each worker loads its models once. A video longer than --segment-seconds is split at keyframes into parts swapped
side by side, each warmed up on the --warmup frames before it, then joined without re-encoding with the original
audio: the same frames and timestamps as one run. Every job keeps a state file beside its output; running the same
command again skips complete outputs (read back and watermark-checked) and redoes the rest. Every option of
python -m realtime.swap (source, --map, swapper, masks, blend, encoding, ...) applies to every job; a manifest
row may add its own.

Examples:
    python -m realtime.batch clips/ --out-dir swapped/ --source face.jpg
    python -m realtime.batch "shoot/*.mov" --out-dir out/ --source face.jpg --workers 2 --segment-seconds 30
    python -m realtime.batch --manifest jobs.jsonl --blend poisson
    python -m realtime.batch films/ --out-dir out/ --source face.jpg --address auto --gpus-per-worker 0.5

A manifest (.jsonl or .csv) has a row per job: input, output, and optionally source, map and options.

Exit status: 0 every job done (or already complete), 1 some job failed (the summary says why), 2 a usage error,
130 interrupted (what finished stays finished; run the same command again).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from realtime.batch.driver import BatchSettings, JobOutcome, run_batch
from realtime.batch.manifest import BatchJob, jobs_from_inputs, read_manifest
from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli, show_progress
from realtime.errors import EXIT_INTERRUPTED, UsageError
from realtime.options import add_encoding_arguments, add_pipeline_arguments

PROG = "python -m realtime.batch"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("inputs", nargs="*", help="videos and images, folders of them, or globs (quoted)")
    parser.add_argument("--manifest", type=Path, help="a .jsonl or .csv of jobs instead of (or beside) INPUTs")
    parser.add_argument("--out-dir", type=Path, help="where INPUTs' outputs go (same file names)")
    parser.add_argument("--suffix", help="output extension instead of each input's own (e.g. .mp4)")
    ray = parser.add_argument_group("workers (Ray)")
    ray.add_argument("--address", help="a running Ray cluster: auto or HOST:PORT (default: a local instance)")
    ray.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    ray.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPU cores each (default 1)")
    ray.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs each; fractions share one (default 0)")
    long = parser.add_argument_group("long videos")
    long.add_argument("--segment-seconds", type=float, default=60.0, help="part length for long videos (default 60)")
    long.add_argument("--warmup", type=int, default=30, help="frames before each part that warm up tracking (30)")
    parser.add_argument("--retries", type=int, default=1, help="further attempts at a failed task (default 1)")
    add_quiet_debug(parser, "no progress bar or notes (the summary still prints)")
    add_pipeline_arguments(parser)  # every option of python -m realtime.swap, for every job
    add_encoding_arguments(parser)
    return parser


BATCH_DESTS = {"inputs", "manifest", "out_dir", "suffix", "address", "workers", "cpus_per_worker",
               "gpus_per_worker", "segment_seconds", "warmup", "retries", "quiet", "debug"}  # fmt: skip


def _swap_words(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The words of ``argv`` that are realtime.swap options with their values (every job's, before its manifest
    row's own); batch options and INPUTs are left out."""
    actions = parser._option_string_actions
    words: list[str] = []
    k = 0
    while k < len(argv):
        word = argv[k]
        k += 1
        flag, eq, _ = word.partition("=")
        action = actions.get(flag) if word.startswith("-") else None
        if action is None:
            continue  # an INPUT
        values: list[str] = []
        if not eq and action.nargs != 0:
            count = 1
            if action.nargs == "+":
                count = next((n for n, w in enumerate(argv[k:]) if w.startswith("-")), len(argv) - k)
            values, k = argv[k : k + count], k + count
        if action.dest not in BATCH_DESTS:
            words += [word, *values]
    return words


def _check(args: argparse.Namespace) -> None:
    if not args.inputs and args.manifest is None:
        raise UsageError("give INPUTs (with --out-dir) or --manifest")
    if args.inputs and args.out_dir is None:
        raise UsageError("INPUTs need --out-dir")
    if args.workers < 1 or args.cpus_per_worker <= 0 or args.gpus_per_worker < 0:
        raise UsageError("--workers must be >= 1, --cpus-per-worker > 0 and --gpus-per-worker >= 0")
    if args.segment_seconds <= 0 or args.warmup < 0 or args.retries < 0:
        raise UsageError("--segment-seconds must be > 0, --warmup and --retries >= 0")


def _summary(outcomes: list[JobOutcome]) -> str:
    rows = [("job", "status", "frames", "fps", "reason")]
    for o in outcomes:
        fps = f"{o.frames / o.seconds:.1f}" if o.seconds > 0 else ""
        rows.append((o.job.name, o.status, str(o.frames) if o.frames else "", fps, o.reason or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)

    def body() -> int:
        _check(args)
        note = notes(PROG, args.quiet)
        words = _swap_words(argv, parser)
        jobs: list[BatchJob] = []
        if args.inputs:
            jobs += jobs_from_inputs(args.inputs, args.out_dir, words, args.suffix)
        if args.manifest is not None:
            jobs += read_manifest(args.manifest, words)
        settings = BatchSettings(args.address, args.workers, args.cpus_per_worker, args.gpus_per_worker,
                                 args.segment_seconds, args.warmup, args.retries)  # fmt: skip
        with tqdm(unit="frame", disable=not show_progress(args.quiet), dynamic_ncols=True) as bar:

            def progress(done: int, total: int, ok: int, bad: int) -> None:
                bar.total = total
                bar.n = done
                bar.set_postfix(jobs_done=ok, failed=bad, refresh=False)
                bar.refresh()

            outcomes = run_batch(jobs, settings, progress, note)
        print(_summary(outcomes))
        if any(o.status == "interrupted" for o in outcomes):
            print(f"{PROG}: interrupted; finished jobs are kept, run the same command to finish", file=sys.stderr)
            return EXIT_INTERRUPTED
        return 1 if any(o.status == "failed" for o in outcomes) else 0

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
