"""Build and install the realtime face-swap toolkit and its compiled operators (``realtime._C``).

What gets built:
  * a CUDAExtension (csrc/*.cpp, csrc/cpu/*.cpp and csrc/cuda/*.cu) when torch is a CUDA build and an nvcc of the
    same CUDA major version is found (realtime/build_plan.py; another major version: the CPU kernels and a
    warning naming both), or when FORCE_CUDA=1 (then any reason not to is an error);
  * a CppExtension (CPU kernels only) otherwise, or when REALTIME_CUDA=0;
  * nothing when REALTIME_NO_EXT=1 (pure-Python install; the ops fall back to their PyTorch references).
TORCH_CUDA_ARCH_LIST picks GPU architectures; without it and without a visible GPU a portable default is used.
The build needs torch already installed, hence ``pip install --no-build-isolation -e .`` (see README.md).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
DEFAULT_ARCH_LIST = "8.0;8.6;8.9;9.0+PTX"  # Ampere, Ada, Hopper (+PTX for newer GPUs to JIT)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _cuda_root() -> str | None:
    """The CUDA toolkit root with bin/nvcc and include/cuda_runtime.h (nvcc on PATH may be a wrapper script)."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(str(Path(nvcc).resolve().parent.parent))
    for root in candidates:
        if root and (Path(root) / "bin" / "nvcc").exists() and (Path(root) / "include" / "cuda_runtime.h").exists():
            return root
    return None


_CUDA_ROOT = _cuda_root()
if _CUDA_ROOT:  # must be set before torch.utils.cpp_extension reads it at import
    os.environ["CUDA_HOME"] = _CUDA_ROOT

import torch  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _build_plan():  # type: ignore[no-untyped-def]
    """realtime/build_plan.py, loaded by path: importing the realtime package would need its dependencies."""
    spec = importlib.util.spec_from_file_location("realtime_build_plan", ROOT / "realtime" / "build_plan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_BUILD_PLAN = _build_plan()  # what to build (_extensions) and how to link it (_LinkingLibstdcxxShared)


def _extensions() -> list:
    if _flag("REALTIME_NO_EXT"):
        print("realtime setup: REALTIME_NO_EXT=1, building no extension (ops use their PyTorch references)")
        return []
    common = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc").glob("*.cpp"))
    cpu = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc" / "cpu").glob("*.cpp"))
    cuda = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "csrc" / "cuda").glob("*.cu"))
    macros = [("REALTIME_TORCH_VERSION", f'"{torch.__version__}"')]
    cxx_flags = ["-O3", "-fopenmp"]  # ATen's parallel_for is inline OpenMP: without it the loops run serially
    plan = _BUILD_PLAN.plan_build(
        torch.version.cuda,
        _BUILD_PLAN.nvcc_version(_CUDA_ROOT),
        force_cuda=_flag("FORCE_CUDA"),
        disabled=os.environ.get("REALTIME_CUDA") == "0",
    )
    if plan.warning:
        print(plan.warning)
    if plan.cuda:
        if not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
            os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_ARCH_LIST
        arch_list = os.environ.get("TORCH_CUDA_ARCH_LIST", "visible GPU")
        print(
            f"realtime setup: building CUDA extension realtime._C (torch {torch.__version__}, CUDA "
            f"{torch.version.cuda}, nvcc in {_CUDA_ROOT}, arch {arch_list}): {len(common + cpu)} C++ + "
            f"{len(cuda)} CUDA sources"
        )
        macros += [
            ("REALTIME_WITH_CUDA", None),
            ("REALTIME_CUDA_VERSION", f'"{torch.version.cuda}"'),
            ("REALTIME_CUDA_ARCH_LIST", f'"{arch_list}"'),
        ]
        nvcc_flags = ["-O3", "-lineinfo", "--expt-relaxed-constexpr"]
        return [
            CUDAExtension(
                "realtime._C",
                common + cpu + cuda,
                define_macros=macros,
                extra_compile_args={"cxx": cxx_flags, "nvcc": nvcc_flags},
            )
        ]
    print(
        f"realtime setup: building CPU extension realtime._C ({plan.reason}; torch {torch.__version__}): "
        f"{len(common + cpu)} C++ sources"
    )
    return [CppExtension("realtime._C", common + cpu, define_macros=macros, extra_compile_args={"cxx": cxx_flags})]


class _LinkingLibstdcxxShared(BuildExtension):
    """torch's BuildExtension, with libstdc++ linked dynamically and checked after the link (realtime/build_plan.py:
    a static copy beside torch's made the extension's C++ errors crash the process on an H200 image); the link
    command is printed, so a verbose build's log shows it."""

    def build_extensions(self) -> None:
        for name in ("linker_so", "linker_so_cxx"):
            command = getattr(self.compiler, name, None)
            kept = _BUILD_PLAN.without_static_libstdcxx(command) if isinstance(command, list) else command
            if kept != command:
                print(f"realtime setup: dropped -static-libstdc++ from the link command ({' '.join(command)})")
                setattr(self.compiler, name, kept)
        linker = getattr(self.compiler, "linker_so_cxx", None) or self.compiler.linker_so
        print(f"realtime setup: linking with {' '.join(linker)}")
        super().build_extensions()
        nm = shutil.which("nm")
        for ext in self.extensions if nm else []:
            built = self.get_ext_fullpath(ext.name)
            listing = subprocess.run([nm, built], capture_output=True, text=True, check=False).stdout
            # a warning, not a failed install: the ops validate their arguments in Python first, so only a C++
            # check the wrappers do not repeat reaches the crash; tests/test_build_plan.py fails on such a build
            if _BUILD_PLAN.carries_own_libstdcxx(listing):
                print(f"realtime setup: WARNING: {built} carries its own copy of libstdc++ (linked statically); "
                      "beside torch's libstdc++.so.6 a C++ error message from it can crash the process. Find what "
                      "adds it to the link (LDFLAGS, the compiler's specs) and build again")  # fmt: skip


setup(
    name="realtime-faceswap",
    version="0.1.0",
    description="Real-time video face swap (SimSwap line) with fused C++/CUDA operators",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8") if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["realtime", "realtime.*", "training", "training.*"]),
    # data, not code: the model store's manifest, and the table impl="auto" takes its choices from
    package_data={"realtime.models": ["manifest.json"], "realtime.ops": ["auto_impl.json"]},
    install_requires=["torch>=2.4", "numpy>=1.24"],
    ext_modules=_extensions(),
    cmdclass={"build_ext": _LinkingLibstdcxxShared.with_options(use_ninja=True)},
    zip_safe=False,
)
