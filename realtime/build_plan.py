"""What ``setup.py`` builds, decided from torch's CUDA version and the CUDA toolkit found (no torch import here, so
setup.py can load this file alone and the tests can check every case).

torch's extension builder refuses an nvcc whose major version differs from the one torch was built with, so a
common GPU host (a CUDA 12 toolkit beside the pinned CUDA 13 torch) would fail ``pip install`` outright. Instead
the CPU kernels are built and one warning names both versions; ``FORCE_CUDA=1`` makes any reason not to build
the CUDA kernels an error.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BuildPlan", "carries_own_libstdcxx", "nvcc_version", "plan_build", "without_static_libstdcxx"]


@dataclass(frozen=True)
class BuildPlan:
    """``cuda``: build the CUDA kernels (else the CPU ones alone); ``reason``: why, for setup.py's line;
    ``warning``: one line to show the user when a CUDA build was possible in principle but is skipped."""

    cuda: bool
    reason: str
    warning: str | None = None


def nvcc_version(cuda_root: str | Path | None) -> str | None:
    """The "major.minor" release of ``cuda_root``/bin/nvcc, or None when there is none or it does not say."""
    if cuda_root is None:
        return None
    try:
        out = subprocess.run([str(Path(cuda_root) / "bin" / "nvcc"), "--version"], capture_output=True, text=True,
                             timeout=60, check=False).stdout  # fmt: skip
    except OSError:
        return None
    match = re.search(r"release (\d+)\.(\d+)", out)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def _major(version: str) -> str:
    return version.split(".", maxsplit=1)[0]


def plan_build(torch_cuda: str | None, nvcc: str | None, force_cuda: bool = False, disabled: bool = False) -> BuildPlan:
    """The plan for torch built with CUDA ``torch_cuda`` ("13.0", or None for a CPU torch) and a toolkit whose
    nvcc is ``nvcc`` ("12.4", or None when none was found). ``disabled``: REALTIME_CUDA=0. SystemExit (setup.py's
    error) when ``force_cuda`` and the CUDA kernels cannot be built."""

    def refuse(why: str) -> BuildPlan:
        if force_cuda:
            raise SystemExit(f"realtime setup: FORCE_CUDA=1 but {why}")
        return BuildPlan(False, why)

    if disabled and not force_cuda:
        return BuildPlan(False, "REALTIME_CUDA=0")
    if torch_cuda is None:
        return refuse("this torch is a CPU build; install a CUDA build")
    if nvcc is None:
        return refuse("no CUDA toolkit (nvcc) was found; set CUDA_HOME")
    if _major(nvcc) != _major(torch_cuda):
        why = (f"nvcc {nvcc} does not match torch's CUDA {torch_cuda} (torch builds extensions only with a CUDA "
               f"{_major(torch_cuda)}.x toolkit)")  # fmt: skip
        plan = refuse(why)
        return BuildPlan(False, plan.reason, f"realtime setup: warning: {why}; building the CPU kernels only "
                         f"(point CUDA_HOME at a CUDA {_major(torch_cuda)} toolkit for the GPU kernels)")  # fmt: skip
    return BuildPlan(True, f"torch CUDA {torch_cuda}, nvcc {nvcc}")


# std::ostream::_M_insert<long>: every TORCH_CHECK message with a number in it calls it. Defined inside the extension
# (not imported from libstdc++.so.6), it shows that a copy of libstdc++ was linked in statically.
_LIBSTDCXX_PROBE = "_ZNSo9_M_insertIlEERSoT_"


def without_static_libstdcxx(command: list[str]) -> list[str]:
    """A link command without ``-static-libstdc++``. On the GPU machine's image the extension came out linked with
    its own copy of libstdc++; with torch's libstdc++.so.6 in the same process, the first C++ error message that
    formatted a number crashed (SIGSEGV in std::ostream, seen on an H200) instead of raising RuntimeError."""
    return [arg for arg in command if arg != "-static-libstdc++"]


def carries_own_libstdcxx(nm_output: str) -> bool:
    """Whether ``nm``'s listing of a shared object shows libstdc++'s own code defined in it (a static copy) rather
    than imported (type U)."""
    for line in nm_output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[-1].split("@")[0] == _LIBSTDCXX_PROBE and fields[-2] != "U":
            return True
    return False
