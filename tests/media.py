"""Small media files the tests need besides realtime.samples' clips."""

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


def video_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video, RGB uint8 [H,W,3], through realtime's reader."""
    from realtime.io.video import VideoReader

    with VideoReader(path) as reader:
        return [f.image for f in reader]


def reencoded_frames(path: Path, out: Path, crf: int = 18, watermark_id: int | None = 0) -> list[np.ndarray]:
    """The frames of ``path`` after a decode, realtime's watermark (unless ``watermark_id`` is None) and a re-encode
    with realtime's writer at ``crf``: what a swap's untouched background should look like, mark and encoding noise
    included."""
    from realtime.io.video import VideoReader, VideoWriter
    from realtime.watermark import Watermarker

    marker = Watermarker(watermark_id) if watermark_id is not None else None
    with VideoReader(path) as reader, VideoWriter(out, reader.info, crf=crf) as writer:
        for frame in reader:
            writer.write(marker.embed(frame.image) if marker else frame.image, frame.pts)
    return video_frames(out)


def faststart_copy(path: Path, out: Path) -> Path:
    """``path`` remuxed (no re-encode) into an MP4 whose index (moov) comes first, as web-ready files have it: cut
    short, such a file still opens and announces every frame."""
    with av.open(str(path)) as src, av.open(str(out), "w", options={"movflags": "faststart"}) as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        for packet in src.demux(*[s for s in src.streams if s.index in streams]):
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            dst.mux(packet)
    return out


def cut(path: Path, out: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``path``'s bytes: a download or copy that stopped early."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out
