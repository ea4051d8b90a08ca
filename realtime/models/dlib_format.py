"""A reader for dlib's serialized DNN files (``dlib::serialize(net)``), enough for the face-recognition ResNet.

dlib writes a network from the loss layer inwards: every layer's version number, outermost first, then the input
layer, then each computational layer's details (its name string and parameters) from the innermost layer outwards,
each followed by that layer's training state (flags and three tensors, empty in a released model). Integers use
dlib's variable-length encoding (a control byte: length in the low nibble, 0x80 for negative, then little-endian
bytes), floats a mantissa and exponent pair, tensors four sizes then little-endian float32 data.

:func:`read_layers` turns a file into the list of :class:`DlibLayer` (innermost first), checking the loss, the input
layer and the count of nested layers the caller expects; the model module checks each layer's kind and sizes as it
maps them onto torch parameters.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime.errors import InputError

__all__ = ["DlibLayer", "read_layers"]


@dataclass
class DlibLayer:
    """One computational layer's details: ``kind`` is dlib's name ("con", "affine", "relu", "max_pool", "avg_pool",
    "add_prev", "fc"), ``tensors`` its parameter arrays (float32, dlib's shapes), ``ints`` its integer settings."""

    kind: str
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    ints: dict[str, int] = field(default_factory=dict)


class _Stream:
    """dlib's primitive encodings over a bytes buffer."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.pos, self.name = data, 0, name

    def fail(self, what: str) -> InputError:
        return InputError(f"{self.name}: not a dlib face-recognition ResNet file ({what} at byte {self.pos})")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#x}")
        raw = self.data[self.pos + 1 : self.pos + 1 + size]
        if len(raw) != size:
            raise self.fail("unexpected end of file")
        self.pos += 1 + size
        value = int.from_bytes(raw, "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return math.ldexp(mantissa, exponent)

    def string(self) -> str:
        size = self.int()
        raw = self.data[self.pos : self.pos + size]
        if len(raw) != size or size > 256:
            raise self.fail("bad string")
        self.pos += size
        return raw.decode("latin-1")

    def bool(self) -> bool:
        char = self.data[self.pos : self.pos + 1]
        if char not in (b"0", b"1"):
            raise self.fail("bad boolean")
        self.pos += 1
        return char == b"1"

    def shape(self) -> tuple[int, int, int, int]:
        return self.int(), self.int(), self.int(), self.int()  # type: ignore[return-value]

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise self.fail("unsupported tensor version")
        shape = self.shape()
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if count < 0 or end > len(self.data):
            raise self.fail("tensor runs past the end of the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos = end
        return values.reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        if self.int() != 1:
            raise self.fail("unsupported alias_tensor version")
        return self.shape()

    def expect(self, value: object, what: str) -> None:
        if value is not True:
            raise self.fail(what)


def _details(s: _Stream) -> DlibLayer:
    """One layer's details, by the name that starts them."""
    name = s.string()
    if name in ("con_4", "con_5", "con_6"):
        params = s.tensor()
        filters, nr, nc, sy, sx, py, px = (s.int() for _ in range(7))
        weight, bias = s.alias(), s.alias()
        for _ in range(4):  # learning-rate and weight-decay multipliers
            s.float()
        use_bias = s.bool() if name in ("con_5", "con_6") else True
        if name == "con_6":
            s.bool()  # use_relu (a fused relu; the face network has none)
        n_weight = int(np.prod(weight))
        flat = params.reshape(-1)
        layer = DlibLayer("con", {"weight": flat[:n_weight].reshape(weight)})
        if use_bias:
            layer.tensors["bias"] = flat[n_weight : n_weight + int(np.prod(bias))].copy()
        layer.ints = {"filters": filters, "rows": nr, "cols": nc, "stride_y": sy, "stride_x": sx,
                      "pad_y": py, "pad_x": px}  # fmt: skip
        return layer
    if name in ("affine_", "affine_2"):
        params = s.tensor().reshape(-1)
        gamma, _beta = s.alias(), s.alias()
        mode = s.int()
        n = int(np.prod(gamma))
        return DlibLayer("affine", {"gamma": params[:n].copy(), "beta": params[n : 2 * n].copy()}, {"mode": mode})
    if name in ("relu_", "relu_1", "relu_2"):
        if name == "relu_2":
            s.bool()  # disabled
        return DlibLayer("relu")
    if name in ("max_pool_2", "avg_pool_2"):
        rows, cols, sy, sx, py, px = (s.int() for _ in range(6))
        ints = {"rows": rows, "cols": cols, "stride_y": sy, "stride_x": sx, "pad_y": py, "pad_x": px}
        return DlibLayer(name.removesuffix("_2"), ints=ints)
    if name == "add_prev_":
        return DlibLayer("add_prev")
    if name in ("fc_2", "fc_3"):
        outputs, inputs = s.int(), s.int()
        params = s.tensor().reshape(-1)
        weight, _bias = s.alias(), s.alias()
        bias_mode = s.int()
        for _ in range(4):
            s.float()
        if name == "fc_3":
            s.bool()
        n = int(np.prod(weight))
        layer = DlibLayer("fc", {"weight": params[:n].reshape(inputs, outputs)}, {"outputs": outputs})
        if bias_mode == 0:  # FC_HAS_BIAS
            layer.tensors["bias"] = params[n : n + outputs].copy()
        return layer
    raise s.fail(f"layer {name!r} is not part of the face-recognition ResNet")


def read_layers(
    path: str | os.PathLike[str], versions: int, input_name: str = "input_rgb_image_sized"
) -> tuple[dict[str, float], list[DlibLayer]]:
    """Parse a serialized dlib network of metric loss with ``versions`` nested layers (computational, tag and skip
    layers all count) over an RGB input layer.

    Returns:
        (input settings: avg_red, avg_green, avg_blue, rows, cols; computational layers, innermost first).
    Raises:
        InputError (one line, naming the file) when the file is missing or does not have that structure.
    """
    path = Path(path)
    try:
        s = _Stream(path.read_bytes(), path.name)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    s.expect(s.int() == 1, "loss version")
    loss = s.string()
    s.expect(loss in ("loss_metric_", "loss_metric_2"), f"loss {loss!r}")
    if loss == "loss_metric_2":
        s.float(), s.float()  # margin, distance threshold: training settings
    layer_versions = [s.int() for _ in range(versions)]
    s.expect(s.string() == input_name, "input layer")
    settings = {"avg_red": s.float(), "avg_green": s.float(), "avg_blue": s.float()}
    settings.update(rows=s.int(), cols=s.int())
    layers = []
    computational = sum(1 for v in layer_versions if v >= 2)  # tags and skips are version 1, layers 2 or 3
    for index in range(computational):
        layers.append(_details(s))
        for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled
            s.bool()
        s.tensor(), s.tensor(), s.tensor()  # x_grad, cached_output, params_grad / grad_final
        if index == 0 and layer_versions[-1] == 3:
            s.int()  # the input-facing layer's sample expansion factor
    s.expect(s.pos == len(s.data), f"{len(s.data) - s.pos} bytes left over")
    return settings, layers
