"""Provenance tags in the file itself: every output says it is synthetic media and which tool made it.

Videos get container tags (``comment`` everywhere, which even AVI keeps, plus ``synthetic`` and ``generator`` where
the container takes free-form keys: MP4/MOV with ``use_metadata_tags``, Matroska/WebM). Images get an XMP packet
with IPTC's digital source type for composites with AI-generated media (JPEG, PNG, WebP, TIFF), EXIF
ImageDescription and Software (JPEG, PNG, WebP, TIFF), PNG text chunks and a JPEG comment. BMP has no place for
metadata; its pixels still carry the watermark.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import av

from realtime import __version__

__all__ = ["GENERATOR", "image_save_options", "provenance_tags", "read_provenance"]

GENERATOR = f"realtime {__version__}"
# IPTC NewsCodes digital source type: a composite that includes trained-algorithm (AI) output, i.e. a face swap
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
_SENTENCE = "synthetic media (AI-generated): faces swapped by {generator}"
_EXIF_DESCRIPTION, _EXIF_SOFTWARE = 0x010E, 0x0131


def provenance_tags() -> dict[str, str]:
    """Container tags for a video output."""
    return {"comment": _SENTENCE.format(generator=GENERATOR), "synthetic": "true", "generator": GENERATOR}


def _xmp() -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}" '
        f'xmp:CreatorTool="{GENERATOR}"/></rdf:RDF></x:xmpmeta>'
    ).encode()


def image_save_options(suffix: str, tags: bool = True) -> dict[str, object]:
    """Keyword arguments for ``PIL.Image.save`` for a ``suffix`` image: quality settings, and the provenance tags
    unless ``tags`` is False."""
    from PIL import Image, PngImagePlugin

    suffix = suffix.lower()
    if not tags:
        return {"quality": 95} if suffix in (".jpg", ".jpeg") else {"lossless": True} if suffix == ".webp" else {}
    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = _SENTENCE.format(generator=GENERATOR)
    exif[_EXIF_SOFTWARE] = GENERATOR
    if suffix in (".jpg", ".jpeg"):
        comment = _SENTENCE.format(generator=GENERATOR).encode()
        return {"exif": exif, "xmp": _xmp(), "comment": comment, "quality": 95}
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        for key, value in provenance_tags().items():
            info.add_text(key, value)
        info.add_text("XML:com.adobe.xmp", _xmp().decode())
        return {"pnginfo": info, "exif": exif}
    if suffix == ".webp":
        return {"exif": exif, "xmp": _xmp(), "lossless": True}
    if suffix in (".tif", ".tiff"):
        return {"exif": exif}
    return {}  # .bmp: the format has no metadata


def _video_tags(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return {k.lower(): str(v) for k, v in container.metadata.items()}


def _image_tags(path: Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as image:
        tags = {str(k).lower(): v for k, v in image.info.items() if isinstance(v, str | bytes)}
        exif = image.getexif()
    if _EXIF_DESCRIPTION in exif:
        tags["description"] = str(exif[_EXIF_DESCRIPTION])
    if _EXIF_SOFTWARE in exif:
        tags.setdefault("generator", str(exif[_EXIF_SOFTWARE]))
    xmp = tags.pop("xmp", None) or tags.pop("xml:com.adobe.xmp", None)
    if xmp is not None:
        text = xmp.decode(errors="replace") if isinstance(xmp, bytes) else xmp
        found = re.search(r'DigitalSourceType="([^"]+)"', text)
        if found:
            tags["digital_source_type"] = found.group(1)
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else v for k, v in tags.items()}


def read_provenance(path: str | os.PathLike[str], kind: str) -> str | None:
    """The synthetic-media statement in a file's metadata (``kind`` is 'video' or 'image'), e.g.
    "synthetic (realtime 0.1.0)"; None when the file carries none. Raises what the readers raise on bad files."""
    tags = _video_tags(Path(path)) if kind == "video" else _image_tags(Path(path))
    text = " ".join(str(v) for v in tags.values()).lower()
    synthetic = (
        tags.get("synthetic") == "true"
        or tags.get("digital_source_type", "").endswith("TrainedAlgorithmicMedia")
        or "synthetic media" in text
    )
    if not synthetic:
        return None
    generator = tags.get("generator") or next(
        (m.group(1) for m in [re.search(r"swapped by (\S+ \S+)", text)] if m), "unknown tool"
    )
    return f"synthetic ({generator})"
