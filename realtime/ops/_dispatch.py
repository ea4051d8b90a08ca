"""Loading of the compiled extension and the choice between it and the pure-PyTorch references.

Importing this module never fails: when ``realtime._C`` is missing or broken the reason is kept in
:data:`LOAD_ERROR`. ``impl="auto"`` then uses the reference with a one-time warning per op, unless the environment
sets ``REALTIME_REQUIRE_EXT=1`` (CI and benchmarks do), which turns that fallback into an error.

With the extension loaded, ``impl="auto"`` takes whichever of the custom kernel and the reference (ATen's own ops)
``bench/ops.py --write-auto`` measured faster for the op, device, memory layout and dtype (the table
``auto_impl.json`` beside this file, shipped with the package); a combination the table does not list takes the
custom kernel. A call that autograd will differentiate (training) is judged by the forward-plus-backward rows
(the table's ``<op>:train`` entries), since the forward's choice decides which backward runs; inference by the
forward rows. Taking the reference that way is a measured choice, not a fallback: it warns of nothing.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from realtime.ops._layout import output_layout

__all__ = [
    "AUTO_TABLE",
    "LOAD_ERROR",
    "TRAIN_SUFFIX",
    "ExtensionMissingError",
    "auto_key",
    "autocasting",
    "build_info",
    "choose_impl",
    "ext_op",
    "extension_loaded",
    "needs_grad",
    "read_auto_table",
]

_IMPLS = ("auto", "ext", "ref")
AUTO_TABLE = Path(__file__).with_name("auto_impl.json")


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


TRAIN_SUFFIX = ":train"  # the auto table's entries for calls with gradients: "<op>:train|device|layout|dtype"


def auto_key(op_name: str, like: torch.Tensor, grad: bool = False) -> tuple[str, str, str, torch.dtype]:
    """The auto table's key for an op on ``like``: (op, device type, "contiguous" | "channels_last", dtype); the
    op is ``<op>:train`` when ``grad`` (autograd will differentiate the call)."""
    layout = "channels_last" if output_layout(like) == torch.channels_last else "contiguous"
    return op_name + (TRAIN_SUFFIX if grad else ""), like.device.type, layout, like.dtype


def needs_grad(*tensors: torch.Tensor | None) -> bool:
    """Whether autograd will differentiate a call on ``tensors`` (grad mode on and one of them requires grad)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def read_auto_table(path: Path) -> dict[tuple[str, str, str, torch.dtype], str]:
    """The choices of an auto table file ("op|device|layout|dtype" -> {"impl": "ext" | "ref", ...}) by
    :func:`auto_key`; empty when the file is missing. Read once at import: ``choose_impl`` runs inside
    ``torch.compile``d models, where reading a file cannot be traced."""
    if not path.exists():
        return {}
    choices = {}
    for key, entry in json.loads(path.read_text())["choices"].items():
        op, device, layout, dtype = key.split("|")
        choices[op, device, layout, getattr(torch, dtype)] = entry["impl"]
    return choices


_AUTO_CHOICES = read_auto_table(AUTO_TABLE)


def choose_impl(impl: str, op_name: str, like: torch.Tensor, grad: bool = False) -> str:
    """Resolve ``impl`` ("auto" | "ext" | "ref") to "ext" or "ref" for an op on ``like``'s device; ``grad``: the
    call will be differentiated (:func:`needs_grad`), so auto goes by the table's training entry when it has one."""
    if impl not in _IMPLS:
        raise ValueError(f"{op_name}: impl must be one of {_IMPLS}, got {impl!r}")
    if impl == "ref":
        return "ref"
    usable = extension_loaded() and _has_device_kernel(like.device)
    if usable:
        if impl == "ext":
            return "ext"
        measured = _AUTO_CHOICES.get(auto_key(op_name, like, grad)) if grad else None
        return measured or _AUTO_CHOICES.get(auto_key(op_name, like), "ext")
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


def autocasting(x: torch.Tensor) -> bool:
    """Whether autocast is on for ``x``'s device. The ops' autocast kernels (csrc/autocast.cpp) then cast their
    floating inputs to autocast's dtype, as ``F.conv2d`` does (and the references, built on ``F.conv2d``, follow
    autocast themselves), so inputs of different floating dtypes are accepted."""
    device = x.device.type
    return device in ("cpu", "cuda") and torch.is_autocast_enabled(device)
