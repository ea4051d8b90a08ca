"""``python -m training.prepare SRC DST``: turn identity folders of photos (and video clips) into training data:
aligned face crops, blur-filtered, with 68 landmarks per crop for the discriminator mask.

SRC holds one folder per identity (``SRC/<identity>/*.jpg|png|mp4...``); DST gets the same folders with one crop
per usable face (the largest face of each image, or of every --frame-interval-th video frame), aligned with the
chosen template (ArcFace's at 224 for SimSwap 224; FFHQ's at 512 or 1024 for the high-resolution models), plus
``landmarks.npz`` (68 points per crop, crop pixels). Faces whose crop is blurred (variance of the Laplacian of the
crop at 256 px below --min-sharpness) are dropped, as in the movie-data pipeline (thresholds 20-30 there).
Already-aligned datasets (VGGFace2-224) go through with --aligned: the crops are kept and only landmarks and the
blur filter are added. For film footage, --all-faces keeps every face of a frame (not only the largest) in the
film's folder, for python -m training.cluster to sort by identity. With --parsing-model (a face-parsing ONNX
network, see training.parsing) each crop's face and hair mask is stored in ``masks.npz`` too, for train --mask
parsing.

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
from realtime.io.files import TempOutput
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.video import VIDEO_SUFFIXES, VideoReader
from training.data import LANDMARKS_FILE
from training.parsing import MASKS_FILE, FaceParser, parse_classes

PROG = "python -m training.prepare"


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop resized to 256x256 (so thresholds do not depend on --size)."""
    grey = cv2.cvtColor(cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _frames(path: Path, interval: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name stem, RGB image) for an image, or for every ``interval``-th frame of a video."""
    if path.suffix.lower() in VIDEO_SUFFIXES:
        with VideoReader(path) as reader:
            for frame in reader:
                if frame.index % interval == 0:
                    yield f"{path.stem}_f{frame.index:06d}", frame.image
    else:
        yield path.stem, read_image(path)


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
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(crop, its 68 landmarks) for the image's largest face, or all faces of ``min_face`` px and up, or the face
    of an already aligned crop."""
    if aligned:
        face = _aligned_face(analyzer, image)
        return [] if face is None else [(image, face.landmarks)]
    if all_faces:
        faces = [f for f in faces_68(analyzer, image) if f.size >= min_face]
    else:
        faces = [face] if (face := largest_face(analyzer, image)) is not None else []
    out = []
    for face in faces:
        aligned_crop, m = warp_face(image, kps5_from_68(face.landmarks), crop, size)
        out.append((aligned_crop, transform_points(face.landmarks, m)))
    return out


def prepare(
    src: Path,
    dst: Path,
    analyzer: FaceAnalyzer,
    crop: str = "arcface",
    size: int = 224,
    min_sharpness: float = 0.0,
    frame_interval: int = 10,
    aligned: bool = False,
    quiet: bool = False,
    parser: FaceParser | None = None,
    all_faces: bool = False,
    min_face: float = 80.0,
) -> Counter[str]:
    """Write DST/<identity>/*.png and landmarks.npz (and masks.npz with a ``parser``) from SRC/<identity>/ files;
    returns counts of "written", "no_face", "blurred" and "unreadable". ``all_faces``: every face of at least
    ``min_face`` pixels (box side) instead of the largest one (film footage, to be sorted by training.cluster)."""
    identities = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    suffixes = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    files = [(who, f) for who in identities for f in sorted(who.iterdir()) if f.suffix.lower() in suffixes]
    if not files:
        raise InputError(f"no images or videos in identity folders of {src} (expected SRC/<identity>/*.jpg)")
    counts: Counter[str] = Counter()
    table: dict[str, dict[str, np.ndarray]] = {}
    masks: dict[str, dict[str, np.ndarray]] = {}
    for who, file in tqdm(files, disable=quiet, unit="file", desc="prepare"):
        try:
            frames = list(_frames(file, frame_interval))
        except InputError:
            counts["unreadable"] += 1
            continue
        for stem, image in frames:
            crops = _crops(analyzer, image, aligned, crop, size, all_faces, min_face)
            if not crops:
                counts["no_face"] += 1
            for k, (out, landmarks) in enumerate(crops):
                if sharpness(out) < min_sharpness:
                    counts["blurred"] += 1
                    continue
                name = f"{stem}_face{k}.png" if all_faces else f"{stem}.png"
                (dst / who.name).mkdir(parents=True, exist_ok=True)
                write_image(dst / who.name / name, out)
                table.setdefault(who.name, {})[name] = landmarks.astype(np.float32)
                if parser is not None:
                    masks.setdefault(who.name, {})[name] = parser(out)
                counts["written"] += 1
    for file, content in ((LANDMARKS_FILE, table), (MASKS_FILE, masks)):
        for who, arrays in content.items():
            with TempOutput(dst / who / file) as temp, open(temp, "wb") as f:
                np.savez_compressed(f, **arrays)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("src", type=Path, help="folder of identity folders of photos and/or videos")
    parser.add_argument("dst", type=Path, help="output root (created; existing crops of the same name are replaced)")
    parser.add_argument("--crop", choices=sorted(TEMPLATES), default="arcface", help="alignment template")
    parser.add_argument("--size", type=int, default=224, help="crop side in pixels (default 224)")
    parser.add_argument("--min-sharpness", type=float, default=0.0, help="drop crops blurrier than this (e.g. 25)")
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
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary (errors still print)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.size < 64 or args.frame_interval < 1:
            raise UsageError("--size must be >= 64 and --frame-interval >= 1")
        if not args.src.is_dir():
            raise InputError(f"source folder not found: {args.src}")
        if args.src.resolve() == args.dst.resolve():
            raise UsageError("DST must differ from SRC")
        try:
            classes = parse_classes(args.parsing_classes)
        except ValueError as exc:
            raise UsageError(f"--parsing-classes: {exc}") from None
        face_parser = FaceParser(args.parsing_model, classes) if args.parsing_model else None
        analyzer = create_analyzer(args.detector, args.models_dir)
        counts = prepare(args.src, args.dst, analyzer, args.crop, args.size, args.min_sharpness,
                         args.frame_interval, args.aligned, not show_progress(args.quiet), face_parser, args.all_faces,
                         args.min_face)  # fmt: skip
        if not args.quiet:
            summary = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in ("written", "no_face", "blurred",
                                                                               "unreadable"))  # fmt: skip
            print(f"{PROG}: {summary} -> {args.dst} ({analyzer.describe()})", file=sys.stderr)
        if not counts["written"]:
            raise InputError(f"no usable face found in {args.src}")
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
