"""Full face detection on a background thread, so a live frame never waits for the detector.

Full detection costs several frame periods on a small CPU, landmark re-fitting inside a tracked box a small fraction
of one (``bench/pipeline.py`` reports both per frame, as ``detect`` and ``landmarks``, in
``bench/results/pipeline-*.json``). :class:`BackgroundDetection` therefore re-fits landmarks on every frame and hands
a frame to a :class:`BackgroundDetector` thread whenever a detection is due; the result (new faces, lost faces,
fresh boxes) joins the tracking on the first frame after it is ready. dlib and onnxruntime release the GIL while
they compute.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

import numpy as np

from realtime.faces.detection import DetectionStrategy, TrackedFaces, TrackingStep
from realtime.faces.types import Face

__all__ = ["BackgroundDetection", "BackgroundDetector"]


class BackgroundDetector:
    """Runs ``detect(frame) -> faces`` for one frame at a time on a daemon thread.

    :meth:`submit` hands over a frame when the thread is idle (and returns False when it is busy); :meth:`poll`
    returns the finished result once, as (faces, frame index). An exception in ``detect`` is re-raised by the next
    :meth:`poll`.
    """

    def __init__(self, detect: Callable[[np.ndarray], list[Face]]) -> None:
        self._detect = detect
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._job: tuple[np.ndarray, int] | None = None
        self._result: tuple[list[Face], int] | None = None
        self._error: BaseException | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="face-detector", daemon=True)
        self._thread.start()

    def submit(self, frame: np.ndarray, index: int) -> bool:
        """Detect on ``frame`` (not copied: the caller must not modify it); False when a detection is running."""
        with self._lock:
            if self._busy or self._closed:
                return False
            self._busy, self._job = True, (frame, index)
            self._wake.notify()
            return True

    def poll(self) -> tuple[list[Face], int] | None:
        """The latest finished detection (faces, index of its frame), once; None when there is none new."""
        with self._lock:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            result, self._result = self._result, None
            return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        _lower_priority()
        while True:
            with self._lock:
                while self._job is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                assert self._job is not None
                frame, index = self._job
                self._job = None
            try:
                faces = self._detect(frame)
            except BaseException as exc:  # handed to the caller's thread by poll()
                with self._lock:
                    self._error, self._busy = exc, False
                continue
            with self._lock:
                self._result, self._busy = (faces, index), False


class BackgroundDetection(DetectionStrategy):
    """Detection on a background thread: landmarks are re-fitted on every frame; a finished detection (its faces
    re-fitted on the current frame) joins the tracking; a frame is handed to the detector when a detection is due
    (every ``every`` frames, after a scene cut or with no face tracked) and the thread is idle. Descriptors, when
    needed, are computed on that thread for every face, since it is off the frame's critical path.
    :meth:`close` stops the thread."""

    def __init__(self, every: int = 5) -> None:
        super().__init__(every)
        self._detector: BackgroundDetector | None = None
        self._last_submit = -(10**9)
        self._cut_index = 0

    def step(self, faces: TrackedFaces, frame: np.ndarray, t: float, index: int, cut: bool) -> TrackingStep:
        if self._detector is None:  # started on first use, with the stream's faces
            self._detector = BackgroundDetector(lambda image: faces.detect(image, describe_all=True))
        if cut:
            self._cut_index = index
        result = self._detector.poll()
        detected = result is not None and result[1] >= self._cut_index  # a detection from before a cut is stale
        if detected:
            assert result is not None
            found = []
            for seen in result[0]:
                face = faces.analyzer.landmarks(frame, seen.bbox, seen.score)
                face.embedding = seen.embedding
                found.append(face)
            tracks = faces.join(found, t)
        else:
            tracks = faces.refit(frame, t)
        due = cut or not tracks or index - self._last_submit >= self.every
        if due and self._detector.submit(frame, index):
            self._last_submit = index
        return TrackingStep(tracks, detected, "landmarks")

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()


def _lower_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the live loop (Linux schedules threads individually; elsewhere,
    or without permission, it keeps the default priority)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
