"""Sample media from faces that ship with installed packages (no media is downloaded or committed): the package
face pictures, a source-face image, and synthetic clips of a face filmed by a virtual camera.

A clip shows a face image (skimage's astronaut, or insightface's six-person t1.jpg) filmed by a virtual camera:
a moving stretch (pan and zoom), a still stretch with sensor noise, and a lighting change, with a sine-tone audio
track. Options make the awkward cases: variable frame rate, a rotation flag, odd frame sizes. The demo CLI
(``python -m realtime.demo``), the tests, the benchmarks and training's sample data all use this module.

It writes with PyAV directly (not with realtime.io), so tests of our reader and writer do not grade themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

__all__ = [
    "CROWD",
    "FACES",
    "ClipSpec",
    "crowd_positions",
    "face_image",
    "make_clip",
    "person_photos",
    "render_crowd",
    "render_frame",
    "write_source_face",
]


FACES = ("astronaut", "group", "trio", "person")
CROWD = (0, 2, 4)  # the people of person_photos() who walk through a crowd clip (face="crowd")
CROWD_TILE = 160  # their photos' side in the clip, pixels


def face_image(name: str) -> np.ndarray:
    """RGB uint8 picture from an installed package: ``astronaut`` (one face, skimage), ``group`` (six people,
    insightface's t1.jpg), ``trio`` (the left three of them) or ``person`` (one man of t1.jpg, 300x300: the source
    face of the demos)."""
    if name == "person":
        return np.ascontiguousarray(face_image("group")[150:450, 350:650])
    if name == "astronaut":
        from skimage import data

        return data.astronaut()
    if name == "trio":
        return np.ascontiguousarray(face_image("group")[100:500, :700])
    if name == "group":
        import insightface

        path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    raise ValueError(f"unknown face image {name!r}; choose one of {', '.join(FACES)}")


def person_photos() -> list[np.ndarray]:
    """One RGB uint8 photo per person of the package pictures, left to right in t1.jpg, then the astronaut: a region
    of twice the face box around each of t1's six faces (found with the embedded dlib detector), and the top of
    the astronaut picture."""
    from realtime.faces.dlib_backend import DlibAnalyzer

    group = face_image("group")
    photos = []
    for face in sorted(DlibAnalyzer().detect(group), key=lambda f: f.bbox[0]):
        x0, y0, x1, y1 = face.bbox
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
        top, left = int(max(cy - half, 0)), int(max(cx - half, 0))
        photos.append(np.ascontiguousarray(group[top : int(cy + half), left : int(cx + half)]))
    photos.append(face_image("astronaut")[:300, 100:400])
    return photos


def write_source_face(path: str | Path) -> Path:
    """Write one person of insightface's t1.jpg (a 300x300 crop around a face) as an image to use as --source."""
    if not cv2.imwrite(str(path), cv2.cvtColor(face_image("person"), cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return Path(path)


@dataclass(frozen=True)
class ClipSpec:
    """What :func:`make_clip` renders. ``still`` is the (start, end) of the motionless stretch in seconds and
    ``light`` the (start, end) over which brightness ramps down by ``light_drop``."""

    width: int = 1280
    height: int = 720
    seconds: float = 4.0
    fps: int = 30
    face: str = "astronaut"  # one of FACES, or "crowd": three people walking, two of them crossing
    still: tuple[float, float] = (1.5, 2.5)
    light: tuple[float, float] = (2.5, 3.5)
    light_drop: float = 0.3
    audio: bool = True
    vfr: bool = False
    rotation: int = 0  # display rotation metadata, degrees counter-clockwise
    crf: int = 16
    noise: float = 2.0  # per-frame sensor noise (grey levels, std): real footage is never bit-identical when still
    keyint: int | None = None  # frames between keyframes (None: x264's default, 250); films have one every few s


def _camera(t: float, spec: ClipSpec) -> tuple[float, float, float]:
    """(zoom, x shift, y shift) of the virtual camera at time t: moves, then holds still, then moves again."""
    s0, s1 = spec.still
    tm = t if t < s0 else s0 if t < s1 else t - (s1 - s0)  # motion time freezes during the still stretch
    return 1.0 + 0.15 * np.sin(0.9 * tm), 0.08 * np.sin(1.3 * tm), 0.05 * np.sin(0.7 * tm + 0.5)


def render_frame(source: np.ndarray, t: float, spec: ClipSpec) -> np.ndarray:
    """The clip's display-oriented RGB uint8 frame [height, width, 3] at time t seconds (the sensor noise is
    deterministic per timestamp)."""
    h, w = spec.height, spec.width
    zoom, dx, dy = _camera(t, spec)
    sh, sw = source.shape[:2]
    scale = zoom * min(w / sw, h / sh) * 0.9
    m = np.array([[scale, 0, w / 2 - scale * sw / 2 + dx * w], [0, scale, h / 2 - scale * sh / 2 + dy * h]])
    # replicate the edge (a reflected border would mirror the face into a second one)
    frame = cv2.warpAffine(source, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    l0, l1 = spec.light
    gain = 1.0 - spec.light_drop * float(np.clip((t - l0) / max(l1 - l0, 1e-6), 0, 1))
    out = frame.astype(np.float32) * gain
    if spec.noise > 0:
        rng = np.random.default_rng(round(t * 1e6))  # deterministic per timestamp
        out += rng.normal(0.0, spec.noise, out.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def crowd_positions(t: float, spec: ClipSpec) -> list[tuple[float, float]]:
    """Where the centres of the crowd clip's three faces are at ``t`` seconds, in :data:`CROWD` order: the first
    walks left to right, the second right to left a little lower (they cross half-way, the second in front), the
    third stands on the right, swaying."""
    w, h = spec.width, spec.height
    u = float(np.clip(t / spec.seconds, 0.0, 1.0))
    half = CROWD_TILE / 2
    left, right = half + 0.02 * w, 0.62 * w - half
    return [
        (left + u * (right - left), half + 0.03 * h),
        (right - u * (right - left), half + 0.03 * h + 0.45 * CROWD_TILE),
        (0.82 * w, h - half - 0.04 * h - 0.03 * h * (1 + np.sin(2 * np.pi * t / 2.0))),
    ]


def render_crowd(photos: list[np.ndarray], t: float, spec: ClipSpec) -> np.ndarray:
    """The crowd clip's RGB uint8 frame at ``t`` seconds: the :data:`CROWD` people of ``photos``
    (:func:`person_photos`) at :func:`crowd_positions` on a grey gradient, each photo blended in by a soft oval, with
    the clip's sensor noise."""
    h, w = spec.height, spec.width
    canvas = np.repeat(np.linspace(90, 170, w, dtype=np.float32)[None, :, None], h, 0).repeat(3, 2)
    yy, xx = np.mgrid[0:CROWD_TILE, 0:CROWD_TILE].astype(np.float32) / (CROWD_TILE - 1) - 0.5
    oval = np.clip((0.5 - np.hypot(xx / 0.9, yy)) / 0.08, 0.0, 1.0)[..., None]
    for k, (cx, cy) in zip(CROWD, crowd_positions(t, spec), strict=True):
        tile = cv2.resize(photos[k], (CROWD_TILE, CROWD_TILE), interpolation=cv2.INTER_AREA).astype(np.float32)
        x0, y0 = round(cx - CROWD_TILE / 2), round(cy - CROWD_TILE / 2)
        region = canvas[y0 : y0 + CROWD_TILE, x0 : x0 + CROWD_TILE]
        region += oval * (tile - region)
    if spec.noise > 0:
        canvas += np.random.default_rng(round(t * 1e6)).normal(0.0, spec.noise, canvas.shape).astype(np.float32)
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)


def _timestamps(spec: ClipSpec) -> list[int]:
    """Frame pts in a 1/(2·fps) time base; with ``vfr`` the gaps alternate between 1 and 3 ticks."""
    n = round(spec.seconds * spec.fps)
    if not spec.vfr:
        return [2 * i for i in range(n)]
    pts, t = [], 0
    while len(pts) < n:
        pts.append(t)
        t += 1 if len(pts) % 2 else 3
    return pts


def make_clip(path: str | Path, spec: ClipSpec | None = None) -> Path:
    """Write the clip described by ``spec`` to ``path`` (H.264 in the suffix's container, AAC audio)."""
    spec = spec or ClipSpec()
    path = Path(path)
    if spec.face == "crowd":
        photos = person_photos()
        render = lambda t: render_crowd(photos, t, spec)  # noqa: E731
    else:
        source = face_image(spec.face)
        render = lambda t: render_frame(source, t, spec)  # noqa: E731
    time_base = Fraction(1, 2 * spec.fps)
    stored_w, stored_h = (spec.height, spec.width) if spec.rotation in (90, 270) else (spec.width, spec.height)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=spec.fps)
        video.width, video.height = stored_w, stored_h
        video.pix_fmt = "yuv420p" if stored_w % 2 == 0 and stored_h % 2 == 0 else "yuv444p"
        video.time_base = time_base
        video.codec_context.time_base = time_base
        video.options = {"crf": str(spec.crf), "preset": "veryfast"}
        if spec.keyint is not None:
            video.options = {**video.options, "g": str(spec.keyint), "sc_threshold": "0"}
        if spec.rotation:
            video.set_display_rotation(spec.rotation)
        audio = _add_tone_stream(container) if spec.audio else None  # every stream exists before the first packet
        for pts in _timestamps(spec):
            display = render(float(pts * time_base))
            stored = np.ascontiguousarray(np.rot90(display, k=-(spec.rotation // 90) % 4)) if spec.rotation else display
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            _write_tone(container, audio, spec.seconds)
    return path


_TONE_RATE = 48000


def _add_tone_stream(container: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    audio = container.add_stream("aac", rate=_TONE_RATE)
    audio.layout = "mono"
    return audio


def _write_tone(container: av.container.OutputContainer, audio: av.audio.stream.AudioStream, seconds: float) -> None:
    rate = _TONE_RATE
    samples = np.arange(int(seconds * rate))
    tone = (0.2 * np.sin(2 * np.pi * 440 * samples / rate)).astype(np.float32)
    chunk = 1024
    for start in range(0, len(tone), chunk):
        frame = av.AudioFrame.from_ndarray(tone[None, start : start + chunk], format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in audio.encode(frame):
            container.mux(packet)
    for packet in audio.encode(None):
        container.mux(packet)
