"""``python -m training.evaluate --model CKPT --pairs DIR``: the course's swap evaluation.

For every pair (source_i, target_i) the source is swapped into the target and the target into the source, on the
aligned crops (no paste-back); each result's identity embedding is compared with its donor's, and the report gives
the cosine distance (1 - cosine) averaged over both directions: lower is better. The identity model is named in the
report: ArcFace (--metric arcface, the default: the --identity-model weights, or --metric-model's) or the embedded
128-d dlib descriptor (--metric dlib). Attribute preservation is measured from 68 landmarks of each result against
its recipient's: normalised mean error (by the outer-eye-corner distance) over all points, over the pose points (jaw
and nose) and over the expression points (brows, eyes, mouth).

DIR holds unaligned images; ``pairs.txt`` in it lists "source target" file names per line, otherwise the images
sorted by name are paired in turn (1st with 2nd, 3rd with 4th...). The largest face of each image is used.

Examples:
    python -m training.evaluate --model runs/base/generator.pt --pairs test_pairs/
    python -m training.evaluate --model latest_net_G.pth --identity-model w600k_r50.onnx --pairs test_pairs/ \\
        --metric-model glint360k_r100.onnx --out reports/simswap224
    python -m training.evaluate --model runs/base/generator.pt --pairs test_pairs/ --metric dlib --json

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
from realtime.models.arcface import ArcFaceEncoder, load_arcface
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
    """Runs the protocol with a neural swapper, an analyzer (faces and landmarks) and an identity metric: an
    :class:`ArcFaceEncoder`, or None for the analyzer's own descriptor."""

    def __init__(self, swapper: NeuralSwapper, analyzer: FaceAnalyzer, metric: ArcFaceEncoder | None) -> None:
        self.swapper, self.analyzer, self.metric = swapper, analyzer, metric

    def face(self, image: np.ndarray, path: Path) -> Face:
        face = largest_face(self.analyzer, image)
        if face is None:
            raise InputError(f"no face found in {path}")
        return face

    def embedding(self, image: np.ndarray, face: Face) -> np.ndarray:
        if self.metric is not None:
            return self.metric.embed(image, kps5_from_68(face.landmarks))
        vector = np.asarray(self.analyzer.embed(image, face), np.float64)
        return vector / np.linalg.norm(vector)

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


def summarize(rows: list[Direction], metric_name: str, model: str) -> dict[str, Any]:
    """The report: means over both directions of every pair, the identity model's name, and the rows."""
    measures = [k for k in asdict(rows[0]) if k not in ("donor", "recipient")]
    means = {k: float(np.mean([getattr(r, k) for r in rows])) for k in measures}
    return {"model": model, "identity_model": metric_name, "pairs": len(rows) // 2, "mean": means,
            "directions": [asdict(r) for r in rows]}  # fmt: skip


def markdown(report: dict[str, Any]) -> str:
    mean = report["mean"]
    lines = [
        "# Swap evaluation",
        "",
        f"- model: `{report['model']}`",
        f"- identity model: {report['identity_model']}",
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
    parser.add_argument("--metric", choices=["arcface", "dlib"], default="arcface", help="identity model of the score")
    parser.add_argument("--metric-model", type=Path, help="ArcFace weights for the score (default: --identity-model)")
    parser.add_argument("--detector", choices=DETECTORS, default="auto")
    parser.add_argument("--models-dir", type=Path, help="an insightface model pack (see realtime.swap --help)")
    parser.add_argument("--trust-pickle", action="store_true", help="allow pickled-object model files (runs code)")
    parser.add_argument("--out", type=Path, help="write OUT/evaluation.json and OUT/evaluation.md")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the Markdown")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def recorded_identity_model(model: Path) -> Path:
    """The identity model training.train recorded in the generator checkpoint ``model``: at its recorded path, or,
    when that is gone (another machine, a moved run), a file of the same name beside the checkpoint, in its run
    folder or in the current folder, whose hash matches. UsageError when the checkpoint records none; InputError
    naming the file and its hash when no match is found, or when the file found is not the one trained with."""
    from realtime.models.checkpoint import load_state

    state = load_state(model, trust_pickle=False) if model.suffix != ".onnx" and model.is_file() else None
    training = state.get("training") if isinstance(state, dict) else None
    recorded = str(training.get("identity_model") or "") if isinstance(training, dict) else ""
    if not recorded:
        raise UsageError("--identity-model is needed (the checkpoint does not record one)")
    assert isinstance(training, dict)
    digest = str(training.get("identity_sha256") or "")
    name = Path(recorded).name
    candidates = [Path(recorded), model.parent / name, model.parent.parent / name, Path.cwd() / name]
    for candidate in dict.fromkeys(candidates):
        if not candidate.is_file():
            continue
        if digest and file_sha256(candidate) != digest:
            if candidate == Path(recorded):
                raise InputError(
                    f"{candidate} has changed since the generator was trained with it (sha256 differs); pass "
                    "--identity-model FILE to evaluate with it anyway"
                )
            continue
        return candidate
    known = f" (sha256 {digest[:16]}...)" if digest else ""
    raise InputError(
        f"the generator was trained with {recorded}{known}, which is not there (nor beside the checkpoint or "
        "here); pass --identity-model FILE"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        from realtime.swappers.factory import make_swapper

        if args.metric == "dlib" and args.metric_model:
            raise UsageError("--metric-model is for --metric arcface")
        if args.identity_model is None:
            args.identity_model = recorded_identity_model(args.model)
        pairs = read_pairs(args.pairs)
        swap_args = argparse.Namespace(swapper="auto", model=args.model, identity_model=args.identity_model,
                                       trust_pickle=args.trust_pickle, compile=False, pixel_boost=None,
                                       simswap_variant="auto")  # fmt: skip
        swapper = make_swapper(swap_args, "cpu")
        analyzer = create_analyzer(args.detector, args.models_dir)
        if args.metric == "dlib":
            metric, metric_name = None, f"{analyzer.describe()} identity descriptor (1 - cosine)"
        else:
            path = args.metric_model or args.identity_model
            metric = load_arcface(path, trust_pickle=args.trust_pickle) if args.metric_model else swapper.encoder
            metric_name = f"ArcFace {path} (1 - cosine of L2-normalised embeddings)"
        rows = Evaluator(swapper, analyzer, metric).run(pairs, not show_progress(args.quiet))
        report = summarize(rows, metric_name, str(args.model))
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
