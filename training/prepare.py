"""``python -m training.prepare SRC DST``: turn identity folders of photos (and video clips) into training data:
aligned face crops, blur-filtered, with 68 landmarks per crop for the discriminator mask.

SRC holds one folder per identity (``SRC/<identity>/*.jpg|png|mp4...``); DST gets the same folders with one crop
per usable face (the largest face of each image, or of every --frame-interval-th video frame), aligned with the
chosen template (ArcFace's at 224 for SimSwap 224; FFHQ's at 512 or 1024 for the high-resolution models), plus
``landmarks.npz`` (68 points per crop, crop pixels). Already-aligned datasets (VGGFace2-224) go through with
--aligned: the crops are kept and only landmarks and the checks are added. For film footage, --all-faces keeps every
face of a frame (not only the largest) in the film's folder, for python -m training.cluster to sort by identity.
With --parsing-model (a face-parsing ONNX network, see training.parsing) each crop's face and hair mask is stored in
``masks.npz`` too, for train --mask parsing, and the occlusion and back-of-head rules run.

Cleaning, as the movie-data guide does it (training.cleaning; each rule switchable, each counted): faces are
dropped when their landmarks are implausible, their eye line tilts over --max-roll degrees, their landmark box
covers under --min-coverage of the crop, they are blurred (--min-sharpness, 20-30 in the guide), or, with a parser,
occluded or seen from behind. Dropped crops go to DST/<identity>/rejected/ with the reason (rejected/reasons.csv);
nothing is deleted. Then the identity-outlier pass (python -m training.outliers) moves crops of another person out
of each folder (--no-outliers skips it). DST/faces.csv logs every face with its measurements, for
python -m training.report.

Examples:
    python -m training.prepare faces_by_person/ data/
    python -m training.prepare film_frames/ data_ffhq/ --crop ffhq --size 1024 --frame-interval 12 --min-sharpness 25
    python -m training.prepare vggface2_224/ data/ --aligned --parsing-model face_parsing_bisenet.onnx

Exit status: 0 done, 1 an input or output problem (or no usable face at all), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.faces.align import TEMPLATES, transform_points, warp_face
from realtime.faces.backends import DETECTORS, create_analyzer
from realtime.faces.pick import faces_68, largest_face
from realtime.faces.types import Face, FaceAnalyzer, kps5_from_68
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.video import VIDEO_SUFFIXES, VideoReader
from realtime.models.identity import default_identity_model, load_identity_encoder
from training.cleaning import REASONS, CleaningRules, measure, verdict, verdict_value
from training.data import LANDMARKS_FILE
from training.identities import clean_outliers
from training.parsing import MASKS_FILE, FaceParser, parse_classes
from training.rejected import Rejection, move_to_rejected, update_npz, write_faces, write_rejected

PROG = "python -m training.prepare"
RULE_OPTIONS = (  # CleaningRules thresholds as options
    ("max_roll", "drop faces whose eye line tilts more than this, degrees"),
    ("min_coverage", "drop faces covering less of an ArcFace-framed crop (scaled for FFHQ)"),
    ("min_sharpness", "drop crops blurrier than this variance of the Laplacian (e.g. 25; 0: off)"),
    ("min_visible", "with --parsing-model: drop faces whose inner face is less visible"),
    ("max_hair", "with --parsing-model: drop backs of heads, more hair than this share"),
)


def _frames(path: Path, interval: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """(name stem, source label, RGB image) for an image, or for every ``interval``-th frame of a video."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        with VideoReader(path) as reader:
            for frame in reader:
                if frame.index % interval == 0:
                    yield f"{path.stem}_f{frame.index:06d}", f"{path.name} frame {frame.index}", frame.image
    else:
        yield path.stem, path.name, read_image(path)


def _aligned_face(analyzer: FaceAnalyzer, crop: np.ndarray) -> Face | None:
    """The face of an already-aligned crop: detected on the crop with a reflected border of half its size, so
    detectors that expect context around the face find it."""
    pad = crop.shape[0] // 2
    padded = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    face = largest_face(analyzer, padded)
    if face is not None:
        face.landmarks = face.landmarks - pad
    return face


def _crops(
    analyzer: FaceAnalyzer, image: np.ndarray, aligned: bool, crop: str, size: int, all_faces: bool, min_face: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(crop, its 68 landmarks in the crop, the same in the image) for the image's largest face, or all faces of
    ``min_face`` px and up, or the face of an already aligned crop."""
    if aligned:
        face = _aligned_face(analyzer, image)
        return [] if face is None else [(image, face.landmarks, face.landmarks)]
    if all_faces:
        faces = [f for f in faces_68(analyzer, image) if f.size >= min_face]
    else:
        faces = [face] if (face := largest_face(analyzer, image)) is not None else []
    out = []
    for face in faces:
        try:
            aligned_crop, m = warp_face(image, kps5_from_68(face.landmarks), crop, size)
        except ValueError:  # degenerate landmarks: no similarity to fit
            continue
        out.append((aligned_crop, transform_points(face.landmarks, m), face.landmarks))
    return out


@dataclass
class _Identity:
    """What one identity folder gets: kept crops' landmarks and masks, and the dropped crops."""

    landmarks: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    dropped: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, Rejection]] = field(default_factory=list)


def prepare(
    src: Path,
    dst: Path,
    analyzer: FaceAnalyzer,
    crop: str = "arcface",
    size: int = 224,
    rules: CleaningRules | None = None,
    frame_interval: int = 10,
    aligned: bool = False,
    quiet: bool = False,
    parser: FaceParser | None = None,
    all_faces: bool = False,
    min_face: float = 80.0,
) -> Counter[str]:
    """Write DST/<identity>/*.png and landmarks.npz (and masks.npz with a ``parser``) from SRC/<identity>/
    files, the crops the ``rules`` (default: :class:`CleaningRules`'s) drop into DST/<identity>/rejected/, and
    DST/faces.csv; returns counts of "written" and of every reason of :data:`training.cleaning.REASONS` but
    "outlier". ``all_faces``: every face of at least ``min_face`` pixels (box side) instead of the largest one
    (film footage, to be sorted by training.cluster)."""
    rules = rules or CleaningRules()
    identities = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    files = [(who, f) for who in identities for f in sorted(who.iterdir()) if f.suffix.lower() in suffixes]
    if not files:
        raise InputError(f"no images or videos in identity folders of {src} (expected SRC/<identity>/*.jpg)")
    counts: Counter[str] = Counter()
    out: dict[str, _Identity] = {}
    rows: list[dict[str, str]] = []
    for who, file in tqdm(files, disable=quiet, unit="file", desc="prepare"):
        record = out.setdefault(who.name, _Identity())
        try:
            frames = list(_frames(file, frame_interval))
        except InputError:
            counts["unreadable"] += 1
            rows.append({"identity": who.name, "source": file.name, "status": "unreadable"})
            continue
        for stem, source, image in frames:
            found = _crops(analyzer, image, aligned, crop, size, all_faces, min_face)
            if not found:
                counts["no_face"] += 1
                rows.append({"identity": who.name, "source": source, "status": "no_face"})
            for k, (face_crop, landmarks, frame_landmarks) in enumerate(found):
                name = f"{stem}_face{k}.png" if all_faces else f"{stem}.png"
                labels = parser.labels(face_crop) if parser is not None else None
                quality = measure(frame_landmarks, image.shape[:2], face_crop, landmarks, labels)
                reason = verdict(quality, rules, crop, size)
                mask = parser.face_mask(labels) if parser is not None and labels is not None else None
                rows.append({"identity": who.name, "file": name, "source": source, "status": reason or "kept",
                             **quality.row()})  # fmt: skip
                counts[reason or "written"] += 1
                if reason is not None:
                    record.dropped.append((face_crop, landmarks, mask, (name, reason, *verdict_value(quality, reason))))
                    continue
                (dst / who.name).mkdir(parents=True, exist_ok=True)
                write_image(dst / who.name / name, face_crop)
                record.landmarks[name] = landmarks.astype(np.float32)
                if mask is not None:
                    record.masks[name] = mask
    for who, record in out.items():
        folder = dst / who
        update_npz(folder / LANDMARKS_FILE, record.landmarks)
        update_npz(folder / MASKS_FILE, record.masks)
        stale = [d[3] for d in record.dropped if (folder / d[3][0]).is_file()]  # kept by an earlier run
        move_to_rejected(folder, stale)
        write_rejected(folder, record.dropped)
    if rows:
        dst.mkdir(parents=True, exist_ok=True)
        write_faces(dst, rows)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("src", type=Path, help="folder of identity folders of photos and/or videos")
    parser.add_argument("dst", type=Path, help="output root (created; existing crops of the same name are replaced)")
    parser.add_argument("--crop", choices=sorted(TEMPLATES), default="arcface", help="alignment template")
    parser.add_argument("--size", type=int, default=224, help="crop side in pixels (default 224)")
    parser.add_argument("--frame-interval", type=int, default=10, help="use every N-th frame of videos")
    parser.add_argument("--aligned", action="store_true", help="SRC already holds aligned crops: keep them as they are")
    parser.add_argument("--all-faces", action="store_true", help="every face, not only the largest (film footage)")
    parser.add_argument("--min-face", type=float, default=80.0, help="with --all-faces: smallest face box side, px")
    parser.add_argument("--parsing-model", type=Path, help="face-parsing ONNX network: also write masks.npz")
    parser.add_argument(
        "--parsing-classes", default="1-13,17", help="labels that count as face (default: CelebAMask-HQ face and hair)"
    )
    parser.add_argument("--detector", choices=DETECTORS, default="auto")
    parser.add_argument("--models-dir", type=Path, help="an insightface model pack (see realtime.swap --help)")
    rules = parser.add_argument_group("cleaning rules (0 switches a rule off; see training.cleaning)")
    defaults = CleaningRules()
    for name, text in RULE_OPTIONS:
        flag = "--" + name.replace("_", "-")
        rules.add_argument(flag, type=float, default=getattr(defaults, name), help=f"{text} (default %(default)s)")
    rules.add_argument(
        "--no-landmark-check",
        action="store_true",
        help="keep faces whose landmarks are implausible (out of the crop or out of order)",
    )
    rules.add_argument(
        "--no-outliers",
        action="store_true",
        help="skip the identity-outlier pass at the end (python -m training.outliers)",
    )
    rules.add_argument(
        "--identity-model", type=Path, help="identity network of the outlier pass (default: the embedded dlib ResNet)"
    )
    rules.add_argument("--outlier-threshold", type=float, help="cosine distance to the identity's centre (default: "
                       "the network's own, printed)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary (errors still print)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.size < 64 or args.frame_interval < 1:
            raise UsageError("--size must be >= 64 and --frame-interval >= 1")
        if min(args.max_roll, args.min_coverage, args.min_sharpness, args.min_visible, args.max_hair) < 0:
            raise UsageError("rule thresholds must be >= 0 (0 switches a rule off)")
        if not args.src.is_dir():
            raise InputError(f"source folder not found: {args.src}")
        if args.src.resolve() == args.dst.resolve():
            raise UsageError("DST must differ from SRC")
        try:
            classes = parse_classes(args.parsing_classes)
        except ValueError as exc:
            raise UsageError(f"--parsing-classes: {exc}") from None
        rules = CleaningRules(args.max_roll, args.min_coverage, args.min_sharpness, not args.no_landmark_check,
                              args.min_visible, args.max_hair)  # fmt: skip
        face_parser = FaceParser(args.parsing_model, classes) if args.parsing_model else None
        encoder = None
        if not args.no_outliers and not args.all_faces:  # loaded first: a bad model fails before the long part
            encoder = load_identity_encoder(args.identity_model or default_identity_model())
        analyzer = create_analyzer(args.detector, args.models_dir)
        quiet = not show_progress(args.quiet)
        counts = prepare(args.src, args.dst, analyzer, args.crop, args.size, rules, args.frame_interval, args.aligned,
                         quiet, face_parser, args.all_faces, args.min_face)  # fmt: skip
        if not args.quiet:
            summary = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in ("written", *REASONS[:-1]) if counts[k])
            print(f"{PROG}: {summary or 'nothing'} -> {args.dst} ({analyzer.describe()})", file=sys.stderr)
        if not counts["written"]:
            raise InputError(f"no usable face found in {args.src}")
        if encoder is not None:
            report = clean_outliers(args.dst, encoder, args.outlier_threshold, quiet=quiet)
            if not args.quiet:
                print(f"{PROG}: {report.summary()}", file=sys.stderr)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
