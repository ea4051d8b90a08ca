"""invisible-watermark's dwtDctSvd mark on still images, carrying the same payload: readable by that library's own
decoder."""

from __future__ import annotations

import cv2
import numpy as np

from realtime.watermark.payload import PAYLOAD_BITS, decode_payload, payload_bytes

__all__ = ["COMPAT_MIN_SIDE", "embed_compat", "read_compat"]

# invisible-watermark's dwtDctSvd mark, for still images: readable by its own WatermarkDecoder("bytes", 64)
COMPAT_METHOD = "dwtDctSvd"  # its dwtDct variant misreads 2-14 of 64 bits on package images even before saving
COMPAT_MIN_SIDE = 256  # invisible-watermark needs at least this many pixels on each side


def embed_compat(image: np.ndarray, user_id: int = 0) -> np.ndarray:
    """The payload for ``user_id`` added with invisible-watermark's dwtDctSvd to an RGB uint8 image (sides >= 256;
    ValueError otherwise). Apply after :meth:`Watermarker.embed`: dwtDctSvd changes fine detail the robust mark
    ignores, the reverse is not true."""
    from imwatermark import WatermarkEncoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        raise ValueError(
            f"invisible-watermark needs an image of at least {COMPAT_MIN_SIDE}x{COMPAT_MIN_SIDE}, got {image.shape}"
        )
    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", payload_bytes(user_id))
    return cv2.cvtColor(encoder.encode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD), cv2.COLOR_BGR2RGB)


def read_compat(image: np.ndarray) -> int | None:
    """The user id in an image's dwtDctSvd mark (RGB uint8), or None when there is no valid one."""
    from imwatermark import WatermarkDecoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        return None
    raw = WatermarkDecoder("bytes", PAYLOAD_BITS).decode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD)
    return decode_payload(np.unpackbits(np.frombuffer(bytes(raw), np.uint8)).astype(bool))
