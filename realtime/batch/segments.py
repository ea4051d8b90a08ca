"""Long videos in parallel: split at keyframes, swap each part on its own (warmed up on the frames before it, so
tracking and smoothing are in their steady state at the seam), join the parts without re-encoding and mux the
source's audio. The joined file has the frames and timestamps a single run writes.

:func:`index_video` reads the packet timestamps (no decoding), :func:`plan_segments` picks the parts, each part
is :func:`realtime.jobs.swap_video` with a :class:`~realtime.jobs.FrameRange` (encoded without B-frames, so the
parts' decode timestamps follow each other), and :func:`join_segments` writes the whole.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from realtime.errors import InputError
from realtime.io.metadata import provenance_tags
from realtime.io.video import VideoReader, VideoWriter
from realtime.jobs import FrameRange
from realtime.provenance import ContentSigner

__all__ = ["VideoIndex", "index_video", "join_segments", "plan_segments"]


@dataclass(frozen=True)
class VideoIndex:
    """A video stream's presentation timestamps in display order (``frame_pts``), those of its keyframes, its
    time base and its frame rate."""

    frame_pts: list[int]
    keyframe_pts: list[int]
    time_base: Fraction
    fps: float


def index_video(path: Path) -> VideoIndex:
    """The timestamps of every video packet of ``path`` (demuxing only: seconds for a feature film);
    InputError when it has no video stream."""
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                raise InputError(f"no video stream in {path}")
            stream = streams[0]
            frames, keys = [], []
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                frames.append(int(packet.pts))
                if packet.is_keyframe:
                    keys.append(int(packet.pts))
            rate = stream.average_rate or stream.guessed_rate or 30
            return VideoIndex(sorted(frames), sorted(keys), Fraction(stream.time_base), float(rate))
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc


def plan_segments(index: VideoIndex, segment_seconds: float, warmup: int) -> list[FrameRange]:
    """Parts of about ``segment_seconds`` each, every one starting on a keyframe (the first keyframe at or after
    each multiple of ``segment_seconds``), warmed up on the ``warmup`` frames before it. One part when the video
    is shorter or has no keyframe to split at."""
    if not index.frame_pts:
        return []
    first = index.frame_pts[0]
    step = max(1, round(segment_seconds / float(index.time_base)))
    starts = [first]
    for key in index.keyframe_pts:
        if key >= starts[-1] + step:
            starts.append(key)
    parts = []
    for k, start in enumerate(starts):
        position = bisect.bisect_left(index.frame_pts, start)
        warm = index.frame_pts[max(0, position - warmup)]
        seek = index.keyframe_pts[max(0, bisect.bisect_right(index.keyframe_pts, warm) - 1)] if k else first
        end = starts[k + 1] if k + 1 < len(starts) else None
        parts.append(FrameRange(seek_pts=min(seek, warm), warm_pts=warm, start_pts=start, end_pts=end))
    return parts


def join_segments(
    parts: list[tuple[Path, FrameRange]], source: Path, output: Path, signer: ContentSigner, watermark_id: int
) -> int:
    """Concatenate the video packets of ``parts`` (each a file written for its :class:`FrameRange`, in order, as
    encoded) into ``output`` with ``source``'s audio, rotation and the synthetic-media tags, signed by ``signer``
    (``source`` the ingredient, ``watermark_id`` the id the parts' mark carries); written to a temporary file and
    renamed when complete. Returns the frames written.

    Each part's timestamps are put back where its range starts: a container may move a stream that does not
    start at zero by a rounding of its edit list (MP4 keeps it in milliseconds, 10 ticks off at 1/15360)."""
    if not parts:
        raise InputError("nothing to join")
    with VideoReader(source, queue_size=1, allow_incomplete=True) as reader:
        info = reader.info
    frames = 0
    with av.open(str(parts[0][0])) as first:
        template = first.streams.video[0]
        finish = signer.finisher(output, watermark_id, source)
        with VideoWriter(
            output, info, audio_source=source, template=template, metadata=provenance_tags(), finish=finish
        ) as out:
            for path, span in parts:
                with av.open(str(path)) as container:
                    stream = container.streams.video[0]
                    if Fraction(stream.time_base) != info.time_base:
                        raise InputError(f"{path} has time base {stream.time_base}, the video {info.time_base}")
                    shift: int | None = None
                    for packet in container.demux(stream):
                        if packet.pts is None or packet.size == 0:
                            continue
                        if shift is None:
                            shift = span.start_pts - int(packet.pts)
                        packet.pts += shift
                        if packet.dts is not None:
                            packet.dts += shift
                        out.write_packet(packet)
                        frames += 1
    return frames
