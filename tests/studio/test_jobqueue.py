"""The app's job queue: one job at a time in submission order, cancel of queued and running jobs, and a failing
job that leaves the queue serving."""

from __future__ import annotations

import threading

from realtime.errors import InputError
from realtime.studio.jobqueue import Job, JobQueue


def _gate_job(started: threading.Event, release: threading.Event, log: list[str], name: str):  # type: ignore[no-untyped-def]
    def work(job: Job) -> str:
        log.append(f"start {name}")
        started.set()
        for i in range(200):
            job.advance(i, 200)
            if release.wait(0.01):
                break
        log.append(f"end {name}")
        return name

    return work


def test_jobs_run_one_at_a_time_in_order() -> None:
    jobs = JobQueue()
    log: list[str] = []
    started, release = threading.Event(), threading.Event()
    first = jobs.submit("a", "first", _gate_job(started, release, log, "first"))
    assert started.wait(5)
    open_gate = threading.Event()
    open_gate.set()
    second = jobs.submit("b", "second", _gate_job(threading.Event(), open_gate, log, "second"))
    assert [j.state for j in jobs.waiting()] == ["running", "queued"]
    release.set()
    assert jobs.wait(second, 10)
    assert log[:2] == ["start first", "end first"] and log[2] == "start second"
    assert (first.state, first.result) == ("done", "first")
    assert second.state == "done"
    jobs.close()


def test_cancel_takes_a_queued_job_out_and_stops_a_running_one() -> None:
    jobs = JobQueue()
    started, never = threading.Event(), threading.Event()
    log: list[str] = []
    running = jobs.submit("a", "running", _gate_job(started, never, log, "running"))
    assert started.wait(5)
    queued = jobs.submit("a", "queued", _gate_job(threading.Event(), never, log, "queued"))
    jobs.cancel_owner("a")
    assert jobs.wait(running, 10) and jobs.wait(queued, 1)
    assert (running.state, queued.state) == ("cancelled", "cancelled")
    assert log == ["start running"]  # the queued job never started, the running one never finished
    assert running.result is None
    jobs.close()


def test_a_failing_job_reports_one_line_and_the_next_runs() -> None:
    jobs = JobQueue()

    def user_error(job: Job) -> None:
        raise InputError("no face found in the source grey.png")

    def bug(job: Job) -> None:
        raise ZeroDivisionError("division by zero")

    failed = jobs.submit("a", "bad input", user_error)
    crashed = jobs.submit("a", "bug", bug)
    fine = jobs.submit("a", "fine", lambda job: 42)
    assert jobs.wait(fine, 10)
    assert (failed.state, failed.error) == ("failed", "no face found in the source grey.png")
    assert (crashed.state, crashed.error) == ("failed", "internal error: ZeroDivisionError: division by zero")
    assert (fine.state, fine.result) == ("done", 42)
    jobs.close()


def test_progress_rate_and_time_left() -> None:
    job = Job(1, "a", "x", lambda j: None, state="running", started=0.0)
    job.finished = 10.0
    job.advance(50, 200)
    assert job.fps == 5.0 and job.eta == 30.0
