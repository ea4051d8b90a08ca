"""The driver's bookkeeping without Ray: a failed task is retried --retries times, then its job fails alone with
the task's one-line reason; errors that a retry cannot fix are not retried; a split job is joined only when its
last part is in."""

from __future__ import annotations

from pathlib import Path

from realtime.batch.driver import BatchSettings, JobOutcome, _Job, _take
from realtime.batch.manifest import BatchJob
from realtime.batch.state import load_state
from realtime.batch.worker import SwapTask, TaskResult
from realtime.jobs import FrameRange


def _job(tmp_path: Path, parts: int = 1) -> _Job:
    job = BatchJob(tmp_path / "in.mp4", tmp_path / "out.mp4", ("--source", "f.jpg"))
    item = _Job(job, load_state(job))
    span = FrameRange(0, 0, 0, None)
    item.tasks = [SwapTask(0, job.input, tmp_path / f"p{k}.mp4", job.options, span if parts > 1 else None, k)
                  for k in range(parts)]  # fmt: skip
    return item


def test_a_failing_task_is_retried_then_fails_its_job_alone(tmp_path: Path) -> None:
    item, queue, outcomes, attempts = _job(tmp_path), [], {}, {}  # type: ignore[var-annotated]
    settings = BatchSettings(retries=2)
    for attempt in range(3):
        _take(item, item.tasks[0], TaskResult(0, 0, error="cannot write out.mp4: disk full"), attempts, settings,
              queue, outcomes)  # fmt: skip
        if attempt < 2:
            assert queue == [(item, item.tasks[0])] and not outcomes
            queue.clear()
    assert queue == []
    assert outcomes[0] == JobOutcome(item.job, "failed", reason="cannot write out.mp4: disk full")
    assert load_state(item.job).status == "failed" and load_state(item.job).reason == "cannot write out.mp4: disk full"


def test_errors_a_retry_cannot_fix_are_not_retried(tmp_path: Path) -> None:
    item, queue, outcomes = _job(tmp_path), [], {}  # type: ignore[var-annotated]
    no_face = TaskResult(0, 0, error="no face found in the source f.jpg")
    _take(item, item.tasks[0], no_face, {}, BatchSettings(retries=3), queue, outcomes)
    assert queue == [] and outcomes[0].status == "failed"


def test_parts_are_recorded_and_a_late_part_of_a_failed_job_is_ignored(tmp_path: Path) -> None:
    item, queue, outcomes, attempts = _job(tmp_path, parts=3), [], {}, {}  # type: ignore[var-annotated]
    settings = BatchSettings(retries=0)
    _take(item, item.tasks[0], TaskResult(0, 0, frames=20), attempts, settings, queue, outcomes)
    assert load_state(item.job).parts_done == ["p0.mp4"] and not outcomes  # not joined before the last part
    _take(item, item.tasks[1], TaskResult(0, 1, error="internal error: boom"), attempts, settings, queue, outcomes)
    assert outcomes[0].status == "failed"
    _take(item, item.tasks[2], TaskResult(0, 2, frames=20), attempts, settings, queue, outcomes)
    assert outcomes[0].status == "failed" and 2 not in item.results
