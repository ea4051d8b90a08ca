"""Live swap speed: frames per second and the latency the swap adds (from the moment a camera frame is available to
the moment the swapped, watermarked frame is handed to the sink), at 640x480 and 1280x720, with the embedded default
(dlib analysis, classic swapper, Poisson blend).

A generated clip is played as a camera in real time at 30 fps (realtime.live.sources.FileSource), so frames arrive
as a camera's would and the loop drops what it cannot keep up with; the sink discards frames. The first second is
left out of the percentiles (the first detection and warm-up). Target: p95 added latency <= 50 ms at 640x480.

Examples:
    python bench/webcam.py                  # saves bench/results/webcam-<date>.json
    python bench/webcam.py --seconds 5 --no-save
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report

SIZES = [(640, 480), (1280, 720)]
TARGET_P95_MS = 50.0


def measure(width: int, height: int, seconds: float, root: Path) -> dict[str, Any]:
    from realtime.faces.dlib_backend import DlibAnalyzer
    from realtime.live.detector import BackgroundDetection
    from realtime.live.session import LiveSession
    from realtime.live.sinks import NullSink
    from realtime.live.sources import FileSource
    from realtime.pipeline import FaceSwapPipeline
    from realtime.samples import ClipSpec, make_clip, write_source_face
    from realtime.source import load_source
    from realtime.swappers.classic import ClassicSwapper
    from realtime.threads import apply_threads, plan_threads

    spec = ClipSpec(width=width, height=height, seconds=seconds, still=(seconds * 0.4, seconds * 0.6),
                    light=(seconds * 0.6, seconds * 0.8))  # fmt: skip
    clip = make_clip(root / f"clip-{width}x{height}.mp4", spec)
    analyzer = DlibAnalyzer()
    source = load_source(write_source_face(root / "face.jpg"), analyzer)
    swapper = ClassicSwapper()
    swapper.set_source(source.faces)
    pipeline = FaceSwapPipeline(analyzer, swapper, detection=BackgroundDetection())
    apply_threads(plan_threads(reserve=1))  # as python -m realtime.webcam does
    session = LiveSession(FileSource(clip), pipeline, [NullSink()], status=None)
    report = session.run()
    times = np.asarray(session.stats.all_times)
    latencies = np.asarray(session.stats.all_latencies) * 1000
    steady = latencies[times - times[0] >= 1.0]
    row = {
        "size": f"{width}x{height}",
        "camera_fps": spec.fps,
        "output_fps": report.fps,
        "dropped_pct": 100 * report.frames_dropped / max(report.frames_captured, 1),
        "p50_ms": float(np.percentile(steady, 50)),
        "p95_ms": float(np.percentile(steady, 95)),
        "max_ms": float(steady.max()),
        "faces_swapped": report.faces_swapped,
        "frames_out": report.frames_output,
        "detect_every_end": report.detect_every,
    }
    if (width, height) == (640, 480):
        row["target_p95_ms"] = TARGET_P95_MS
        row["target_met"] = row["p95_ms"] <= TARGET_P95_MS
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length per size (default 10)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            rows.append(measure(width, height, args.seconds, Path(tmp)))
            print(f"  {rows[-1]['size']}: {rows[-1]['output_fps']:.1f} fps, p95 {rows[-1]['p95_ms']:.1f} ms")
    verdict = "met" if rows[0]["target_met"] else "NOT met"
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms at 640x480: {verdict} ({rows[0]['p95_ms']:.1f} ms)")
    columns = ["size", "camera_fps", "output_fps", "dropped_pct", "p50_ms", "p95_ms", "max_ms", "detect_every_end"]
    return report("webcam", rows, columns, save=not args.no_save, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
