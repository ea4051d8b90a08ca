"""What happens to an output after it leaves realtime: re-encoding at other sizes and qualities, and the edits people
make when reposting (crops, flips, letterboxing, brightness and contrast, JPEG re-saves, screenshot-like resizes).
``bench/watermark.py`` runs the mark through every one of them; the tests use the same functions.

Frames are RGB uint8 [H, W, 3] throughout.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

Edit = Callable[[np.ndarray], np.ndarray]


def h264(frames: list[np.ndarray], crf: int, scale: float = 1.0, min_width: int = 320) -> list[np.ndarray]:
    """``frames`` through libx264 (yuv420p, preset veryfast, 30 fps) at ``crf``, resized by ``scale`` (area
    interpolation, even sides, never narrower than ``min_width``), then decoded again."""
    h, w = frames[0].shape[:2]
    w2 = max(round(w * scale), min(min_width, w)) // 2 * 2
    h2 = round(h * w2 / w) // 2 * 2
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "clip.mp4")
        with av.open(path, "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(30))
            stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast"}
            for frame in frames:
                image = frame if (w2, h2) == (w, h) else cv2.resize(frame, (w2, h2), interpolation=cv2.INTER_AREA)
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        with av.open(path) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def crop(left: float, top: float, right: float, bottom: float) -> Edit:
    """Cut those fractions of the width (left, right) and height (top, bottom) away."""

    def edit(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        return frame[round(top * h) : h - round(bottom * h), round(left * w) : w - round(right * w)]

    return edit


def flip(frame: np.ndarray) -> np.ndarray:
    """Mirrored left to right."""
    return np.ascontiguousarray(frame[:, ::-1])


def pad_to(aspect: float, colour: int = 0) -> Edit:
    """Bars of ``colour`` added (centred) to reach width/height = ``aspect``: letterboxing above and below for a
    narrower aspect, pillarboxing left and right for a wider one; the picture itself is not resized."""

    def edit(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if w / h > aspect:
            extra = round(w / aspect) - h
            return cv2.copyMakeBorder(
                frame, extra // 2, extra - extra // 2, 0, 0, cv2.BORDER_CONSTANT, value=[colour] * 3
            )
        extra = round(h * aspect) - w
        return cv2.copyMakeBorder(frame, 0, 0, extra // 2, extra - extra // 2, cv2.BORDER_CONSTANT, value=[colour] * 3)

    return edit


def brightness(delta: int) -> Edit:
    """``delta`` grey levels added to every channel (saturating)."""
    return lambda frame: np.clip(frame.astype(np.int16) + delta, 0, 255).astype(np.uint8)


def contrast(gain: float) -> Edit:
    """Contrast scaled by ``gain`` around mid-grey (saturating), as an editor's contrast slider does."""
    return lambda frame: np.clip((frame.astype(np.float32) - 128.0) * gain + 128.0 + 0.5, 0, 255).astype(np.uint8)


def jpeg(quality: int) -> Edit:
    """A JPEG save at ``quality`` (4:2:0, OpenCV's encoder) and a decode."""

    def edit(image: np.ndarray) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    return edit


def resize(scale: float) -> Edit:
    """A screenshot-like resize by ``scale`` (bilinear, as screen scaling does; PNG keeps it losslessly)."""

    def edit(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)

    return edit


# the reposting edits, each followed by an H.264 re-encode at crf 23 in bench/watermark.py
REPOST_EDITS: dict[str, Edit] = {
    "crop 10% each side": crop(0.10, 0.10, 0.10, 0.10),
    "crop 5/10/0/7% (l/t/r/b)": crop(0.05, 0.10, 0.0, 0.07),
    "crop 10% left only": crop(0.10, 0.0, 0.0, 0.0),
    "horizontal flip": flip,
    "letterbox to 4:3": pad_to(4 / 3),
    "letterbox to 1:1": pad_to(1.0),
    "pillarbox to 21:9": pad_to(21 / 9),
    "pad to 9:16, grey bars": pad_to(9 / 16, colour=40),
    "brightness +25": brightness(25),
    "brightness -25": brightness(-25),
    "contrast x0.75": contrast(0.75),
    "contrast x1.3": contrast(1.3),
}
