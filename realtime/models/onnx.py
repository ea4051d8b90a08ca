"""ONNX Runtime sessions for the model files users bring: one way to open them (with a one-line error for a file
that is missing or no ONNX model) and to feed them in the dtype they expect."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime.errors import InputError

__all__ = ["TimedSession", "image_input", "input_dtype", "open_session", "providers", "to_blob", "to_bytes"]


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
    # onnxruntime's pool threads otherwise spin for a while after each run, taking the cores from the crops,
    # warps and blends that follow it (the chain's own work measured 40% slower beside them)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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


class TimedSession:
    """An onnxruntime session that adds up the seconds spent in its :meth:`run` calls (``seconds``), so callers can
    tell a model's own time from the work around it (``bench/chain.py``)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seconds = 0.0

    def run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """All outputs of the model for ``feed`` (input name -> array)."""
        start = time.perf_counter()
        try:
            return self.session.run(None, feed)  # type: ignore[no-any-return]
        finally:
            self.seconds += time.perf_counter() - start


def to_blob(
    images: np.ndarray,
    mean: Sequence[float],
    std: Sequence[float],
    dtype: type[np.floating] = np.float32,
    channels_first: bool = True,
) -> np.ndarray:
    """A model input from uint8 RGB images [N,H,W,3]: ``(images / 255 - mean) / std`` per channel, as [N,3,H,W]
    (``channels_first``) or [N,H,W,3], in ``dtype``.

    A table lookup per pixel (cv2.LUT over 256 entries) written straight into the output's planes: numpy's
    arithmetic and its [H,W,3] -> [3,H,W] float copy cost 8.5 ms for a 512 crop on 2 cores, this 0.3 ms, with the
    same float32 values."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"expected uint8 images [N,H,W,3], got {images.dtype} {images.shape}")
    levels = np.arange(256, dtype=np.float32)[:, None] / np.float32(255.0)
    table = ((levels - np.float32(mean)) / np.float32(std)).astype(np.float32)  # [256, 3]
    n, h, w, _ = images.shape
    out = np.empty((n, 3, h, w) if channels_first else (n, h, w, 3), np.float32)
    for i, image in enumerate(images):
        if channels_first:
            for c, plane in enumerate(cv2.split(image)):
                cv2.LUT(plane, np.ascontiguousarray(table[:, c]), dst=out[i, c])
        else:
            cv2.LUT(np.ascontiguousarray(image), table.reshape(256, 1, 3), dst=out[i])
    return out.astype(dtype, copy=False)


def to_bytes(values: np.ndarray, scale: float, offset: float = 0.0) -> np.ndarray:
    """uint8 array of ``values``' shape (any float dtype): ``values * scale + offset`` rounded and clipped to
    0..255, in one saturating pass (a model output turned into pixels or a byte map)."""
    values = np.ascontiguousarray(values, np.float32)
    rows = values.reshape(-1, int(np.prod(values.shape[-2:])) if values.ndim >= 2 else values.size)
    return cv2.addWeighted(rows, scale, rows, 0.0, offset, dtype=cv2.CV_8U).reshape(values.shape)
