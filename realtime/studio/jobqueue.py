"""One job at a time for the whole app, first come first served. A Run while another job runs waits in the queue
(nothing is lost); Cancel takes a queued job out or stops a running one at its next frame (the job's output is
written to a temporary file, so a cancelled job leaves nothing). A job that fails keeps its one-line error for the
UI, and the worker goes on with the next job: a crash in a job never stops the app."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from realtime.cli import user_message
from realtime.errors import UserError

__all__ = ["Cancelled", "Job", "JobQueue"]

STATES = ("queued", "running", "done", "failed", "cancelled")


class Cancelled(Exception):
    """Raised inside a job (by :meth:`Job.advance`) when it was cancelled."""


@dataclass
class Job:
    """One unit of work: ``work(job)`` runs on the queue's worker thread and returns the job's result; it reports
    progress with :meth:`advance`, which also ends it (:class:`Cancelled`) once cancel was asked for. ``owner``
    is the session that submitted it; ``label`` names it in the queue."""

    id: int
    owner: str
    label: str
    work: Callable[[Job], Any]
    state: str = "queued"
    done: int = 0
    total: int | None = None
    started: float | None = None
    finished: float | None = None
    result: Any = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    cancel_asked: threading.Event = field(default_factory=threading.Event)

    def advance(self, done: int, total: int | None) -> None:
        """Progress: ``done`` of ``total`` units (frames; total None when unknown). Raises Cancelled when the job
        was cancelled."""
        self.done, self.total = done, total
        if self.cancel_asked.is_set():
            raise Cancelled()

    def note(self, line: str) -> None:
        """A line the job wants shown (which swapper it chose, warnings)."""
        self.notes.append(line)

    @property
    def fps(self) -> float:
        """Units per second since the job started (0 before)."""
        if self.started is None or self.done == 0:
            return 0.0
        return self.done / max((self.finished or time.monotonic()) - self.started, 1e-9)

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None when unknown)."""
        if self.total is None or self.fps <= 0:
            return None
        return max(self.total - self.done, 0) / self.fps

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class JobQueue:
    """The app's job queue and its worker thread (started on the first submit)."""

    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._lock = threading.Condition()
        self._next_id = 1
        self._worker: threading.Thread | None = None
        self._closed = False

    def submit(self, owner: str, label: str, work: Callable[[Job], Any]) -> Job:
        """Queue ``work`` for session ``owner``; returns its Job (state "queued" until the worker takes it)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            job = Job(self._next_id, owner, label, work)
            self._next_id += 1
            self._jobs.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._loop, name="studio-jobs", daemon=True)
                self._worker.start()
            self._lock.notify_all()
            return job

    def cancel(self, job: Job) -> None:
        """Take ``job`` out of the queue, or stop it at its next progress report when running."""
        with self._lock:
            job.cancel_asked.set()
            if job.state == "queued":
                job.state, job.finished = "cancelled", time.monotonic()
                self._lock.notify_all()

    def cancel_owner(self, owner: str) -> None:
        """Cancel every job of session ``owner`` (it ended)."""
        for job in self.jobs(owner):
            if not job.over:
                self.cancel(job)

    def jobs(self, owner: str | None = None) -> list[Job]:
        """Jobs in submission order (only ``owner``'s when given), finished ones included."""
        with self._lock:
            return [j for j in self._jobs if owner is None or j.owner == owner]

    def waiting(self) -> list[Job]:
        """The running job (if any) and the queued ones, in the order they will run."""
        with self._lock:
            return [j for j in self._jobs if j.state in ("running", "queued")]

    def wait(self, job: Job, timeout: float) -> bool:
        """Block until ``job`` is over or ``timeout`` seconds pass; returns whether it is over."""
        with self._lock:
            return self._lock.wait_for(lambda: job.over, timeout)

    def close(self) -> None:
        """Cancel everything and stop the worker (the app stops)."""
        with self._lock:
            self._closed = True
            for job in self._jobs:
                if not job.over:
                    job.cancel_asked.set()
                    if job.state == "queued":
                        job.state = "cancelled"
            self._lock.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closed or any(j.state == "queued" for j in self._jobs))
                if self._closed:
                    return
                job = next(j for j in self._jobs if j.state == "queued")
                job.state, job.started = "running", time.monotonic()
            state, result, error = "done", None, None
            try:
                result = job.work(job)
            except Cancelled:
                state = "cancelled"
            except UserError as err:
                state, error = "failed", user_message(err)
            except Exception as err:  # a bug in a job: shown in one line, the app keeps serving
                state, error = "failed", f"internal error: {type(err).__name__}: {err}"
            with self._lock:
                job.result, job.error, job.state, job.finished = result, error, state, time.monotonic()
                self._lock.notify_all()
