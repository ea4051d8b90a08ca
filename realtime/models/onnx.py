"""ONNX Runtime sessions for the model files users bring: one way to open them (with a one-line error for a file
that is missing or no ONNX model) and to feed them in the dtype they expect."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from realtime.errors import InputError

__all__ = ["image_input", "input_dtype", "open_session", "providers"]


def providers(device: str) -> list[str]:
    """onnxruntime's execution providers for ``device`` ("cpu" or "cuda"; CUDA only when onnxruntime has it)."""
    import onnxruntime

    if device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def open_session(path: str | os.PathLike[str], device: str = "cpu", quiet: bool = False) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` on ``device``; InputError naming the file when it is missing
    or cannot be loaded. ``quiet`` hides onnxruntime's warnings (some published models carry unused initializers)."""
    import onnxruntime

    path = Path(path)
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    options = onnxruntime.SessionOptions()
    if quiet:
        options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=providers(device))
    except Exception as exc:  # protobuf DecodeError, onnxruntime's Fail/InvalidGraph, ...
        raise InputError(f"cannot load ONNX model {path}: {(str(exc).splitlines() or ['?'])[0][:200]}") from exc


def input_dtype(node: Any) -> type[np.floating]:
    """The numpy dtype an input node of a session takes: float16 for ``tensor(float16)``, else float32."""
    return np.float16 if node.type == "tensor(float16)" else np.float32


def image_input(
    session: Any, path: str | os.PathLike[str], what: str, channels_last: bool = False, others: bool = False
) -> tuple[Any, int]:
    """A session's one square image input and its side: [N,3,S,S], or with ``channels_last`` also [N,S,S,3], S a
    fixed number; other inputs only with ``others``. InputError naming ``path`` as not ``what`` (e.g. "a face
    parser") otherwise."""
    inputs = session.get_inputs()
    images = [i for i in inputs if len(i.shape) == 4]
    if len(images) == 1 and (others or len(inputs) == 1):
        shape = list(images[0].shape)
        sides = shape[1:3] if channels_last and shape[3] == 3 else shape[2:4] if shape[1] == 3 else []
        if len(sides) == 2 and isinstance(sides[0], int) and sides[0] == sides[1]:
            return images[0], sides[0]
    layouts = "[N,3,S,S] or [N,S,S,3]" if channels_last else "[N,3,S,S]"
    raise InputError(f"{path} is not {what} (one {layouts} image input expected)")
