"""The thread budget: the cores a process may use (affinity, cgroup quota), --threads, the reserve a live session
keeps for its detector, the blend's own single thread, and the OpenMP wait policy set before torch loads."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from realtime.threads import available_cores, cgroup_cores, plan_threads, run_ahead, torch_threads
from tests.cli import call_main
from tests.conftest import SwappedClip


def test_affinity_limits_the_cores() -> None:
    everything = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(everything)})
        assert available_cores() == 1
    finally:
        os.sched_setaffinity(0, everything)
    assert available_cores() <= len(everything)


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
)
def test_cgroup_quotas_are_read(tmp_path: Path, files: dict[str, str], cores: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cores(tmp_path) == cores


def test_plan_threads() -> None:
    budget = plan_threads(3, reserve=1)
    assert (budget.compute, budget.codec, budget.blend) == (2, 3, 1)
    assert plan_threads(1, reserve=1).compute == 1  # never below one
    assert plan_threads().compute == available_cores()


def test_torch_threads_scopes_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(before + 8):  # never more than the pool has
        assert torch.get_num_threads() == before


def test_openmp_waits_passively_when_realtime_loads_first() -> None:
    code = "import os, realtime, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"  # the user's own setting wins
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "ACTIVE"


def test_threads_option(swapped_clip: SwappedClip, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = call_main("realtime.swap", swapped_clip.clip, out, "--source", swapped_clip.source, "--threads", "0")
    assert result.returncode == 2 and "--threads must be >= 1" in result.error_lines()[-1]
    image = tmp_path / "face.png"
    result = call_main("realtime.swap", swapped_clip.source, image, "--source", swapped_clip.source, "--threads", "1")
    assert result.returncode == 0, result.stderr


def test_run_ahead_keeps_order_produces_on_its_own_thread_and_raises_in_place() -> None:
    producers: list[str] = []

    def items() -> Iterator[int]:
        for k in range(5):
            producers.append(threading.current_thread().name)
            if k == 3:
                raise ValueError("item 3 is bad")
            yield k

    got = []
    with pytest.raises(ValueError, match="item 3 is bad"):
        for item in run_ahead(items(), depth=2, name="ahead"):
            got.append(item)
    assert got == [0, 1, 2] and set(producers) == {"ahead"}


def test_closing_run_ahead_stops_its_producer() -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for k in range(1000):
            made.append(k)
            yield k

    ahead = run_ahead(items(), depth=2)
    with contextlib.closing(ahead):
        assert next(ahead) == 0
    count = len(made)
    time.sleep(0.2)
    assert count == len(made) <= 5  # at most the one consumed, two queued, one being put, one in hand
