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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.faces.align import transform_points, warp_face
from realtime.faces.backends import DETECTORS, create_analyzer
from realtime.faces.pick import largest_face
from realtime.faces.types import Face, FaceAnalyzer, kps5_from_68
from realtime.io.files import TempOutput, file_sha256
from realtime.io.images import image_files, read_image
from realtime.metrics import landmark_errors
from realtime.models.checkpoint import recorded_identity_model
from realtime.models.encoder import IdentityEncoder
from realtime.models.identity import default_identity_model, load_identity_encoder
from realtime.swappers.base import SourceSet
from realtime.swappers.neural import NeuralSwapper

PROG = "python -m training.evaluate"
POSE_POINTS = list(range(0, 17)) + list(range(27, 36))
EXPRESSION_POINTS = list(range(17, 27)) + list(range(36, 68))


@dataclass
class Direction:
    """One swap of the protocol: ``donor``'s identity into ``recipient``'s face."""

    donor: str
    recipient: str
    distance: float  # 1 - cosine(result, donor), with the report's identity model
    distance_before: float  # 1 - cosine(recipient, donor): how far apart the two people were
    nme_all: float
    nme_pose: float
    nme_expression: float


def read_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(source, target) image paths from ``folder/pairs.txt`` or, without one, its images sorted and paired."""
    if not folder.is_dir():
        raise InputError(f"pairs folder not found: {folder}")
    listing = folder / "pairs.txt"
    if listing.is_file():
        pairs = []
        for number, line in enumerate(listing.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            names = line.split()
            if len(names) != 2:
                raise InputError(f"{listing}:{number}: expected 'source target', got {line!r}")
            pairs.append((folder / names[0], folder / names[1]))
    else:
        images = image_files(folder)
        if len(images) % 2:
            raise InputError(f"{folder} has an odd number of images ({len(images)}) and no pairs.txt")
        pairs = list(zip(images[::2], images[1::2], strict=True))
    if not pairs:
        raise InputError(f"no pairs in {folder} (images, paired by name, or a pairs.txt)")
    return pairs


class Evaluator:
    """Runs the protocol with a neural swapper, an analyzer (faces and landmarks) and the identity network of the
    score."""

    def __init__(self, swapper: NeuralSwapper, analyzer: FaceAnalyzer, metric: IdentityEncoder) -> None:
        self.swapper, self.analyzer, self.metric = swapper, analyzer, metric

    def face(self, image: np.ndarray, path: Path) -> Face:
        face = largest_face(self.analyzer, image)
        if face is None:
            raise InputError(f"no face found in {path}")
        return face

    def embedding(self, image: np.ndarray, face: Face) -> np.ndarray:
        return self.metric.embed(image, face.landmarks)

    def swap(
        self, donor: tuple[np.ndarray, Face], recipient: tuple[np.ndarray, Face], names: tuple[str, str]
    ) -> Direction:
        """Swap ``donor`` (image, face) into ``recipient``'s aligned crop and measure the result."""
        engine = self.swapper.engine
        self.swapper.set_source(SourceSet.single(*donor))
        image, face = recipient
        crop, m = warp_face(image, kps5_from_68(face.landmarks), engine.template, engine.size)
        result = np.clip(engine.run(crop[None], self.swapper.identities[:1])[0], 0, 255).round().astype(np.uint8)
        expected = transform_points(face.landmarks, m)
        x0, y0, x1, y1 = face.bbox
        corners = transform_points(np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64), m)
        measured = self.analyzer.landmarks(result, np.concatenate([corners.min(0), corners.max(0)]))
        error = landmark_errors(measured.landmarks, expected)
        donor_vector = self.embedding(*donor)
        return Direction(
            donor=names[0],
            recipient=names[1],
            distance=float(1.0 - np.dot(self.embedding(result, measured), donor_vector)),
            distance_before=float(1.0 - np.dot(self.embedding(image, face), donor_vector)),
            nme_all=float(error.mean()),
            nme_pose=float(error[POSE_POINTS].mean()),
            nme_expression=float(error[EXPRESSION_POINTS].mean()),
        )

    def run(self, pairs: list[tuple[Path, Path]], quiet: bool = False) -> list[Direction]:
        rows = []
        for source_path, target_path in tqdm(pairs, disable=quiet, unit="pair", desc="evaluate"):
            source_image, target_image = read_image(source_path), read_image(target_path)
            source = (source_image, self.face(source_image, source_path))
            target = (target_image, self.face(target_image, target_path))
            rows.append(self.swap(source, target, (source_path.name, target_path.name)))
            rows.append(self.swap(target, source, (target_path.name, source_path.name)))
        return rows


def summarize(rows: list[Direction], metric_name: str, model: str, metric_is_training: bool) -> dict[str, Any]:
    """The report: means over both directions of every pair, the identity model's name (and whether it is the
    network the generator was trained with), and the rows."""
    measures = [k for k in asdict(rows[0]) if k not in ("donor", "recipient")]
    means = {k: float(np.mean([getattr(r, k) for r in rows])) for k in measures}
    return {"model": model, "identity_model": metric_name, "metric_is_training_network": metric_is_training,
            "pairs": len(rows) // 2, "mean": means, "directions": [asdict(r) for r in rows]}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    mean = report["mean"]
    lines = [
        "# Swap evaluation",
        "",
        f"- model: `{report['model']}`",
        f"- identity model: {report['identity_model']}"
        + (
            " (**the network the generator was trained with: not an independent score**)"
            if report["metric_is_training_network"]
            else ""
        ),
        f"- pairs: {report['pairs']} (each swapped both ways)",
        "",
        "| measure | mean |",
        "|---|---|",
        f"| identity cosine distance to the donor (lower is better) | {mean['distance']:.4f} |",
        f"| donor-recipient distance before the swap | {mean['distance_before']:.4f} |",
        f"| landmark NME, all 68 points | {mean['nme_all']:.4f} |",
        f"| landmark NME, pose points (jaw, nose) | {mean['nme_pose']:.4f} |",
        f"| landmark NME, expression points (brows, eyes, mouth) | {mean['nme_expression']:.4f} |",
        "",
        "| donor | recipient | distance | before | NME |",
        "|---|---|---|---|---|",
    ]
    for r in report["directions"]:
        lines.append(f"| {r['donor']} | {r['recipient']} | {r['distance']:.4f} | {r['distance_before']:.4f} | "
                     f"{r['nme_all']:.4f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


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
        from realtime.swappers.factory import make_swapper

        if args.metric == "dlib" and args.metric_model:
            raise UsageError("--metric-model is for --metric network")
        if args.identity_model is None:
            args.identity_model = recorded_identity_model(args.model)
        pairs = read_pairs(args.pairs)
        swap_args = argparse.Namespace(swapper="auto", model=args.model, identity_model=args.identity_model,
                                       trust_pickle=args.trust_pickle, compile=False, pixel_boost=None,
                                       simswap_variant="auto")  # fmt: skip
        swapper = make_swapper(swap_args, "cpu")
        analyzer = create_analyzer(args.detector, args.models_dir)
        path = default_identity_model() if args.metric == "dlib" else args.metric_model or args.identity_model
        metric = (
            swapper.encoder
            if path == args.identity_model
            else load_identity_encoder(path, trust_pickle=args.trust_pickle)
        )
        metric_name = f"{metric.describe()} {path} (1 - cosine of L2-normalised embeddings)"
        same = Path(path).resolve() == Path(args.identity_model).resolve() or (
            file_sha256(path) == file_sha256(args.identity_model)
        )
        if same:
            print(f"{PROG}: warning: the score's identity network is the one the generator was trained with "
                  f"({Path(path).name}); pass --metric-model with another network for an independent score",
                  file=sys.stderr)  # fmt: skip
        rows = Evaluator(swapper, analyzer, metric).run(pairs, not show_progress(args.quiet))
        report = summarize(rows, metric_name, str(args.model), same)
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
