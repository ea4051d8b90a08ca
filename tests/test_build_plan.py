"""What setup.py builds for each torch / CUDA toolkit pairing (realtime/build_plan.py): a toolkit of another CUDA
major version than torch's gives the CPU kernels and one warning naming both, never a failed install, unless
FORCE_CUDA=1 asks for the CUDA kernels."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from realtime.build_plan import nvcc_version, plan_build


def test_matching_majors_build_cuda() -> None:
    plan = plan_build("13.0", "13.0")
    assert plan.cuda and plan.warning is None
    assert plan_build("12.8", "12.4").cuda  # minor versions may differ


def test_another_major_builds_the_cpu_kernels_with_one_warning() -> None:
    plan = plan_build("13.0", "12.4")
    assert not plan.cuda
    assert plan.warning is not None and "nvcc 12.4" in plan.warning and "torch's CUDA 13.0" in plan.warning
    assert "CPU kernels only" in plan.warning


@pytest.mark.parametrize(
    ("torch_cuda", "nvcc", "message"),
    [("13.0", "12.4", "does not match"), (None, "13.0", "CPU build"), ("13.0", None, "no CUDA toolkit")],
)
def test_force_cuda_turns_every_reason_into_an_error(torch_cuda: str | None, nvcc: str | None, message: str) -> None:
    with pytest.raises(SystemExit, match=f"FORCE_CUDA=1 but .*{message}"):
        plan_build(torch_cuda, nvcc, force_cuda=True)


def test_cpu_torch_no_toolkit_or_disabled_build_cpu_quietly() -> None:
    for plan in (plan_build(None, "13.0"), plan_build("13.0", None), plan_build("13.0", "13.0", disabled=True)):
        assert not plan.cuda and plan.warning is None
    assert plan_build("13.0", "13.0", disabled=True).reason == "REALTIME_CUDA=0"


def test_nvcc_version_reads_the_release_line(tmp_path: Path) -> None:
    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.parent.mkdir()
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n")
    nvcc.chmod(nvcc.stat().st_mode | stat.S_IXUSR)
    assert nvcc_version(tmp_path) == "12.4"
    assert nvcc_version(tmp_path / "missing") is None and nvcc_version(None) is None
    if os.path.exists("/usr/local/cuda/bin/nvcc"):  # this machine's toolkit, as setup.py sees it
        assert nvcc_version("/usr/local/cuda") is not None
