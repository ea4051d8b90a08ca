"""Load the source identity: one image, a folder of images, or a video of the source person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.errors import InputError
from realtime.faces.pick import frontality
from realtime.faces.types import Face
from realtime.io.images import IMAGE_SUFFIXES, image_files, read_image
from realtime.io.video import VIDEO_SUFFIXES, VideoReader

__all__ = ["SourceIdentity", "load_source"]


@dataclass
class SourceIdentity:
    """The face to paste (``image`` RGB uint8 and its ``face``: the largest, most frontal one found), the mean
    descriptor over every source face (``embedding``, the backend's metric space), and how many went into it."""

    image: np.ndarray
    face: Face
    embedding: np.ndarray
    count: int


def _source_images(path: Path, video_samples: int, allow_incomplete: bool) -> Iterator[np.ndarray]:
    """The source's pictures, one at a time: a folder's images, one image, or ``video_samples`` frames spread over
    a video (only those frames are kept in memory)."""
    if path.is_dir():
        files = image_files(path)
        if not files:
            raise InputError(f"source folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))}): {path}")
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
        raise InputError(f"source not found: {path}")
    raise InputError(f"source must be an image, a folder of images or a video, got {path}")


def load_source(  # type: ignore[no-untyped-def]
    path: str | Path, analyzer, video_samples: int = 8, allow_incomplete: bool = False
) -> SourceIdentity:
    """Detect the source person's faces and build a :class:`SourceIdentity`; InputError when none is found, and
    for a truncated or damaged source video unless ``allow_incomplete``."""
    path = Path(path)
    best: tuple[float, np.ndarray, Face] | None = None
    embeddings = []
    for image in _source_images(path, video_samples, allow_incomplete):
        faces = analyzer.detect(image)
        if not faces:
            continue
        face = faces[0]  # the largest face of each source image is the source person
        embeddings.append(analyzer.embed(image, face).astype(np.float64))
        score = frontality(face)
        if best is None or score > best[0]:
            best = (score, image, face)
    if best is None:
        raise InputError(f"no face found in the source {path}")
    mean = np.mean(embeddings, axis=0).astype(np.float32)
    return SourceIdentity(image=best[1], face=best[2], embedding=mean, count=len(embeddings))
