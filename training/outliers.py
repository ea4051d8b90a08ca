"""``python -m training.outliers DATA``: the dataset-cleaning step the research measured at +4.31 %: in every
identity folder, crops whose identity embedding is far from the identity's robust centre are taken for another
person and moved to the folder's ``rejected/`` (with the reason and distance in ``rejected/reasons.csv``; nothing is
deleted). A folder whose crops split into two clear groups is reported as probably two people, and left as it is:
sort it with python -m training.cluster.

The identity network is the embedded dlib ResNet unless --identity-model names another; the distance threshold is
the network's own (see training.identities: 0.06 for dlib's, 0.6 for an ArcFace) unless --threshold overrides it,
and is printed. ``training.prepare`` runs this step at its end (``--no-outliers`` skips it).

Examples:
    python -m training.outliers data/
    python -m training.outliers data/ --identity-model w600k_r50.onnx --dry-run

Exit status: 0 done, 1 an input problem (not a prepared dataset, unreadable model), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import UsageError
from realtime.models.identity import default_identity_model, load_identity_encoder
from training.identities import clean_outliers

PROG = "python -m training.outliers"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("data", type=Path, help="a dataset root written by python -m training.prepare")
    parser.add_argument("--identity-model", type=Path,
                        help="identity network: ArcFace (.onnx or .pth) or dlib .dat (default: the embedded dlib "
                        "ResNet)")  # fmt: skip
    parser.add_argument("--threshold", type=float, help="cosine distance to the centre beyond which a crop is moved")
    parser.add_argument("--dry-run", action="store_true", help="report what would move, move nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.threshold is not None and not 0.0 < args.threshold < 2.0:
            raise UsageError("--threshold must be a cosine distance between 0 and 2")
        encoder = load_identity_encoder(args.identity_model or default_identity_model())
        report = clean_outliers(args.data, encoder, args.threshold, args.dry_run, not show_progress(args.quiet))
        if not args.quiet:
            verb = " (dry run: nothing moved)" if args.dry_run else ""
            print(f"{PROG}: {report.summary()}{verb}", file=sys.stderr)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
