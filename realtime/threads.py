"""How many threads a process uses, decided in one place: torch's intra-op pool (the generator, ArcFace and the
custom ops' parallel loops), OpenCV's, and each video decoder and encoder.

Measured on the project's 2-core CPU (``bench/pipeline.py``; the numbers are in ``bench/results/``): a video job
already keeps the cores busy with three threads of its own (decode, process, encode), so fine-grained parallel
loops in the processing thread mostly wait for a core. The seamless blend, a multigrid solve of many small parallel
regions, ran slower with two threads than with one even on an idle machine, and with two busy processes beside it
its two OpenMP threads spun against them and a frame took tens of times longer. Large convolutions (the generator)
do gain from every core. Hence:

- the budget starts from the cores this process may use (its CPU affinity and its cgroup's CPU quota), or
  ``--threads``;
- the blend always runs on one thread (:func:`torch_threads` around it);
- OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE``, set before torch loads its OpenMP runtime, unless the
  user set it), so a parallel region whose threads are preempted by other processes sleeps instead of spinning:
  the generator lost nothing to it on an idle machine and ran ~2.5x faster beside two busy loops.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "ThreadBudget",
    "apply_threads",
    "available_cores",
    "plan_threads",
    "prefer_passive_waiting",
    "run_ahead",
    "torch_threads",
]  # fmt: skip

T = TypeVar("T")


def prefer_passive_waiting() -> None:
    """Ask OpenMP threads to sleep rather than spin while they wait (unless ``OMP_WAIT_POLICY`` is set). It takes
    effect only if torch has not been imported yet: ``realtime/__init__.py`` calls it first thing."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def cgroup_cores(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in cores (v2 ``cpu.max``, or v1 ``cpu/cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``, under ``root``); None when unlimited or unknown."""
    candidates: list[tuple[Path, Path | None]] = [(root / "cpu.max", None)]
    candidates.append((root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"))
    for quota_file, period_file in candidates:
        try:
            text = quota_file.read_text().split()
            quota, period = text[0], (text[1] if period_file is None else period_file.read_text().strip())
        except (OSError, IndexError):
            continue
        if quota in ("max", "-1"):
            return None
        with contextlib.suppress(ValueError, ZeroDivisionError):
            return max(float(quota) / float(period), 1.0)
    return None


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota (a container limited
    to 2 CPUs on a 64-core host gets 2); at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cores()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


@dataclass(frozen=True)
class ThreadBudget:
    """Threads for one process: ``cores`` it may use, ``compute`` threads for torch and OpenCV, ``codec`` threads
    per video decoder/encoder, ``blend`` threads for the seamless blend."""

    cores: int
    compute: int
    codec: int
    blend: int = 1


def plan_threads(requested: int | None = None, reserve: int = 0) -> ThreadBudget:
    """The budget for ``requested`` threads (``--threads``; None: the available cores), with ``reserve`` cores
    kept free for work of the caller's own (a live session's background detector)."""
    cores = available_cores()
    total = max(1, requested if requested is not None else cores)
    compute = max(1, total - reserve)
    return ThreadBudget(cores=cores, compute=compute, codec=total)


def apply_threads(budget: ThreadBudget) -> None:
    """Set torch's and OpenCV's thread counts for this process from ``budget``."""
    import cv2
    import torch

    torch.set_num_threads(budget.compute)
    cv2.setNumThreads(budget.compute)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the body with torch's intra-op pool at ``count`` threads (never more than it has), then restore it."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, min(count, previous)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_ahead(items: Iterable[T], depth: int = 2, name: str = "run-ahead") -> Iterator[T]:
    """``items``, produced on a thread of their own up to ``depth`` ahead of the consumer (so the work of making
    the next overlaps the consumer's work on this one). An exception while producing is raised to the consumer at
    that place in the sequence. Closing the iterator (``contextlib.closing``, or the consumer stopping early) stops
    the producer before its next item and waits for it to finish the one in hand."""
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set() or not put((True, item)):
                    return
        except BaseException as exc:  # handed to the consumer's thread
            put((False, exc))
            return
        put((False, end))

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while True:
            ok, item = slots.get()
            if ok:
                yield item  # type: ignore[misc]
            elif item is end:
                return
            else:
                raise item  # type: ignore[misc]
    finally:
        stop.set()
        producer.join()
