"""The live loop: newest frame in, pipeline, every sink out; latency and frame-rate statistics; the detection
interval adapting to the load."""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import TextIO

import numpy as np

from realtime.errors import Terminated
from realtime.live.frames import LatestFrame
from realtime.live.sinks import Sink
from realtime.live.sources import FrameSource
from realtime.pipeline import FaceSwapPipeline

__all__ = [
    "END_PHRASES",
    "AdaptiveInterval",
    "LatencyStats",
    "LiveSession",
    "SessionReport",
]


class LatencyStats:
    """Capture-to-output latencies (seconds) and output times over a sliding ``window`` of frames."""

    def __init__(self, window: int = 300) -> None:
        self.latencies: deque[float] = deque(maxlen=window)
        self.times: deque[float] = deque(maxlen=window)
        self.all_latencies: list[float] = []
        self.all_times: list[float] = []
        self.all_starts: list[float] = []  # when the loop took each frame

    def add(self, latency: float, done: float, began: float) -> None:
        self.latencies.append(latency)
        self.times.append(done)
        self.all_latencies.append(latency)
        self.all_times.append(done)
        self.all_starts.append(began)

    def fps(self) -> float:
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return 0.0
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])

    def percentile_ms(self, q: float, everything: bool = False) -> float:
        values = self.all_latencies if everything else self.latencies
        return float(np.percentile(values, q) * 1000) if values else 0.0


class AdaptiveInterval:
    """Full detection every ``interval`` frames, between ``base`` and ``8 * base``: doubled when the frames'
    processing time (p90 over the last second) takes more than 80% of the frame period, halved when it is under
    half of it. Detection runs beside the live loop, and on a small CPU it competes with it for the cores."""

    def __init__(self, base: int, fps: float) -> None:
        self.base, self.interval, self.period = max(1, base), max(1, base), 1.0 / max(fps, 1.0)
        self._work: deque[float] = deque(maxlen=max(5, round(fps)))
        self._since_change = 0

    def update(self, work_seconds: float) -> int:
        self._work.append(work_seconds)
        self._since_change += 1
        if self._since_change >= self._work.maxlen:  # type: ignore[operator]
            busy = float(np.percentile(self._work, 90)) / self.period
            if busy > 0.8:
                self.interval = min(self.interval * 2, 8 * self.base)
            elif busy < 0.5:
                self.interval = max(self.interval // 2, self.base)
            self._since_change = 0
        return self.interval


# Why a session ended (SessionReport.end, stable for scripts reading --report) and how the summary line says it.
END_PHRASES = {
    "ended": "the input ended",
    "disconnected": "the camera stopped delivering frames",
    "stopped": "stopped",
    "window closed": "the window was closed",
    "time limit": "--seconds reached",
    "SIGTERM": "terminated by SIGTERM",
    "SIGHUP": "terminated by SIGHUP",
}


@dataclass
class SessionReport:
    """How a session went; ``end`` is why it stopped: one of :data:`END_PHRASES`' keys ("ended" for the end of a
    file input, "disconnected", "stopped" by Ctrl-C, "window closed", "time limit", or the terminating signal's
    name). ``frames_before_first_face``: frames sent before the first one with a swapped face (a live frame never
    waits for the background detector, so the first ones go out as captured until its first result; the whole
    session's count when no face was ever swapped)."""

    end: str
    frames_captured: int
    frames_output: int
    frames_dropped: int
    fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    faces_swapped: int
    frames_before_first_face: int
    detect_every: int

    def line(self) -> str:
        return (f"{self.frames_output} frames out of {self.frames_captured} captured ({self.frames_dropped} dropped), "
                f"{self.fps:.1f} fps, latency p50 {self.latency_p50_ms:.0f} ms p95 {self.latency_p95_ms:.0f} ms "
                f"max {self.latency_max_ms:.0f} ms; {END_PHRASES.get(self.end, self.end)}")  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class LiveSession:
    """Runs ``pipeline`` on the newest frame of ``source`` and sends each result to every sink.

    Args:
        status: stream for the once-a-second status line (None: silent).
        max_seconds: stop after this long (None: until the source ends, a window closes or Ctrl-C).
    """

    def __init__(
        self,
        source: FrameSource,
        pipeline: FaceSwapPipeline,
        sinks: list[Sink],
        status: TextIO | None = sys.stderr,
        max_seconds: float | None = None,
    ) -> None:
        self.source, self.pipeline, self.sinks = source, pipeline, sinks
        self.status, self.max_seconds = status, max_seconds
        self.slot = LatestFrame()
        self.stats = LatencyStats()
        self.interval = AdaptiveInterval(pipeline.detection.every, source.fps)
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask :meth:`run` (on another thread) to end after the frame in hand, as "stopped"."""
        self._stop.set()

    def status_text(self) -> str:
        """The status line: frame rate and latency over the last frames, frames dropped, detection interval."""
        return (f"{self.stats.fps():5.1f} fps | latency p50 {self.stats.percentile_ms(50):4.0f} ms "
                f"p95 {self.stats.percentile_ms(95):4.0f} ms | dropped {self.slot.dropped} | "
                f"detect every {self.pipeline.detection.every}")  # fmt: skip

    def run(self) -> SessionReport:
        """Process until the source ends or is lost, a window is closed, the time limit, KeyboardInterrupt (end
        "stopped") or SIGTERM/SIGHUP (end "SIGTERM"/"SIGHUP"), all of which end the session normally. Sinks are
        closed in every case (a recording is finished); a capture thread's error is raised here once they are."""
        start = time.perf_counter()
        end, output, last_status = "stopped", 0, start
        first_face: int | None = None  # output frames before the first with a swapped face
        self.source.start(self.slot)
        try:
            while not self._stop.is_set():
                if self.max_seconds is not None and time.perf_counter() - start >= self.max_seconds:
                    end = "time limit"
                    break
                frame = self.slot.get(timeout=0.5)
                if frame is None:
                    if self.slot.reason is not None:
                        end = self.slot.reason
                        break
                    continue
                began = time.perf_counter()
                out, _ = self.pipeline.process(frame.image, frame.captured - start)
                for sink in self.sinks:
                    sink.send(out, frame.captured - start)
                done = time.perf_counter()
                output += 1
                if first_face is None and self.pipeline.faces_swapped > 0:
                    first_face = output - 1
                self.stats.add(done - frame.captured, done, began)
                self.pipeline.detection.every = self.interval.update(done - began)
                if any(sink.closed_by_user for sink in self.sinks):
                    end = "window closed"
                    break
                if self.status is not None and done - last_status >= 1.0:
                    self._status_line()
                    last_status = done
        except KeyboardInterrupt:
            end = "stopped"
        except Terminated as stop:  # SIGTERM/SIGHUP (realtime.cli): end like Ctrl-C, the caller sets the exit status
            end = stop.name
        finally:
            self.source.stop()
            self.pipeline.close()
            for sink in self.sinks:
                sink.close()
        if self.status is not None and self.status.isatty():
            self.status.write("\n")
        if self.slot.error is not None:
            raise self.slot.error
        return SessionReport(
            end=end,
            frames_captured=self.slot.captured,
            frames_output=output,
            frames_dropped=self.slot.captured - output,
            fps=output / max(time.perf_counter() - start, 1e-9),
            latency_p50_ms=self.stats.percentile_ms(50, everything=True),
            latency_p95_ms=self.stats.percentile_ms(95, everything=True),
            latency_max_ms=max(self.stats.all_latencies, default=0.0) * 1000,
            faces_swapped=self.pipeline.faces_swapped,
            frames_before_first_face=output if first_face is None else first_face,
            detect_every=self.pipeline.detection.every,
        )

    def _status_line(self) -> None:
        assert self.status is not None
        text = self.status_text()
        self.status.write(("\r" + text) if self.status.isatty() else text + "\n")
        self.status.flush()
