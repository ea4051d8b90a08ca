"""``python -m training.evaluate --model CKPT --pairs DIR``: the course's swap evaluation.

For every pair (source_i, target_i) the source is swapped into the target and the target into the source, on the
aligned crops (no paste-back); each result's identity embedding is compared with its donor's, and the report gives
the cosine distance (1 - cosine) averaged over both directions: lower is better. The identity network of the score
is named in the report: --metric network (the default) takes --metric-model, else the network the generator was
trained with; --metric dlib takes the embedded 128-d dlib ResNet. A score by the training network itself flatters the
generator (it learned to please that network): evaluate warns, and the report says so, unless the metric is another
network. Attribute preservation is measured from 68 landmarks of each result against
its recipient's: normalised mean error (by the outer-eye-corner distance) over all points, over the pose points (jaw
and nose) and over the expression points (brows, eyes, mouth).

DIR holds unaligned images; ``pairs.txt`` in it lists "source target" file names per line, otherwise the images
sorted by name are paired in turn (1st with 2nd, 3rd with 4th...). The largest face of each image is used.

Examples:
    python -m training.evaluate --model runs/base/generator.pt --pairs test_pairs/
    python -m training.evaluate --model latest_net_G.pth --identity-model w600k_r50.onnx --pairs test_pairs/ \\
        --metric-model glint360k_r100.onnx --out reports/simswap224
    python -m training.evaluate --model runs/base/generator.pt --pairs test_pairs/ --metric-model w600k_r50.onnx --json

Exit status: 0 done, 1 an input problem (unreadable image, no face, bad model), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.faces.backends import DETECTORS, create_analyzer
from realtime.io.files import TempOutput
from training.protocol import evaluate_generator, markdown, read_pairs

PROG = "python -m training.evaluate"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("--model", type=Path, required=True, help="generator checkpoint, or inswapper_128.onnx")
    parser.add_argument("--pairs", type=Path, required=True, help="folder of test images (see above)")
    parser.add_argument("--identity-model", type=Path,
                        help="the ArcFace the generator takes identities from (default: the one recorded by "
                        "training.train in the checkpoint)")  # fmt: skip
    parser.add_argument("--metric", choices=["network", "dlib"], default="network",
                        help="identity network of the score: --metric-model's (default: the generator's own), or the "
                        "embedded dlib ResNet")  # fmt: skip
    parser.add_argument("--metric-model", type=Path,
                        help="identity network for the score (ArcFace .onnx/.pth or dlib .dat): give one other than "
                        "the training network for an independent score")  # fmt: skip
    parser.add_argument("--detector", choices=DETECTORS, default="auto")
    parser.add_argument("--models-dir", type=Path, help="an insightface model pack (see realtime.swap --help)")
    parser.add_argument("--trust-pickle", action="store_true", help="allow pickled-object model files (runs code)")
    parser.add_argument("--out", type=Path, help="write OUT/evaluation.json and OUT/evaluation.md")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        analyzer = create_analyzer(args.detector, args.models_dir)
        pairs = read_pairs(args.pairs)
        report, _ = evaluate_generator(args.model, pairs, args.identity_model, args.metric, args.metric_model,
                                       analyzer, args.trust_pickle, not show_progress(args.quiet))  # fmt: skip
        if report["metric_is_training_network"]:
            print(f"{PROG}: warning: the score's identity network is the one the generator was trained with; pass "
                  "--metric-model with another network for an independent score", file=sys.stderr)  # fmt: skip
        text = markdown(report)
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            for name, content in (("evaluation.json", json.dumps(report, indent=2)), ("evaluation.md", text)):
                with TempOutput(args.out / name) as temp:
                    Path(temp).write_text(content)
        print(json.dumps(report, indent=2) if args.json else text, end="" if not args.json else "\n")
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
