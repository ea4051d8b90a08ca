"""Small media files the tests need besides realtime.demo's clips."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_audio_only(path: Path) -> Path:
    """A short AAC file with no video stream."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path
