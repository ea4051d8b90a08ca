"""The batch driver: plan each job (skip the complete ones, split long videos into parts), run the tasks on a pool
of Ray actors (:class:`~realtime.batch.worker.SwapWorker`, models loaded once each), retry failed tasks, join the
parts, keep every job's state file current, and feed one progress bar from the workers' frame counts.

A job that cannot run (a corrupt input, a source without a face, bad options) fails alone with its one-line
reason; the others go on. An interrupt (Ctrl-C) stops the workers; finished jobs and parts stay finished, and the
same command run again picks up the rest.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from realtime.batch.manifest import BatchJob
from realtime.batch.segments import index_video, join_segments, plan_segments
from realtime.batch.state import JobState, is_complete, load_state, save_state
from realtime.batch.worker import SwapTask, SwapWorker, TaskResult
from realtime.cli import user_message
from realtime.errors import InputError, UsageError, UserError
from realtime.io.images import IMAGE_SUFFIXES
from realtime.io.video import VIDEO_SUFFIXES, probe
from realtime.options import make_signer, parse_pipeline_options
from realtime.provenance import ContentSigner, check_signable

__all__ = ["BatchSettings", "JobOutcome", "run_batch"]


@dataclass(frozen=True)
class BatchSettings:
    """How to run: Ray ``address`` (None: a local instance), ``workers`` (actors), CPUs and GPUs per worker,
    parts of about ``segment_seconds`` for longer videos, ``warmup`` frames before each part, ``retries`` per
    task."""

    address: str | None = None
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    segment_seconds: float = 60.0
    warmup: int = 30
    retries: int = 1


@dataclass
class JobOutcome:
    """One job at the end: status "done", "skipped" (complete from an earlier run), "failed" or "interrupted";
    frames written, seconds of work, and the reason of a failure."""

    job: BatchJob
    status: str
    frames: int = 0
    seconds: float = 0.0
    reason: str | None = None


@dataclass
class _Job:
    job: BatchJob
    state: JobState
    tasks: list[SwapTask] = field(default_factory=list)
    results: dict[int, TaskResult] = field(default_factory=dict)
    frames_expected: int = 0
    failed: str | None = None
    signer: ContentSigner | None = None  # signs the joined output of a split video
    watermark_id: int = 0


def _parts_dir(job: BatchJob) -> Path:
    return job.output.parent / f".{job.output.name}.parts"


def _plan(
    number: int, job: BatchJob, state: JobState, settings: BatchSettings, signers: dict[tuple[str, ...], ContentSigner]
) -> _Job:
    """The tasks of one job (none when it must fail: its ``failed`` says why). Task paths are absolute: a worker
    may run in another folder (or on another machine with the same paths). ``signers`` caches the Content
    Credentials signer of each set of options (checking one signs a small image)."""
    source, target = job.input.resolve(), job.output.resolve()
    planned = _Job(job, state)
    kind_in, kind_out = (
        "image" if s in IMAGE_SUFFIXES else "video" if s in VIDEO_SUFFIXES else None
        for s in (job.input.suffix.lower(), job.output.suffix.lower())
    )
    try:
        args = parse_pipeline_options(list(job.options), encoding=True)
        if kind_in is None or kind_out != kind_in:
            raise UsageError(f"{job.input.name} -> {job.output.name}: input and output must both be videos or images")
        check_signable(job.output)
        if job.options not in signers:
            signers[job.options] = make_signer(args)
        planned.signer, planned.watermark_id = signers[job.options], args.watermark_id
        if not job.input.is_file():
            raise InputError(f"input not found: {job.input}")
        if kind_in == "image":
            planned.frames_expected = 1
            planned.tasks = [SwapTask(number, source, target, job.options)]
            return planned
        index = index_video(job.input)
        planned.frames_expected = len(index.frame_pts)
        parts = plan_segments(index, settings.segment_seconds, settings.warmup)
        if len(parts) <= 1:
            planned.tasks = [SwapTask(number, source, target, job.options)]
            return planned
        folder = _parts_dir(job).resolve()
        for k, part in enumerate(parts):
            path = folder / f"part-{k:03d}.mp4"
            task = SwapTask(number, source, path, job.options, part, k)
            if path.name in state.parts_done and path.is_file():
                planned.results[k] = TaskResult(number, k)  # done in an earlier run
            planned.tasks.append(task)
    except UserError as err:
        planned.failed = user_message(err)
    return planned


def _finish(planned: _Job) -> None:
    """All of a job's tasks are done: join the parts (a split video) and record the job as done."""
    job, state = planned.job, planned.state
    if len(planned.tasks) > 1:
        parts = [(t.output, t.part) for t in planned.tasks]
        assert planned.signer is not None
        spans = [(p, span) for p, span in parts if span is not None]
        frames = join_segments(spans, job.input, job.output, planned.signer, planned.watermark_id)
        shutil.rmtree(_parts_dir(job), ignore_errors=True)
    else:
        frames = planned.results[0].frames
    if job.output.suffix.lower() not in IMAGE_SUFFIXES and probe(job.output).frames != planned.frames_expected:
        raise InputError(f"{job.output.name} has {probe(job.output).frames} frames, {planned.frames_expected} expected")
    state.status, state.frames, state.reason, state.parts_done = "done", frames, None, []
    state.seconds = sum(r.seconds for r in planned.results.values())
    save_state(job, state)


def run_batch(
    jobs: list[BatchJob],
    settings: BatchSettings,
    progress: Callable[[int, int, int, int], None] = lambda done, total, ok, bad: None,
    note: Callable[[str], None] = lambda _: None,
) -> list[JobOutcome]:
    """Run ``jobs`` on Ray and return each one's outcome (in the order given). ``progress(frames done, frames in
    all, jobs done, jobs failed)`` is called about twice a second. KeyboardInterrupt is caught: the jobs not
    finished are "interrupted" and the workers stopped; the caller decides the exit status."""
    outcomes: dict[int, JobOutcome] = {}
    planned: dict[int, _Job] = {}
    signers: dict[tuple[str, ...], ContentSigner] = {}
    for number, job in enumerate(jobs):
        state = load_state(job)
        if is_complete(job, state):
            outcomes[number] = JobOutcome(job, "skipped", state.frames, state.seconds)
            continue
        item = _plan(number, job, state, settings, signers)
        state.attempts += 1
        if item.failed is not None:
            state.status, state.reason = "failed", item.failed
            save_state(job, state)
            outcomes[number] = JobOutcome(job, "failed", reason=item.failed)
        else:
            state.status = "pending"
            save_state(job, state)
            planned[number] = item
    if planned:
        _run_planned(planned, outcomes, settings, progress, note)
    return [outcomes[n] for n in range(len(jobs))]


def _run_planned(
    planned: dict[int, _Job],
    outcomes: dict[int, JobOutcome],
    settings: BatchSettings,
    progress: Callable[[int, int, int, int], None],
    note: Callable[[str], None],
) -> None:
    import ray

    started = time.perf_counter()
    local = settings.address is None
    ray.init(address=settings.address, num_cpus=max(1, round(settings.workers * settings.cpus_per_worker))
             if local else None, include_dashboard=False, log_to_driver=False, configure_logging=False)  # fmt: skip
    note(f"ray: {'a local instance' if local else settings.address} ({time.perf_counter() - started:.1f} s to join)")
    try:
        _schedule(ray, planned, outcomes, settings, progress)
    except KeyboardInterrupt:
        for number, item in planned.items():
            if number not in outcomes:
                item.state.status = "pending"
                save_state(item.job, item.state)
                outcomes[number] = JobOutcome(item.job, "interrupted", reason="interrupted; run again to finish")
    finally:
        ray.shutdown()


class _Counter:
    """The frames the workers report, summed for the driver's progress bar."""

    def __init__(self) -> None:
        self.frames = 0

    def add(self, frames: int) -> None:
        self.frames += frames

    def total(self) -> int:
        return self.frames


class _ReportingWorker(SwapWorker):
    def run_reporting(self, task: SwapTask, counter: object) -> TaskResult:
        return self.run(task, counter.add.remote)  # type: ignore[attr-defined]


def _schedule(
    ray: object,
    planned: dict[int, _Job],
    outcomes: dict[int, JobOutcome],
    settings: BatchSettings,
    progress: Callable[[int, int, int, int], None],
) -> None:
    counter = ray.remote(_Counter).options(num_cpus=0).remote()  # type: ignore[attr-defined]
    worker_class = ray.remote(_ReportingWorker).options(  # type: ignore[attr-defined]
        num_cpus=settings.cpus_per_worker, num_gpus=settings.gpus_per_worker
    )
    threads = max(1, int(settings.cpus_per_worker))
    idle = [worker_class.remote(threads) for _ in range(max(1, settings.workers))]
    queue = [(item, task) for item in planned.values() for task in item.tasks if task.part_index not in item.results]
    attempts: dict[tuple[int, int], int] = {}
    running: dict[object, tuple[object, _Job, SwapTask]] = {}
    total = sum(item.frames_expected for item in planned.values())
    while queue or running:
        while queue and idle:
            item, task = queue.pop(0)
            if item.failed is not None:
                continue
            actor = idle.pop()
            running[actor.run_reporting.remote(task, counter)] = (actor, item, task)  # type: ignore[attr-defined]
        ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)  # type: ignore[attr-defined]
        for ref in ready:
            actor, item, task = running.pop(ref)
            idle.append(actor)
            result: TaskResult = ray.get(ref)  # type: ignore[attr-defined]
            _take(item, task, result, attempts, settings, queue, outcomes)
        frames = ray.get(counter.total.remote())  # type: ignore[attr-defined]
        ok = sum(o.status in ("done", "skipped") for o in outcomes.values())
        bad = sum(o.status == "failed" for o in outcomes.values())
        progress(frames, total, ok, bad)


def _take(
    item: _Job,
    task: SwapTask,
    result: TaskResult,
    attempts: dict[tuple[int, int], int],
    settings: BatchSettings,
    queue: list[tuple[_Job, SwapTask]],
    outcomes: dict[int, JobOutcome],
) -> None:
    """Record one task's result: retry it, fail its job, or finish the job when it was the last task."""
    number = task.job
    if number in outcomes:
        return  # the job failed already: its other parts do not matter
    if result.error is not None:
        key = (number, task.part_index)
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] <= settings.retries and not result.error.startswith(("no face found", "input not found")):
            queue.append((item, task))
            return
        item.failed = result.error
        item.state.status, item.state.reason = "failed", result.error
        save_state(item.job, item.state)
        outcomes[number] = JobOutcome(item.job, "failed", reason=result.error)
        return
    item.results[task.part_index] = result
    if task.part is not None:
        item.state.parts_done.append(task.output.name)
        save_state(item.job, item.state)
    if len(item.results) < len(item.tasks):
        return
    try:
        _finish(item)
    except UserError as err:
        item.state.status, item.state.reason = "failed", user_message(err)
        save_state(item.job, item.state)
        outcomes[number] = JobOutcome(item.job, "failed", reason=user_message(err))
        return
    outcomes[number] = JobOutcome(item.job, "done", item.state.frames, item.state.seconds)
