"""Opening a whole live session from the pipeline options: the camera (or file) first, then the sinks, then the
pipeline with background detection; whatever opened is closed again when a later step fails. ``realtime.webcam``
and the studio's Live tab both start sessions through :func:`open_live`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from realtime.live.detector import BackgroundDetection
from realtime.live.session import LiveSession
from realtime.live.sinks import describe_sink, open_sinks
from realtime.live.sources import open_source
from realtime.options import make_pipeline, make_signer
from realtime.provenance import check_signable

__all__ = ["open_live"]


def open_live(
    args: argparse.Namespace,
    sink: str,
    *,
    camera: str = "0",
    input_file: Path | None = None,
    output: Path | None = None,
    record: Path | None = None,
    note: Callable[[str], None] = lambda _: None,
    status: TextIO | None = sys.stderr,
    max_seconds: float | None = None,
    size: tuple[int | None, int | None, float | None] = (None, None, None),
    retry_seconds: float = 2.0,
    virtual_device: str | None = None,
) -> LiveSession:
    """A :class:`LiveSession` ready to ``run``: ``camera`` (or ``input_file`` played as one, at ``size`` =
    requested width, height, fps) into the pipeline ``args`` describe (checked pipeline options), out to ``sink``
    (one of :data:`~realtime.live.sinks.SINKS`; ``output`` is the file of "file") and to ``record``. The camera
    opens first (without one nothing else matters); UserErrors say what is missing (camera, virtual camera,
    models, source), and nothing is left open when one is raised."""
    width, height, fps = size
    files = [path for path in (output if sink == "file" else None, record) if path is not None]
    for path in files:
        check_signable(path)
    signer = make_signer(args) if files else None

    def sign(path: Path) -> Callable[[Path], None]:
        assert signer is not None
        return signer.finisher(path, args.watermark_id, input_file)

    source = open_source(camera, input_file, width, height, fps, retry_seconds, args.allow_truncated)
    try:
        note(f"input: {source.describe()}")
        sinks = open_sinks(sink, source.width, source.height, source.fps, output, virtual_device, record, sign)
    except BaseException:
        source.stop()
        raise
    try:
        pipeline = make_pipeline(args, note, BackgroundDetection)
    except BaseException:
        source.stop()
        for opened in sinks:
            opened.close()
        raise
    note("output: " + ", ".join(describe_sink(opened) for opened in sinks))
    return LiveSession(source, pipeline, sinks, status=status, max_seconds=max_seconds)
