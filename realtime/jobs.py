"""Whole-file jobs. Swapping: a video (decode, pipeline, encode with the audio kept) or an image, through one
:class:`~realtime.pipeline.FaceSwapPipeline`. Finding people: the faces of a video or image grouped into people,
written as crops, a contact sheet and ``people.json``. Every app that works on files (``realtime.swap``,
``realtime.people``, the benchmarks, the studio and the batch runner) calls these, so there is one file pipeline.

Decoding, processing and encoding overlap: the reader decodes on its own thread into a bounded queue, the pipeline
runs on the caller's thread, and the encoder takes finished frames from a second bounded queue on a third thread,
so memory stays flat however long the video. The output is written to a temporary file and renamed only when
complete; a failure anywhere (or an interrupt) leaves nothing at the output path.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.faces.people import FoundPerson, PeopleScan
from realtime.faces.tracker import SceneCutDetector
from realtime.faces.types import FaceAnalyzer
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.metadata import provenance_tags
from realtime.io.people import PeopleFile, PersonRecord, write_people
from realtime.io.sheet import labelled_sheet
from realtime.io.video import DecodedFrame, DecodeReport, VideoReader, VideoWriter
from realtime.pipeline import FaceSwapPipeline, FramePlan, FrameStats
from realtime.provenance import ContentSigner
from realtime.threads import run_ahead
from realtime.watermark import COMPAT_MIN_SIDE, embed_compat

__all__ = [
    "EncodeSettings",
    "ImageJobResult",
    "VideoJobResult",
    "contact_sheet",
    "find_people",
    "swap_image",
    "swap_video",
]

SHEET_FACE = 160  # contact sheet tile side, pixels


@dataclass(frozen=True)
class EncodeSettings:
    """The video encoder: ``codec`` (an FFmpeg encoder name), ``crf`` and ``preset`` (x264/x265 quality and
    speed), ``threads`` (encoder threads; 0 lets FFmpeg choose), and ``bframes`` (x264/x265 B-frames; None: the
    preset's. Parts of a video that are joined without re-encoding use 0: with B-frames each part's decode
    timestamps would start before the previous part's end)."""

    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    threads: int = 0
    bframes: int | None = None


@dataclass(frozen=True)
class FrameRange:
    """Part of a video, in presentation timestamps of its stream: decoding starts at the keyframe at or before
    ``seek_pts``; frames before ``warm_pts`` are skipped, frames from ``warm_pts`` up to ``start_pts`` go through
    the pipeline only to warm up its tracking and smoothing (not written), and frames from ``start_pts`` up to
    ``end_pts`` (None: the end) are written."""

    seek_pts: int
    warm_pts: int
    start_pts: int
    end_pts: int | None


@dataclass(frozen=True)
class VideoJobResult:
    """What a video job did: ``frames`` written, of which ``frames_with_faces`` had a face swapped; the input's
    :class:`~realtime.io.video.DecodeReport` (complete unless the job accepted a truncated input; None for a
    :class:`FrameRange`, whose joined whole is checked instead); wall seconds."""

    frames: int
    frames_with_faces: int
    decode: DecodeReport | None
    seconds: float
    decoder: str = "cpu"  # VideoReader.decoder: "cuda" when NVDEC decoded, else "cpu" (and why, if cuda was wanted)


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
    part: FrameRange | None = None,
    signer: ContentSigner | None,
) -> VideoJobResult:
    """Swap every frame of the video ``source`` into ``output`` (same frames, timestamps, rotation and audio;
    watermarked, tagged as synthetic and signed by ``signer`` with ``source`` as the ingredient).
    ``on_frame(done, total, stats)`` is called after each frame written (``total`` is None when the container does
    not say). A truncated or damaged input raises InputError once decoding ends (nothing is written) unless
    ``allow_incomplete``; then the result's ``decode`` report says what was missing. With a pipeline on CUDA the
    input is decoded by NVDEC where FFmpeg can open it (the result's ``decoder`` says). With ``part``, only that
    :class:`FrameRange` is written, without audio (``total``: None); a part is not an output, so ``signer`` is
    None there (the joined file is signed) and must be given otherwise."""
    if (signer is None) != (part is not None):
        raise ValueError("a whole output is signed and a part is not: give a signer exactly when part is None")
    encode = encode or EncodeSettings()
    finish = None if signer is None else signer.finisher(output, pipeline.options.watermark_id, source)
    start = time.perf_counter()
    seek = None if part is None else part.seek_pts
    hwaccel = "cuda" if pipeline.options.device.startswith("cuda") else None  # NVDEC beside a CUDA pipeline
    with VideoReader(source, allow_incomplete=allow_incomplete or part is not None, threads=decode_threads,
                     seek_pts=seek, hwaccel=hwaccel) as reader:  # fmt: skip
        total = (reader.info.frames or None) if part is None else None
        frames = frames_with_faces = 0
        finished: queue.Queue[object] = queue.Queue(maxsize=8)
        failure: list[BaseException] = []
        with VideoWriter(
            output,
            reader.info,
            audio_source=source if part is None else None,
            codec=encode.codec,
            crf=encode.crf,
            preset=encode.preset,
            threads=encode.threads,
            metadata=provenance_tags(),
            codec_options=None if encode.bframes is None else {"bf": str(encode.bframes)},
            finish=finish,
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
            planned = _plans(reader, pipeline, part)
            if pipeline.resident:  # the next frame's analysis (host) overlaps this one's device work
                planned = run_ahead(planned, depth=2, name="video-analyse")
            try:
                with contextlib.closing(planned):
                    for frame, plan, written in planned:
                        out, stats = pipeline.render(frame.image, plan)
                        if not written:  # warming up tracking, smoothing and the mark's continuity
                            continue
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
        assert part is not None or reader.report is not None
        report = None if part is not None else reader.report
    return VideoJobResult(frames, frames_with_faces, report, time.perf_counter() - start, reader.decoder)


def _plans(
    reader: VideoReader, pipeline: FaceSwapPipeline, part: FrameRange | None
) -> Generator[tuple[DecodedFrame, FramePlan, bool], None, None]:
    """Each frame of ``reader`` the job renders, analysed in order, and whether it is written: with a ``part``,
    frames before its warm-up are skipped, warm-up frames are rendered but not written, and reading stops at its
    end."""
    for frame in reader:
        if part is not None:
            if frame.pts < part.warm_pts:
                continue
            if part.end_pts is not None and frame.pts >= part.end_pts:
                return
        yield frame, pipeline.analyse(frame.image, frame.time), part is None or frame.pts >= part.start_pts


def swap_image(pipeline: FaceSwapPipeline, source: Path, output: Path, signer: ContentSigner) -> ImageJobResult:
    """Swap the faces of the image ``source`` into ``output``: realtime's mark, plus invisible-watermark's
    ``dwtDctSvd`` mark (readable by its own decoder) on images large enough for it, synthetic-media tags and
    Content Credentials from ``signer`` (``source`` as the ingredient)."""
    watermark_id = pipeline.options.watermark_id
    image = read_image(source)
    out, stats = pipeline.process(image, 0.0)
    compat = min(out.shape[:2]) >= COMPAT_MIN_SIDE
    if compat:
        out = embed_compat(out, watermark_id)
    write_image(output, out, synthetic=True, finish=signer.finisher(output, watermark_id, source))
    return ImageJobResult(stats.swapped, compat)


def _scan_video(
    analyzer: FaceAnalyzer,
    source: Path,
    every: int,
    min_seconds: float,
    allow_incomplete: bool,
    decode_threads: int,
    on_frame: Callable[[int, int | None, int], None] | None,
) -> tuple[list[FoundPerson], float]:
    with VideoReader(source, allow_incomplete=allow_incomplete, threads=decode_threads) as reader:
        fps = float(reader.info.fps)
        total = reader.info.frames or None
        scan = PeopleScan(analyzer, every=every)
        cuts = SceneCutDetector()
        for frame in reader:
            faces = scan.add(frame.image, frame.index, frame.time, cuts(frame.image))
            if on_frame is not None:
                on_frame(frame.index + 1, total, faces)
    return scan.people(min_frames=max(1, round(min_seconds * fps))), fps


def find_people(
    analyzer: FaceAnalyzer,
    source: Path,
    out_dir: Path,
    *,
    every: int = 5,
    min_seconds: float = 0.5,
    allow_incomplete: bool = False,
    decode_threads: int = 0,
    on_frame: Callable[[int, int | None, int], None] | None = None,
) -> PeopleFile:
    """The people of the video or image ``source``, most screen time first, written to the existing folder
    ``out_dir``: ``person-NN.jpg`` (each one's clearest view), ``people.png`` (:func:`contact_sheet`) and
    ``people.json`` (returned as read back). A video is tracked with full detection every ``every`` frames, and
    people on screen for less than ``min_seconds`` are left out; in an image every face counts.
    ``on_frame(done, total, faces)`` follows a video's progress. Each file is written whole or not at all."""
    if source.suffix.lower() in IMAGE_SUFFIXES:
        scan = PeopleScan(analyzer, min_score=0.0)  # one frame: every face the analyzer returns counts
        scan.add(read_image(source), 0, 0.0)
        people, fps = scan.people(), 1.0
    else:
        people, fps = _scan_video(analyzer, source, every, min_seconds, allow_incomplete, decode_threads, on_frame)
    ids = list(range(1, len(people) + 1))
    records = []
    for person_id, person in zip(ids, people, strict=True):
        crop = f"person-{person_id:02d}.jpg"
        write_image(out_dir / crop, person.view)
        records.append(PersonRecord(person_id, round(person.frames / fps, 3), person.first, person.last,
                                    person.tracks, crop, person.embedding))  # fmt: skip
    written = {r.crop for r in records}
    for stale in out_dir.glob("person-*.jpg"):  # a previous run's people beyond this run's count
        if stale.name not in written:
            stale.unlink()
    write_image(out_dir / "people.png", contact_sheet(people, ids))
    result = PeopleFile(str(source), analyzer.name, records)
    write_people(out_dir / "people.json", result)
    return result


def contact_sheet(people: list[FoundPerson], ids: list[int]) -> np.ndarray:
    """RGB uint8 sheet: each person's view in a SHEET_FACE tile, "id" under it, up to 6 a row."""
    return labelled_sheet([p.view for p in people], [str(i) for i in ids], SHEET_FACE, 6)
