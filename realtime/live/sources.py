"""Frame sources for live sessions: a camera through OpenCV, or a video file played as a camera at its own frame
rate. Each captures on its own thread into a :class:`~realtime.live.frames.LatestFrame`."""

from __future__ import annotations

import sys
import threading
import time
from abc import ABC, abstractmethod
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.io.video import VideoReader
from realtime.live.frames import CapturedFrame, LatestFrame

__all__ = ["CameraSource", "FileSource", "FrameSource", "open_source"]


class FrameSource(ABC):
    """Base class: :meth:`start` launches the capture thread, :meth:`stop` ends it. ``width``, ``height`` and
    ``fps`` describe the frames; when capture ends the slot is closed with "ended" (a file's end), "disconnected"
    (a camera that stopped delivering for ``retry_seconds``) or "stopped"."""

    width: int
    height: int
    fps: float

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def describe(self) -> str:
        """One line for the user: what is captured, at which size and rate."""

    def start(self, slot: LatestFrame) -> None:
        self._thread = threading.Thread(target=self._capture, args=(slot,), name="capture", daemon=True)
        self._thread.start()

    def _capture(self, slot: LatestFrame) -> None:
        """The capture thread's body: an error ends the capture with reason "failed" and the error on the slot
        (the session re-raises it on its own thread) instead of dying unseen and leaving the session waiting."""
        try:
            self._run(slot)
        except BaseException as exc:
            slot.close("failed", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._release()

    @abstractmethod
    def _run(self, slot: LatestFrame) -> None:
        """The capture thread: put frames into ``slot`` until stopped or the source ends, then close it."""

    @abstractmethod
    def _release(self) -> None:
        """Close the device or file (after the capture thread has stopped)."""


def _camera_hint() -> str:
    if sys.platform.startswith("linux"):
        return "check `v4l2-ctl --list-devices` and that your user is in the 'video' group"
    if sys.platform == "darwin":
        return "allow camera access for your terminal in System Settings > Privacy & Security > Camera"
    return "check the camera's index in your system's device list and that no other app is using it"


def _open_quietly(device: int | str) -> cv2.VideoCapture:
    """cv2.VideoCapture without OpenCV's log lines (each backend it tries logs its own failure; the caller reports
    one clear error instead)."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        return cv2.VideoCapture(device)
    finally:
        logging.setLogLevel(level)


class CameraSource(FrameSource):
    """An OpenCV capture device: an index (0, 1, ...) or a path (/dev/video2, an RTSP URL, or a video file, which
    OpenCV reads as fast as it can).

    Args:
        device: the camera. width, height, fps: requested capture format (None: the camera's default); the camera
            may pick the nearest it supports, see the attributes.
        retry_seconds: how long read failures are retried before the camera counts as disconnected.

    Raises InputError when the device does not open ("no camera") or opens without delivering a frame ("busy").
    """

    def __init__(
        self,
        device: int | str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        retry_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        self.device, self.retry_seconds = device, retry_seconds
        self.capture = _open_quietly(device)
        if not self.capture.isOpened():
            raise InputError(f"no camera at {device!r}; {_camera_hint()}")
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                            (cv2.CAP_PROP_FPS, fps)):  # fmt: skip
            if value:
                self.capture.set(prop, value)
        ok, first = self.capture.read()
        if not ok or first is None:
            self.capture.release()
            raise InputError(f"camera {device!r} opened but gives no frames: it is busy (another app is using it) or "
                             "not a capture device")  # fmt: skip
        self._first: np.ndarray | None = first
        self.height, self.width = first.shape[:2]
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or fps or 30.0)

    def describe(self) -> str:
        return f"camera {self.device!r} {self.width}x{self.height} @ {self.fps:g} fps"

    def _run(self, slot: LatestFrame) -> None:
        index, failing_since = 0, None
        while not self._stop.is_set():
            if self._first is not None:
                ok, bgr, self._first = True, self._first, None
            else:
                ok, bgr = self.capture.read()
            if not ok or bgr is None:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self.retry_seconds:
                    slot.close("disconnected")
                    return
                time.sleep(0.05)
                continue
            failing_since = None
            slot.put(CapturedFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter(), index))
            index += 1
        slot.close("stopped")

    def _release(self) -> None:
        self.capture.release()


class FileSource(FrameSource):
    """A video file played as a camera: frames become available at their own timestamps (real time), whether or not
    the consumer keeps up, as a camera's would. Ends with "ended" after the last frame; a truncated or damaged file
    fails at its end unless ``allow_incomplete``."""

    def __init__(self, path: str | Path, allow_incomplete: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.reader = VideoReader(self.path, allow_incomplete=allow_incomplete)
        info = self.reader.info
        self.width, self.height = info.width, info.height
        self.fps = float(info.fps or Fraction(30))

    def describe(self) -> str:
        return f"file {self.path} {self.width}x{self.height} @ {self.fps:g} fps (played in real time)"

    def _run(self, slot: LatestFrame) -> None:
        start, first = time.perf_counter(), None
        for frame in self.reader:
            first = frame.time if first is None else first
            delay = start + (frame.time - first) - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                break
            if self._stop.is_set():
                break
            slot.put(CapturedFrame(frame.image, time.perf_counter(), frame.index))
        slot.close("stopped" if self._stop.is_set() else "ended")

    def _release(self) -> None:
        self.reader.close()


def open_source(
    camera: str = "0",
    input_file: Path | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    retry_seconds: float = 2.0,
    allow_incomplete: bool = False,
) -> FrameSource:
    """The live input: the video ``input_file`` played as a camera when given, else ``camera`` (an index such as
    "0", or a device path); InputError with a hint when the camera cannot be opened."""
    if input_file is not None:
        return FileSource(input_file, allow_incomplete=allow_incomplete)
    device: int | str = int(camera) if camera.isdigit() else camera
    return CameraSource(device, width, height, fps, retry_seconds=retry_seconds)
