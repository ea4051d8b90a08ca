"""Loading of the compiled extension and the choice between it and the pure-PyTorch references.

Importing this module never fails: when ``realtime._C`` is missing or broken the reason is kept in
:data:`LOAD_ERROR`. ``impl="auto"`` then uses the reference with a one-time warning per op, unless the environment
sets ``REALTIME_REQUIRE_EXT=1`` (CI and benchmarks do), which turns that fallback into an error.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "LOAD_ERROR",
    "ExtensionMissingError",
    "autocast_dtype",
    "build_info",
    "choose_impl",
    "ext_op",
    "extension_loaded",
]

_IMPLS = ("auto", "ext", "ref")


class ExtensionMissingError(RuntimeError):
    """The compiled extension is needed (``impl="ext"`` or ``REALTIME_REQUIRE_EXT=1``) but not usable."""


def _load() -> tuple[Any, str | None]:
    try:
        from realtime import _C
    except Exception as exc:  # any failure (missing file, ABI mismatch, missing libcudart) means "not loaded"
        return None, f"{type(exc).__name__}: {exc}"
    return _C, None


_C, LOAD_ERROR = _load()
_warned: set[str] = set()


def extension_loaded() -> bool:
    """True when ``realtime._C`` imported and registered the ``torch.ops.realtime`` operators."""
    return _C is not None


def build_info() -> dict[str, Any]:
    """What the loaded extension was compiled with: {'cuda': bool, 'cuda_version': str, 'arch_list': str, ...}."""
    if _C is None:
        return {"loaded": False, "error": LOAD_ERROR}
    return {"loaded": True, **dict(_C.build_info())}


def _require_ext() -> bool:
    return os.environ.get("REALTIME_REQUIRE_EXT", "").strip().lower() in {"1", "true", "yes", "on"}


def _has_device_kernel(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return bool(build_info().get("cuda"))
    return False


def choose_impl(impl: str, op_name: str, like: torch.Tensor) -> str:
    """Resolve ``impl`` ("auto" | "ext" | "ref") to "ext" or "ref" for an op on ``like``'s device."""
    if impl not in _IMPLS:
        raise ValueError(f"{op_name}: impl must be one of {_IMPLS}, got {impl!r}")
    if impl == "ref":
        return "ref"
    usable = extension_loaded() and _has_device_kernel(like.device)
    if usable:
        return "ext"
    reason = (
        f"the realtime._C extension is not loaded ({LOAD_ERROR})"
        if not extension_loaded()
        else f"the realtime._C extension has no kernel for device {like.device}"
    )
    if impl == "ext" or _require_ext():
        why = "impl='ext'" if impl == "ext" else "REALTIME_REQUIRE_EXT=1"
        raise ExtensionMissingError(
            f"{op_name}: {why} but {reason}; rebuild with `pip install --no-build-isolation -e .`"
        )
    if op_name not in _warned:
        _warned.add(op_name)
        warnings.warn(f"{op_name}: using the slow PyTorch reference because {reason}", RuntimeWarning, stacklevel=3)
    return "ref"


def ext_op(name: str) -> Callable[..., Any]:
    """The ``torch.ops.realtime.<name>`` overload packet (only valid when the extension is loaded)."""
    return getattr(torch.ops.realtime, name)


def autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    """Autocast's lower-precision dtype when autocast is on for ``x``'s device, else None.

    The custom ops are not on autocast's op lists, and their kernels call ATen ops that autocast would otherwise
    recast mid-kernel; so each public op casts its floating inputs to this dtype and runs with autocast off, the way
    ``F.conv2d`` behaves under autocast."""
    device = x.device.type
    if device not in ("cpu", "cuda") or not torch.is_autocast_enabled(device):
        return None
    return torch.get_autocast_dtype(device)
