"""What a batch worker process does: swap one task (a whole image or video, or one part of a long video) with
pipelines built once per set of options and replayed for each task, so models load once per worker, not per
job. :class:`SwapWorker` is a plain class; the driver runs it as a Ray actor."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from realtime.cli import user_message
from realtime.errors import UserError
from realtime.io.images import IMAGE_SUFFIXES
from realtime.jobs import EncodeSettings, FrameRange, swap_image, swap_video
from realtime.options import make_pipeline, make_signer, parse_pipeline_options
from realtime.pipeline import FaceSwapPipeline
from realtime.provenance import ContentSigner
from realtime.threads import apply_threads, plan_threads

__all__ = ["PROGRESS_EVERY", "SwapTask", "SwapWorker", "TaskResult"]

PROGRESS_EVERY = 10  # frames between progress reports to the driver


@dataclass(frozen=True)
class SwapTask:
    """One unit of work: ``input`` swapped into ``output`` with ``options`` (pipeline and encoding argv words);
    ``part``: only that range of a long video, without audio and without B-frames (joined by the driver)."""

    job: int
    input: Path
    output: Path
    options: tuple[str, ...]
    part: FrameRange | None = None
    part_index: int = 0


@dataclass(frozen=True)
class TaskResult:
    """How a task ended: frames written (and with a face swapped), seconds, and the one-line error (None: done)."""

    job: int
    part_index: int
    frames: int = 0
    frames_with_faces: int = 0
    seconds: float = 0.0
    error: str | None = None


class SwapWorker:
    """Runs :class:`SwapTask` s with ``threads`` CPU threads (torch, OpenCV, codecs)."""

    def __init__(self, threads: int | None = None) -> None:
        self.budget = plan_threads(threads)
        apply_threads(self.budget)
        self._pipelines: dict[tuple[str, ...], FaceSwapPipeline] = {}
        self._signers: dict[tuple[str, ...], ContentSigner] = {}

    def _pipeline(self, options: tuple[str, ...], args: argparse.Namespace, image: bool) -> FaceSwapPipeline:
        key = (*options, "image" if image else "video")
        if key not in self._pipelines:
            self._pipelines[key] = make_pipeline(args, single_image=image)
        return self._pipelines[key].replica()  # the models of the cached one, a fresh tracking state

    def _signer(self, options: tuple[str, ...], args: argparse.Namespace) -> ContentSigner:
        """The Content Credentials signer of ``options``, made (and checked) once per worker."""
        if options not in self._signers:
            self._signers[options] = make_signer(args)
        return self._signers[options]

    def run(self, task: SwapTask, progress: Callable[[int], object] = lambda n: None) -> TaskResult:
        """Swap ``task``; ``progress(n)`` receives frames done in steps of PROGRESS_EVERY. Errors a user can act on
        (and unexpected ones, in one line) come back in the result instead of being raised."""
        try:
            args = parse_pipeline_options(list(task.options), encoding=True)
            image = task.input.suffix.lower() in IMAGE_SUFFIXES
            pipeline = self._pipeline(task.options, args, image)
            signer = None if task.part is not None else self._signer(task.options, args)  # the driver signs joins
            task.output.parent.mkdir(parents=True, exist_ok=True)
            if image:
                assert signer is not None  # images are never split
                done_image = swap_image(pipeline, task.input, task.output, signer)
                progress(1)
                return TaskResult(task.job, task.part_index, 1, int(done_image.faces_swapped > 0))
            encode = EncodeSettings(args.codec, args.crf, args.preset, self.budget.codec,
                                    bframes=0 if task.part is not None else None)  # fmt: skip
            reported = 0

            def on_frame(done: int, total: int | None, stats: object) -> None:
                nonlocal reported
                if done - reported >= PROGRESS_EVERY:
                    progress(done - reported)
                    reported = done

            result = swap_video(pipeline, task.input, task.output, encode, allow_incomplete=args.allow_truncated,
                                decode_threads=self.budget.codec, on_frame=on_frame, part=task.part,
                                signer=signer)  # fmt: skip
            progress(result.frames - reported)
            return TaskResult(task.job, task.part_index, result.frames, result.frames_with_faces, result.seconds)
        except UserError as err:
            return TaskResult(task.job, task.part_index, error=user_message(err))
        except Exception as err:  # a bug: this task fails with one line, the worker keeps serving
            return TaskResult(task.job, task.part_index, error=f"internal error: {type(err).__name__}: {err}")
