"""Whole-file swap jobs: a video (decode, pipeline, encode with the audio kept) or an image, through one
:class:`~realtime.pipeline.FaceSwapPipeline`. Every app that swaps files (``realtime.swap``, the benchmarks, and
later the batch runner and the studio) calls these, so there is one file pipeline.

Decoding, processing and encoding overlap: the reader decodes on its own thread into a bounded queue, the pipeline
runs on the caller's thread, and the encoder takes finished frames from a second bounded queue on a third thread,
so memory stays flat however long the video. The output is written to a temporary file and renamed only when
complete; a failure anywhere (or an interrupt) leaves nothing at the output path.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from realtime.io.images import read_image, write_image
from realtime.io.metadata import provenance_tags
from realtime.io.video import DecodeReport, VideoReader, VideoWriter
from realtime.pipeline import FaceSwapPipeline, FrameStats
from realtime.watermark import COMPAT_MIN_SIDE, embed_compat

__all__ = ["EncodeSettings", "ImageJobResult", "VideoJobResult", "swap_image", "swap_video"]


@dataclass(frozen=True)
class EncodeSettings:
    """The video encoder: ``codec`` (an FFmpeg encoder name), ``crf`` and ``preset`` (x264/x265 quality and
    speed), and ``threads`` (encoder threads; 0 lets FFmpeg choose)."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    threads: int = 0


@dataclass(frozen=True)
class VideoJobResult:
    """What a video job did: ``frames`` written, of which ``frames_with_faces`` had a face swapped; the input's
    :class:`~realtime.io.video.DecodeReport` (complete unless the job accepted a truncated input); wall seconds."""

    frames: int
    frames_with_faces: int
    decode: DecodeReport
    seconds: float


@dataclass(frozen=True)
class ImageJobResult:
    """What an image job did: faces swapped, and whether invisible-watermark's mark was added too (images of at
    least ``COMPAT_MIN_SIDE`` pixels a side)."""

    faces_swapped: int
    compat_mark: bool


def swap_video(
    pipeline: FaceSwapPipeline,
    source: Path,
    output: Path,
    encode: EncodeSettings | None = None,
    *,
    allow_incomplete: bool = False,
    decode_threads: int = 0,
    on_frame: Callable[[int, int | None, FrameStats], None] | None = None,
) -> VideoJobResult:
    """Swap every frame of the video ``source`` into ``output`` (same frames, timestamps, rotation and audio;
    watermarked and tagged as synthetic). ``on_frame(done, total, stats)`` is called after each frame (``total``
    is None when the container does not say). A truncated or damaged input raises InputError once decoding ends
    (nothing is written) unless ``allow_incomplete``; then the result's ``decode`` report says what was missing.
    """
    encode = encode or EncodeSettings()
    start = time.perf_counter()
    with VideoReader(source, allow_incomplete=allow_incomplete, threads=decode_threads) as reader:
        total = reader.info.frames or None
        frames = frames_with_faces = 0
        finished: queue.Queue[object] = queue.Queue(maxsize=8)
        failure: list[BaseException] = []
        with VideoWriter(
            output,
            reader.info,
            audio_source=source,
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.preset,
            threads=encode.threads,
            metadata=provenance_tags(),
        ) as writer:

            def encoder_loop() -> None:
                while (item := finished.get()) is not None:
                    if not failure:
                        try:
                            writer.write(*item)  # type: ignore[misc]
                        except BaseException as exc:  # surfaced on the caller's thread
                            failure.append(exc)

            encoder = threading.Thread(target=encoder_loop, name="video-encode", daemon=True)
            encoder.start()
            try:
                for frame in reader:
                    out, stats = pipeline.process(frame.image, frame.time)
                    frames += 1
                    frames_with_faces += stats.swapped > 0
                    finished.put((out, frame.pts))
                    if failure:
                        raise failure[0]
                    if on_frame is not None:
                        on_frame(frames, total, stats)
            finally:
                finished.put(None)
                encoder.join()
            if failure:
                raise failure[0]
        assert reader.report is not None
        report = reader.report
    return VideoJobResult(frames, frames_with_faces, report, time.perf_counter() - start)


def swap_image(pipeline: FaceSwapPipeline, source: Path, output: Path, watermark_id: int) -> ImageJobResult:
    """Swap the faces of the image ``source`` into ``output``: realtime's mark, plus invisible-watermark's
    ``dwtDctSvd`` mark (readable by its own decoder) on images large enough for it, and synthetic-media tags."""
    image = read_image(source)
    out, stats = pipeline.process(image, 0.0)
    compat = min(out.shape[:2]) >= COMPAT_MIN_SIDE
    if compat:
        out = embed_compat(out, watermark_id)
    write_image(output, out, synthetic=True)
    return ImageJobResult(stats.swapped, compat)
