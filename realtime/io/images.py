"""Still images in and out (RGB uint8 in memory; written through a temporary file)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError, OutputError, UsageError
from realtime.io.files import TempOutput, write_failure
from realtime.io.metadata import image_save_options

__all__ = ["IMAGE_SUFFIXES", "image_files", "read_image", "write_image"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
_PIL_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP", ".tif": "TIFF"}
_PIL_FORMAT[".tiff"] = "TIFF"


def image_files(folder: Path) -> list[Path]:
    """The image files (by suffix, any case) directly in ``folder``, sorted by name; hidden files are skipped."""
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """RGB uint8 [H,W,3] from an image file; InputError when missing, empty or undecodable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"image not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"image is empty (0 bytes): {p}")
    image = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode image: {p}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(
    path: str | os.PathLike[str],
    image: np.ndarray,
    quality: int = 95,
    synthetic: bool = False,
    finish: Callable[[Path], None] | None = None,
) -> None:
    """Write RGB uint8 [H,W,3] to ``path`` (format by suffix, JPEG at ``quality``, WebP lossless) via a temporary
    file renamed on success; ``synthetic`` adds the synthetic-media tags of :mod:`realtime.io.metadata`;
    ``finish`` is called with the complete temporary file before the rename (see :class:`TempOutput`)."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise UsageError(f"unsupported output image extension {suffix!r}; use one of {sorted(IMAGE_SUFFIXES)}")
    options = image_save_options(suffix, tags=synthetic)
    if "quality" in options:
        options["quality"] = quality
    with TempOutput(path, finish) as temp:
        try:
            Image.fromarray(np.ascontiguousarray(image)).save(temp, format=_PIL_FORMAT[suffix], **options)
        except OSError as exc:
            raise write_failure(exc, Path(path)) or OutputError(f"cannot write image {path}: {exc}") from exc
