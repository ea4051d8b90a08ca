"""``python -m realtime.webcam --source FACE``: live face swap from a camera to a virtual camera any app can use.

The loop always takes the newest camera frame and drops stale ones (nothing queues, so latency cannot build up);
full face detection runs on a background thread while landmarks are re-fitted on every frame, and the detection
interval grows when the CPU falls behind. Every output frame carries the invisible watermark. A status line shows
the frame rate and the capture-to-output latency (p50/p95); the summary at the end repeats them.

Examples:
    python -m realtime.webcam --source face.jpg                          # camera 0 -> virtual camera
    python -m realtime.webcam --source face.jpg --camera /dev/video2 --width 1280 --height 720 --fps 30
    python -m realtime.webcam --source face.jpg --sink window --record session.mp4
    python -m realtime.webcam --source face.jpg --input demo.mp4 --sink file --output live.mp4   # file as camera
    python -m realtime.webcam --source face.jpg --model inswapper_128.onnx --identity-model w600k_r50.onnx
    python -m realtime.webcam --source face.jpg --mask box,occlusion,mouth --enhancer gpen256 --enhancer-blend 0.5
    python -m realtime.webcam --map me.jpg=alice.jpg --map friend.jpg=bob.jpg   # each person their own new face

On Linux the virtual camera is a v4l2loopback device (sudo modprobe v4l2loopback devices=1 exclusive_caps=1);
on Windows and macOS, OBS Studio's virtual camera.

Exit status: 0 stopped (Ctrl-C, window closed, --seconds reached, or the end of --input), 1 a camera, virtual
camera, model or source problem, or the camera was lost mid-stream (after a short retry; any recording is
finished and kept), 2 a usage error, 143/129 ended by SIGTERM/SIGHUP (any recording finished and kept).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli
from realtime.errors import InputError, UsageError
from realtime.io.files import check_output_path
from realtime.live.launch import open_live
from realtime.live.sinks import SINKS
from realtime.options import add_pipeline_arguments, check_pipeline_args
from realtime.threads import apply_threads, plan_threads

PROG = "python -m realtime.webcam"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    camera = parser.add_argument_group("input")
    camera.add_argument("--camera", default="0", help="camera index or device path (default 0)")
    camera.add_argument("--input", type=Path, help="a video file played as the camera, in real time (demos, tests)")
    camera.add_argument("--width", type=int, help="requested camera width (default: the camera's)")
    camera.add_argument("--height", type=int, help="requested camera height")
    camera.add_argument("--fps", type=float, help="requested camera frame rate")
    camera.add_argument("--retry", type=float, default=2.0, help="seconds to retry a camera that stops (default 2)")
    out = parser.add_argument_group("output")
    out.add_argument("--sink", choices=SINKS, default="virtualcam", help="where frames go (default virtualcam)")
    out.add_argument("--output", type=Path, help="the video file of --sink file")
    out.add_argument("--virtual-device", help="virtual camera device (e.g. /dev/video10; default: the first free)")
    out.add_argument("--record", type=Path, help="also record the output to this video file")
    out.add_argument("--seconds", type=float, help="stop after this many seconds")
    out.add_argument("--report", type=Path, help="write the session summary (latency, fps, drops) as JSON")
    add_pipeline_arguments(parser)
    add_quiet_debug(parser, "no status line or notes (errors still print)")
    return parser


def _check_args(args: argparse.Namespace) -> None:
    check_pipeline_args(args)
    if args.sink == "file" and args.output is None:
        raise UsageError("--sink file needs --output FILE")
    if args.output is not None and args.sink != "file":
        raise UsageError("--output is for --sink file (use --record to keep a copy beside another sink)")
    if args.input is not None and not args.input.is_file():
        raise InputError(f"input not found: {args.input}")
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    for path in (args.output, args.record):
        if path is not None:
            check_output_path(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    note = notes(PROG, args.quiet)

    def body() -> int:
        _check_args(args)
        session = open_live(args, args.sink, camera=args.camera, input_file=args.input, output=args.output,
                            record=args.record, note=note, status=None if args.quiet else sys.stderr,
                            max_seconds=args.seconds, size=(args.width, args.height, args.fps),
                            retry_seconds=args.retry, virtual_device=args.virtual_device)  # fmt: skip
        # a core for the background detector: a parallel loop whose threads outnumber the free cores waits for
        # the one the detector preempts (bench/webcam.py measures the latency)
        apply_threads(plan_threads(args.threads, reserve=1))
        note("Ctrl-C stops")
        report = session.run()
        if args.report is not None:
            args.report.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        kept = f"; recording kept: {args.record}" if args.record else ""
        if report.end == "disconnected":
            print(f"{PROG}: error: {report.line()}{kept}", file=sys.stderr)
            return 1
        if report.end in ("SIGTERM", "SIGHUP"):
            print(f"{PROG}: {report.line()}{kept}", file=sys.stderr)
            return 128 + int(getattr(signal, report.end))
        note(report.line() + kept)
        return 0

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
