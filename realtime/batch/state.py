"""A state file per batch job, beside its output (``.<output name>.batch.json``), so that running the same
command again skips what is done and redoes what is not. A job counts as done only when its state says so for the
same input (path, size, modification time) and options, and the output is there, reads back (probe) with the
frames the state recorded, and carries the watermark; anything else is redone."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from realtime.batch.manifest import BatchJob
from realtime.errors import UserError
from realtime.io.files import TempOutput
from realtime.io.images import IMAGE_SUFFIXES
from realtime.io.video import probe
from realtime.verify import verify_file

__all__ = ["JobState", "is_complete", "load_state", "save_state", "state_path"]


@dataclass
class JobState:
    """Where a job stands: ``status`` ("pending", "done" or "failed"), ``attempts`` made, ``frames`` written,
    the one-line ``reason`` of the last failure, the input's fingerprint and the options it ran with, and the
    parts of a split video already written (their file names, beside the state file)."""

    input: str
    fingerprint: str
    options: list[str]
    status: str = "pending"
    attempts: int = 0
    frames: int = 0
    seconds: float = 0.0
    reason: str | None = None
    parts_done: list[str] = field(default_factory=list)


def state_path(job: BatchJob) -> Path:
    """The job's state file: hidden, beside its output."""
    return job.output.parent / f".{job.output.name}.batch.json"


def fingerprint(path: Path) -> str:
    """The input as far as a re-run can tell cheaply: size and modification time ("missing" when absent)."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def load_state(job: BatchJob) -> JobState:
    """The job's state from an earlier run when it is for the same input and options; else a fresh one."""
    fresh = JobState(str(job.input), fingerprint(job.input), list(job.options))
    try:
        data = json.loads(state_path(job).read_text())
        old = JobState(**data)
    except (OSError, ValueError, TypeError):
        return fresh
    if (old.input, old.fingerprint, old.options) != (fresh.input, fresh.fingerprint, fresh.options):
        return fresh  # another input or other options: nothing of the old run counts
    return old


def save_state(job: BatchJob, state: JobState) -> None:
    """Write the state file whole (temporary file, renamed)."""
    job.output.parent.mkdir(parents=True, exist_ok=True)
    with TempOutput(state_path(job)) as tmp:
        tmp.write_text(json.dumps(asdict(state), indent=1) + "\n")


def is_complete(job: BatchJob, state: JobState) -> bool:
    """Whether the job's output is finished: the state says done, and the output reads back with the recorded
    frames (videos) and carries the watermark."""
    if state.status != "done" or not job.output.is_file():
        return False
    try:
        if job.output.suffix.lower() not in IMAGE_SUFFIXES and probe(job.output).frames != state.frames:
            return False
        return verify_file(job.output, max_frames=30).marked
    except UserError:
        return False
