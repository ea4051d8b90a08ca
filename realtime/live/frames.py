"""The hand-off between a capture thread and the processing loop: one slot holding the newest frame.

A slot never queues: a frame not yet taken when the next one arrives is dropped (and counted), so the processing
loop always works on the newest picture and latency cannot grow under load.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["CapturedFrame", "LatestFrame"]


@dataclass(frozen=True)
class CapturedFrame:
    """A frame as captured: RGB uint8 [H,W,3], its capture time (``time.perf_counter()`` seconds), and its number
    in capture order (gaps are dropped frames)."""

    image: np.ndarray
    captured: float
    index: int


class LatestFrame:
    """Single-slot, newest-wins hand-off between one producer and one consumer thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: CapturedFrame | None = None
        self._closed: str | None = None
        self.error: BaseException | None = None  # why capture failed, when it did (reason "failed")
        self.dropped = 0
        self.captured = 0

    def put(self, frame: CapturedFrame) -> None:
        """Offer a frame; replaces (drops) one that was not taken yet."""
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self.captured += 1
            self._cond.notify()

    def close(self, reason: str, error: BaseException | None = None) -> None:
        """No more frames (``reason``: "ended", "disconnected", "stopped", or "failed" with the capture thread's
        ``error``); a waiting :meth:`get` returns None."""
        with self._cond:
            if self._closed is None:
                self._closed, self.error = reason, error
            self._cond.notify_all()

    @property
    def reason(self) -> str | None:
        """Why the slot was closed (None while open)."""
        with self._cond:
            return self._closed

    def get(self, timeout: float | None = None) -> CapturedFrame | None:
        """The newest frame, waiting up to ``timeout`` seconds; None on timeout or once closed and empty."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._frame is None and self._closed is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            frame, self._frame = self._frame, None
            return frame
