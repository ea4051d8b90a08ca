"""What setup.py builds for each torch / CUDA toolkit pairing (realtime/build_plan.py): a toolkit of another CUDA
major version than torch's gives the CPU kernels and one warning naming both, never a failed install, unless
FORCE_CUDA=1 asks for the CUDA kernels. The extension links libstdc++ dynamically: a static copy beside torch's crashed
the process at the first C++ error message on an H200 image."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from realtime.build_plan import carries_own_libstdcxx, nvcc_version, plan_build, without_static_libstdcxx
from realtime.ops._dispatch import extension_loaded


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


def _nm(path: Path) -> str:
    nm = shutil.which("nm")
    assert nm, "nm (binutils) comes with the compiler the extension is built with"
    return subprocess.run([nm, str(path)], capture_output=True, text=True, check=True).stdout


def test_a_static_libstdcxx_is_dropped_from_the_link_and_found_in_a_built_object(tmp_path: Path) -> None:
    """setup.py's link command loses -static-libstdc++, and its check after the link tells a shared object with its
    own copy of libstdc++ from one that imports it, on objects built here both ways."""
    assert without_static_libstdcxx(["g++", "-shared", "-static-libstdc++", "-O1"]) == ["g++", "-shared", "-O1"]
    source = tmp_path / "probe.cpp"
    source.write_text("#include <sstream>\nstd::string probe(long n) { std::ostringstream s; s << n; return s.str(); }")
    built = {}
    for name, flags in {"shared": [], "static": ["-static-libstdc++"]}.items():
        built[name] = tmp_path / f"{name}.so"
        subprocess.run(["g++", "-shared", "-fPIC", *flags, str(source), "-o", str(built[name])], check=True)
    assert carries_own_libstdcxx(_nm(built["static"])) and not carries_own_libstdcxx(_nm(built["shared"]))


@pytest.mark.skipif(not extension_loaded(), reason="the realtime._C extension is not built")
def test_the_installed_extension_imports_libstdcxx() -> None:
    """The realtime._C this suite runs against was linked without a copy of libstdc++ of its own."""
    import realtime._C

    assert not carries_own_libstdcxx(_nm(Path(realtime._C.__file__)))
