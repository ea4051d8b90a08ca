"""Where live frames go: a virtual camera (pyvirtualcam), a window, a video file, or nowhere (measuring)."""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError, ModelsMissingError
from realtime.io.metadata import provenance_tags
from realtime.io.video import VideoInfo, VideoWriter

__all__ = [
    "SINKS",
    "FileSink",
    "NullSink",
    "Sink",
    "VirtualCameraSink",
    "WindowSink",
    "describe_sink",
    "open_sinks",
    "virtual_camera_hint",
]

SINKS = ("virtualcam", "window", "file", "null")


class Sink(ABC):
    """Takes RGB uint8 frames [H,W,3] with their time in seconds since the session started."""

    name = "sink"
    closed_by_user = False  # a window sink sets it when the user closes the window

    @abstractmethod
    def send(self, frame: np.ndarray, t: float) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Finish (a file is renamed into place) and release the device."""


class NullSink(Sink):
    """Discards frames (for benchmarks and dry runs)."""

    name = "null"

    def send(self, frame: np.ndarray, t: float) -> None:
        """Discard the frame."""

    def close(self) -> None:
        """Nothing to release."""


def virtual_camera_hint(platform: str = sys.platform) -> str:
    """How to get a virtual camera device on ``platform``."""
    if platform.startswith("linux"):
        return ("install v4l2loopback and load it: sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback "
                "devices=1 exclusive_caps=1 card_label=realtime")  # fmt: skip
    if platform == "darwin":
        return "install OBS Studio (26.1 or later) and start its virtual camera once so that macOS registers it"
    return "install OBS Studio (its virtual camera) or Unity Capture"


class VirtualCameraSink(Sink):
    """A virtual camera any app can pick (pyvirtualcam: v4l2loopback on Linux, OBS on Windows and macOS).

    InputError with the platform's setup hint when there is no virtual camera device; ModelsMissingError when
    pyvirtualcam is not installed."""

    name = "virtualcam"

    def __init__(self, width: int, height: int, fps: float, device: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise ModelsMissingError("the virtual camera needs pyvirtualcam: pip install pyvirtualcam") from exc
        try:
            self.camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device)
        except (RuntimeError, ValueError, OSError) as exc:
            where = f" at {device}" if device else ""
            first = (str(exc).strip().splitlines() or ["?"])[0][:160]
            raise InputError(f"no virtual camera{where} ({first}); {virtual_camera_hint()}") from None
        self.device = self.camera.device

    def send(self, frame: np.ndarray, t: float) -> None:
        self.camera.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        self.camera.close()


class WindowSink(Sink):
    """An OpenCV window; closing it (or pressing q or Esc) ends the session."""

    name = "window"
    TITLE = "realtime (q to quit)"

    def __init__(self) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # OpenCV's Qt backend aborts the whole process (no exception) when it finds no display
            raise InputError("cannot open a window: no display (DISPLAY is not set); use --sink file or virtualcam")
        try:
            cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise InputError(f"cannot open a window (no display?): {str(exc).strip()[:160]}") from None

    def send(self, frame: np.ndarray, t: float) -> None:
        cv2.imshow(self.TITLE, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) >= 1
        if key in (ord("q"), 27) or not visible:
            self.closed_by_user = True

    def close(self) -> None:
        cv2.destroyWindow(self.TITLE)


class FileSink(Sink):
    """A video file with the frames at the times they were captured (variable frame rate when frames were dropped),
    written through a temporary file that :meth:`close` hands to ``finish`` (signing it) and renames into place."""

    name = "file"

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        crf: int = 20,
        finish: Callable[[Path], None] | None = None,
    ) -> None:
        info = VideoInfo(width=width, height=height, fps=Fraction(fps).limit_denominator(1001),
                         time_base=Fraction(1, 1000), frames=0, duration=0.0, rotation=0, has_audio=False,
                         codec="")  # fmt: skip
        self.path = Path(path)
        self.writer = VideoWriter(self.path, info, crf=crf, metadata=provenance_tags(), finish=finish)
        self._last_pts = -1
        self.frames = 0

    def send(self, frame: np.ndarray, t: float) -> None:
        pts = max(round(t * 1000), self._last_pts + 1)  # milliseconds, strictly increasing
        self.writer.write(frame, pts)
        self._last_pts = pts
        self.frames += 1

    def close(self) -> None:
        self.writer.close()


def _signed_file(
    path: Path, width: int, height: int, fps: float, sign: Callable[[Path], Callable[[Path], None]] | None
) -> FileSink:
    if sign is None:
        raise ValueError("a file sink writes an output, and every output is signed: give sign")
    return FileSink(path, width, height, fps, finish=sign(path))


def open_sinks(
    kind: str,
    width: int,
    height: int,
    fps: float,
    output: Path | None = None,
    virtual_device: str | None = None,
    record: Path | None = None,
    sign: Callable[[Path], Callable[[Path], None]] | None = None,
) -> list[Sink]:
    """The sinks of a live session for frames of ``width`` x ``height`` at ``fps``: one of :data:`SINKS`
    (``output`` is the file of "file"), plus a recording to ``record`` when given. ``sign(path)`` gives the hook
    that signs the file written to ``path`` (files are outputs: they need one). A sink that cannot open raises its
    UserError after the ones already opened are closed."""
    sinks: list[Sink] = []
    try:
        if kind == "virtualcam":
            sinks.append(VirtualCameraSink(width, height, fps, device=virtual_device))
        elif kind == "window":
            sinks.append(WindowSink())
        elif kind == "file":
            if output is None:
                raise ValueError("a file sink needs an output path")
            sinks.append(_signed_file(output, width, height, fps, sign))
        else:
            sinks.append(NullSink())
        if record is not None:
            sinks.append(_signed_file(record, width, height, fps, sign))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return sinks


def describe_sink(sink: Sink) -> str:
    """A few words naming where ``sink`` sends frames (for a status line)."""
    if isinstance(sink, VirtualCameraSink):
        return f"virtual camera {sink.device}"
    if isinstance(sink, FileSink):
        return f"file {sink.path}"
    return sink.name
