"""The course's swap evaluation, as a library: swap each pair both ways on aligned crops, and score identity (cosine
distance of the result to its donor, by an identity network) and attribute preservation (landmark errors against the
recipient). ``python -m training.evaluate`` and ``python -m training.ablate`` run it."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from realtime.errors import InputError, UsageError
from realtime.faces.align import transform_points, warp_face
from realtime.faces.backends import create_analyzer
from realtime.faces.pick import largest_face
from realtime.faces.types import Face, FaceAnalyzer, kps5_from_68
from realtime.io.files import file_sha256
from realtime.io.images import image_files, read_image
from realtime.metrics import landmark_errors
from realtime.models.checkpoint import recorded_identity_model
from realtime.models.encoder import IdentityEncoder
from realtime.models.identity import default_identity_model, load_identity_encoder
from realtime.swappers.base import SourceSet
from realtime.swappers.neural import NeuralSwapper

__all__ = ["Direction", "Evaluator", "evaluate_generator", "markdown", "read_pairs", "summarize"]

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
        self.previews: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (donor, recipient, result) crops

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
        donor_crop, _ = warp_face(donor[0], kps5_from_68(donor[1].landmarks), engine.template, engine.size)
        self.previews.append((donor_crop, crop, result))
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


def evaluate_generator(
    model: Path,
    pairs: list[tuple[Path, Path]],
    identity_model: Path | None = None,
    metric: str = "network",
    metric_model: Path | None = None,
    analyzer: FaceAnalyzer | None = None,
    trust_pickle: bool = False,
    quiet: bool = False,
) -> tuple[dict[str, Any], Evaluator]:
    """Run the protocol for generator ``model`` on the CPU: its identity network is ``identity_model`` or the one
    its checkpoint recorded; the score's network is ``metric_model`` (metric "network"; default: the generator's
    own) or the embedded dlib ResNet (metric "dlib"). Returns (the report of :func:`summarize`, the evaluator with
    its preview crops). UsageError/InputError (one line) for missing models and unusable pairs."""
    from realtime.swappers.factory import make_swapper

    if metric == "dlib" and metric_model:
        raise UsageError("--metric-model is for --metric network")
    identity_model = identity_model or recorded_identity_model(model)
    swap_args = argparse.Namespace(swapper="auto", model=model, identity_model=identity_model,
                                   trust_pickle=trust_pickle, compile=False, pixel_boost=None,
                                   simswap_variant="auto")  # fmt: skip
    swapper = make_swapper(swap_args, "cpu")
    path = Path(default_identity_model() if metric == "dlib" else metric_model or identity_model)
    encoder = swapper.encoder if path == identity_model else load_identity_encoder(path, trust_pickle=trust_pickle)
    same = path.resolve() == Path(identity_model).resolve() or file_sha256(path) == file_sha256(identity_model)
    evaluator = Evaluator(swapper, analyzer or create_analyzer("auto", None), encoder)
    rows = evaluator.run(pairs, quiet)
    name = f"{encoder.describe()} {path} (1 - cosine of L2-normalised embeddings)"
    return summarize(rows, name, str(model), same), evaluator
