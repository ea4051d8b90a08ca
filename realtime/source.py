"""Load the source person: one image, a folder of images, or a video of them.

From a folder or a video, up to ``max_faces`` distinct pictures of the person are kept: candidates (the largest face
of each image, or of frames spread over the video) are taken best first (largest and most frontal) and one is kept
only when it differs from every kept one in head pose or mouth by at least ``MIN_APART`` (degrees of head turn,
:func:`~realtime.faces.pose.pose_distance`). The classic swapper then warps, onto each target face, the picture
that looks most like it; neural swappers average the identity over them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.errors import InputError
from realtime.faces.pick import frontality, largest_face
from realtime.faces.pose import pose_distance
from realtime.faces.types import FaceAnalyzer
from realtime.io.images import IMAGE_SUFFIXES, image_files, read_image
from realtime.io.video import VIDEO_SUFFIXES, VideoReader
from realtime.swappers.base import SourceFace, SourceSet

__all__ = ["MIN_APART", "SourceIdentity", "load_source"]

MIN_APART = 4.0  # source pictures closer than this (pose_distance) are near-duplicates: one is enough
EMBEDDED = 16  # pictures whose descriptors make up the mean ``embedding``


@dataclass
class SourceIdentity:
    """The source person: the pictures a swapper may use (``faces``, best first), the mean descriptor of the first
    of them (``embedding``, in the analyzer's metric space: what reference mode compares tracks with), how many
    faces were found before near-duplicates were dropped (``count``), and where they came from (``path``)."""

    faces: SourceSet
    embedding: np.ndarray
    count: int
    path: Path


def _source_images(path: Path, video_samples: int, allow_incomplete: bool, role: str) -> Iterator[np.ndarray]:
    """The source's pictures, one at a time: a folder's images, one image, or ``video_samples`` frames spread over
    a video (one at a time: the video is never held in memory)."""
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise InputError(f"{role} folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))}): {path}")
        yield from (read_image(p) for p in files)
        return
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        yield read_image(path)
        return
    if suffix in VIDEO_SUFFIXES:
        with VideoReader(path, allow_incomplete=allow_incomplete) as reader:
            total = reader.info.frames or round(reader.info.duration * float(reader.info.fps)) or video_samples
            step = max(1, total // video_samples)
            for frame in reader:
                if frame.index % step == 0:
                    yield frame.image
                    if frame.index // step + 1 >= video_samples:
                        break  # the rest of the video is not needed
        return
    if not path.exists():
        raise InputError(f"{role} not found: {path}")
    raise InputError(f"{role} must be an image, a folder of images or a video, got {path}")


def load_source(
    path: str | Path,
    analyzer: FaceAnalyzer,
    max_faces: int = 64,
    allow_incomplete: bool = False,
    role: str = "source",
) -> SourceIdentity:
    """Detect the person's faces and build a :class:`SourceIdentity` of up to ``max_faces`` distinct pictures;
    InputError when no face is found, and for a truncated or damaged video unless ``allow_incomplete``. ``role``
    names the path in those messages ("source", "reference", "--map target" ...)."""
    path = Path(path)
    candidates: list[tuple[float, SourceFace]] = []
    for image in _source_images(path, max(8, 2 * max_faces), allow_incomplete, role):
        face = largest_face(analyzer, image)  # the largest face of each source image is the source person
        if face is not None:
            candidates.append((frontality(face), SourceFace.of(image, face)))
    if not candidates:
        raise InputError(f"no face found in the {role} {path}")
    kept: list[SourceFace] = []
    for _, candidate in sorted(candidates, key=lambda c: -c[0]):
        if len(kept) == max_faces:
            break
        if all(pose_distance(candidate.pose, candidate.mouth, k.pose, k.mouth) >= MIN_APART for k in kept):
            kept.append(candidate)
    vectors = [np.asarray(analyzer.embed(f.image, f.face), np.float64) for f in kept[:EMBEDDED]]
    return SourceIdentity(SourceSet(tuple(kept)), np.mean(vectors, axis=0).astype(np.float32), len(candidates), path)
