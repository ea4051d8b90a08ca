"""ArcFace identity encoder: insightface's iresnet (r18, r34, r50, r100) in torch, loadable from an insightface
recognition ONNX file (buffalo_l's ``w600k_r50.onnx``, antelopev2's ``glintr100.onnx``) or an arcface_torch ``.pth``.

The module keeps arcface_torch's parameter names, so its ``.pth`` files load as they are. ONNX files exported from
it have most batch norms folded into the preceding convolutions; :func:`load_onnx_weights` walks the graph in
execution order and maps each Conv, BatchNormalization, PRelu and Gemm onto the module, turning a folded batch norm
back into an exact identity-plus-bias one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from realtime.errors import InputError
from realtime.models.encoder import IdentityEncoder

__all__ = [
    "ARCFACE_ARCHS",
    "ArcFaceEncoder",
    "IResNet",
    "SimSwapIdentity",
    "load_arcface",
    "load_onnx_weights",
]

ARCFACE_ARCHS = {"r18": (2, 2, 2, 2), "r34": (3, 4, 6, 3), "r50": (3, 4, 14, 3), "r100": (3, 13, 30, 3)}
INPUT_SIZE = 112


class IBasicBlock(nn.Module):
    """Pre-activation residual block of iresnet: bn, conv 3x3, bn, prelu, conv 3x3 (stride), bn, + shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet(nn.Module):
    """insightface's iresnet: x [N,3,112,112] RGB normalised to [-1, 1] -> raw embedding [N,num_features]."""

    def __init__(
        self, layers: tuple[int, ...] = ARCFACE_ARCHS["r50"], num_features: int = 512, width: int = 64
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-5)
        self.prelu = nn.PReLU(width)
        cin = width
        for i, blocks in enumerate(layers):
            cout = width * 2**i
            stage = [IBasicBlock(cin if j == 0 else cout, cout, 2 if j == 0 else 1) for j in range(blocks)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            cin = cout
        self.bn2 = nn.BatchNorm2d(cin, eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        spatial = INPUT_SIZE // 2 ** len(layers)
        self.fc = nn.Linear(cin * spatial * spatial, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)
        self.depth = len(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        for i in range(self.depth):
            x = getattr(self, f"layer{i + 1}")(x)
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


class ArcFaceEncoder(IdentityEncoder):
    """Identity embeddings from ArcFace-aligned crops: faces [N,3,112,112] RGB float in [0,1] -> L2-normalised
    [N,num_features] float (cosine similarity is the dot product). ``crop`` is the alignment it expects."""

    crop = ("arcface", 112)

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone.eval()
        features = getattr(backbone, "features", None)
        self.dim = int(features.num_features) if isinstance(features, nn.BatchNorm1d) else 512

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.backbone(faces * 2.0 - 1.0), dim=1)

    def describe(self) -> str:
        return f"ArcFace iresnet ({self.dim}-d)"


class SimSwapIdentity(ArcFaceEncoder):
    """A trusted, whole identity network used as it is, with SimSwap's preprocessing: its 224 pose-template crop,
    ImageNet normalisation, nearest resize to 112 (as SimSwap's test scripts feed ``arcface_checkpoint.tar``)."""

    crop = ("simswap", 224)
    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        mean = faces.new_tensor(self.MEAN).view(1, 3, 1, 1)
        std = faces.new_tensor(self.STD).view(1, 3, 1, 1)
        x = F.interpolate((faces - mean) / std, size=(112, 112))
        return F.normalize(self.backbone(x), dim=1)

    def alignment(self, points: np.ndarray) -> np.ndarray:
        """SimSwap's crop: the best fitting of its five pose templates."""
        from realtime.faces.align import alignment_matrix

        return alignment_matrix(points, *self.crop)

    def embed_crops(self, faces: torch.Tensor, crop: str) -> torch.Tensor:
        raise ValueError("an identity network on SimSwap's pose-template crop cannot embed fixed-template crops")


def _events(model: IResNet) -> list[tuple[str, nn.Module]]:
    """The model's parameterised layers in execution order (the order an ONNX export lists them)."""
    out: list[tuple[str, nn.Module]] = [("conv", model.conv1), ("bn", model.bn1), ("prelu", model.prelu)]
    for i in range(model.depth):
        for block in getattr(model, f"layer{i + 1}"):
            out += [("bn", block.bn1), ("conv", block.conv1), ("bn", block.bn2), ("prelu", block.prelu)]
            out += [("conv", block.conv2), ("bn", block.bn3)]
            if block.downsample is not None:
                out += [("conv", block.downsample[0]), ("bn", block.downsample[1])]
    return [*out, ("bn", model.bn2), ("fc", model.fc), ("bn", model.features)]


def _onnx_layers(path: Path) -> list[tuple[str, list[np.ndarray], dict[str, object]]]:
    """(op type, parameter arrays, attributes) of the graph's Conv, BatchNormalization, PRelu, Gemm and MatMul(+Add)
    nodes in order."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError and friends
        raise InputError(f"cannot read ONNX model {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    layers = []
    for node in model.graph.node:
        params = [values[name] for name in node.input if name in values]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in ("Conv", "BatchNormalization", "PRelu", "Gemm", "MatMul") and params:
            layers.append((node.op_type, params, attrs))
        elif node.op_type == "Add" and params and layers and layers[-1][0] == "MatMul":
            layers[-1][1].append(params[0])  # the bias of a MatMul + Add fully connected layer
    return layers


def _set(param: torch.Tensor, value: np.ndarray, where: str) -> None:
    tensor = torch.from_numpy(np.array(value, dtype=np.float32))  # a writable copy
    if tensor.numel() != param.numel():
        raise InputError(f"{where}: {tuple(tensor.shape)} in the file, {tuple(param.shape)} in the model")
    with torch.no_grad():
        param.copy_(tensor.reshape(param.shape))


def _identity_bn(bn: nn.Module, bias: np.ndarray) -> None:
    """Make ``bn`` compute y = x + bias exactly (the batch norm the exporter folded into the conv before it)."""
    with torch.no_grad():
        bn.weight.fill_(1.0)
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.bias.copy_(torch.from_numpy(np.array(bias, dtype=np.float32)))


def load_onnx_weights(model: IResNet, path: str | os.PathLike[str]) -> IResNet:
    """Copy an iresnet ONNX file's weights into ``model`` (which must have the file's architecture); InputError
    naming the first layer that does not fit."""
    path = Path(path)
    layers = _onnx_layers(path)
    events, pos = _events(model), 0
    folded: set[int] = set()  # batch norms the exporter merged into the convolution before them
    for index, (kind, module) in enumerate(events):
        where = f"{path.name}: layer {index} ({kind})"
        if id(module) in folded:
            continue
        if pos >= len(layers):
            raise InputError(f"{where}: the file has fewer layers than an iresnet of this depth")
        op, params, attrs = layers[pos]
        pos += 1
        if kind == "conv" and op == "Conv":
            _set(module.weight, params[0], where)
            if len(params) > 1:  # a conv with a bias here means its batch norm was folded into it
                following = events[index + 1][1]
                _identity_bn(following, params[1])
                folded.add(id(following))
        elif kind == "bn" and op == "BatchNormalization":
            if len(params) != 4:
                raise InputError(f"{where}: a BatchNormalization without its four parameter tensors")
            bn_params = (module.weight, module.bias, module.running_mean, module.running_var)
            for param, value in zip(bn_params, params, strict=True):
                _set(param, value, where)
            module.eps = float(attrs.get("epsilon", 1e-5))
        elif kind == "prelu" and op == "PRelu":
            _set(module.weight, params[0], where)
        elif kind == "fc" and op in ("Gemm", "MatMul"):
            weight = params[0] if op == "Gemm" and attrs.get("transB", 0) else params[0].T
            _set(module.weight, weight, where)
            _set(module.bias, params[1] if len(params) > 1 else np.zeros(module.out_features), where)
        else:
            raise InputError(f"{where}: found {op} where the iresnet has a layer of kind {kind}; not an iresnet model")
    if pos != len(layers):
        raise InputError(f"{path.name}: {len(layers) - pos} layers left over; the file is a deeper network")
    return model


def _arch_of_onnx(path: Path, arch: str | None) -> tuple[str, int]:
    """Which iresnet an ONNX file holds: its depth (``arch``, or from the number of 3x3 convolutions: 2 per block,
    plus the stem) and its base width (the stem's output channels)."""
    convs = [params[0] for op, params, _ in _onnx_layers(path) if op == "Conv" and params[0].shape[-1] == 3]
    width = int(convs[0].shape[0]) if convs else 64
    if arch is not None:
        return arch, width
    for name, layers in ARCFACE_ARCHS.items():
        if len(convs) == 1 + 2 * sum(layers):
            return name, width
    raise InputError(f"{path.name}: {len(convs)} 3x3 convolutions match no iresnet depth ({', '.join(ARCFACE_ARCHS)})")


def load_arcface(path: str | os.PathLike[str], arch: str | None = None, trust_pickle: bool = False) -> ArcFaceEncoder:
    """An :class:`ArcFaceEncoder` from an insightface recognition ``.onnx`` or an arcface_torch ``.pth`` state dict
    (``arch`` r18/r34/r50/r100 inferred when None; the base width, 64 in every published model, read from the
    file), or, with ``trust_pickle``, a :class:`SimSwapIdentity` around a whole pickled network such as SimSwap's
    ``arcface_checkpoint.tar``. InputError for unreadable or mismatched files."""
    from realtime.models.checkpoint import load_state

    path = Path(path)
    if not path.is_file():
        raise InputError(f"identity model not found: {path}")
    if path.suffix.lower() == ".onnx":
        arch, width = _arch_of_onnx(path, arch)
        return ArcFaceEncoder(load_onnx_weights(IResNet(ARCFACE_ARCHS[arch], width=width), path))
    state = load_state(path, trust_pickle)
    if isinstance(state, IResNet):  # objects are only reachable with trust_pickle: the user vouched for the file
        return ArcFaceEncoder(state)
    if isinstance(state, nn.Module):
        return SimSwapIdentity(state)
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise InputError(f"{path} is not an arcface_torch iresnet state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if arch is None:
        blocks = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
        arch = next((n for n, layers in ARCFACE_ARCHS.items() if list(layers) == blocks), None)
        if arch is None:
            raise InputError(f"{path}: blocks per stage {blocks} match no iresnet ({', '.join(ARCFACE_ARCHS)})")
    stem = state.get("conv1.weight")
    model = IResNet(ARCFACE_ARCHS[arch], width=int(stem.shape[0]) if isinstance(stem, torch.Tensor) else 64)
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        keys = (missing + result.unexpected_keys)[:3]
        raise InputError(f"{path} does not fit an iresnet {arch}: {', '.join(keys)} ...")
    return ArcFaceEncoder(model)
