"""What happens to an output after it leaves realtime: re-encoding at other sizes and qualities, and the edits people
make when reposting (crops, flips, letterboxing, brightness and contrast, JPEG re-saves, screenshot-like resizes);
and clean (unmarked) clips and images to check the detector against. ``bench/watermark.py`` runs the mark through
every one of them; the tests use the same functions.

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

from realtime.samples import ClipSpec, face_image, render_frame

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


def clean_clip(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """Clip k of 50 unmarked 8-frame clips: package faces moving at various sizes and aspect ratios, some
    mirrored, letterboxed, darkened or noisier, as RGB uint8 frames (never encoded: the mark's absence is what is
    tested, not the codec)."""
    faces = ("astronaut", "group", "trio", "person")
    width, height = [(320, 180), (640, 360), (480, 360), (400, 400), (854, 480), (360, 640)][k % 6]
    spec = ClipSpec(width=width, height=height, face=faces[k % 4], noise=float(rng.uniform(0.5, 4.0)))
    start = float(rng.uniform(0, 3))
    picture = face_image(spec.face)
    frames = [render_frame(picture, start + i / 30, spec) for i in range(8)]
    edit = [lambda f: f, flip, pad_to(1.0), brightness(-30), contrast(1.2)][k % 5]
    return [edit(f) for f in frames]


def clean_images(rng: np.random.Generator) -> list[np.ndarray]:
    """200 unmarked images: package pictures, random crops and rescales of them, mirrored, JPEG-saved, and noise."""
    from skimage import data

    pictures = [face_image(n) for n in ("astronaut", "group", "trio", "person")]
    for name in ("brick", "camera", "chelsea", "clock", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
                 "immunohistochemistry", "moon", "retina", "rocket", "page", "text", "horse"):  # fmt: skip
        image = getattr(data, name)()
        image = (image * 255).astype(np.uint8) if image.dtype == bool else image
        pictures.append(np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]))
    images = list(pictures)
    while len(images) < 200:
        picture = pictures[int(rng.integers(len(pictures)))]
        h, w = picture.shape[:2]
        top, left = int(rng.integers(0, h // 4)), int(rng.integers(0, w // 4))
        cut = picture[top : top + int(rng.integers(h // 2, h - top)), left : left + int(rng.integers(w // 2, w - left))]
        scale = float(rng.uniform(0.5, 2.0))
        image = cv2.resize(cut, (max(64, round(cut.shape[1] * scale)), max(64, round(cut.shape[0] * scale))))
        edit = [lambda f: f, flip, jpeg(int(rng.integers(40, 95)))][len(images) % 3]
        images.append(np.ascontiguousarray(edit(image)))
    images[-1] = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    return images
