"""ArcFace iresnet: ONNX (batch norms folded by the exporter) and arcface_torch .pth loading reproduce the network
they came from, on real face crops."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.errors import InputError
from realtime.faces.align import warp_face
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.models.arcface import (
    ArcFaceEncoder,
    IResNet,
    SimSwapIdentity,
    load_arcface,
    load_onnx_weights,
)
from realtime.samples import face_image

TINY = (1, 1, 1, 1)  # one block per stage: an r-something small enough to export in a test


def randomised(model: IResNet, gen: torch.Generator) -> IResNet:
    """Random weights and batch-norm statistics everywhere (a freshly built net has identity batch norms)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
            elif isinstance(module, torch.nn.PReLU):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) * 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def crops(dlib_analyzer: DlibAnalyzer) -> torch.Tensor:
    """ArcFace-aligned 112x112 crops of the six people of t1.jpg and the astronaut: [7,3,112,112] in [0,1]."""
    analyzer, out = dlib_analyzer, []
    for image in (face_image("group"), face_image("astronaut")):
        for face in analyzer.detect(image):
            crop, _ = warp_face(image, face.kps5, "arcface", 112)
            out.append(torch.from_numpy(crop).permute(2, 0, 1).float() / 255)
    return torch.stack(out)


def export(model: IResNet, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation
        torch.onnx.export(model, (torch.rand(1, 3, 112, 112),), str(path), dynamo=False, input_names=["input.1"])
    return path


def test_onnx_loader_reproduces_the_exported_network(tmp_path: Path, crops: torch.Tensor, gen) -> None:  # type: ignore[no-untyped-def]
    import onnx

    original = randomised(IResNet(TINY), gen)
    path = export(original, tmp_path / "w600k_tiny.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("BatchNormalization") < 3 * 4 + 3  # the exporter folded conv + bn pairs
    model = load_onnx_weights(IResNet(TINY), path)  # TINY is no published depth, so the architecture is given
    with torch.no_grad():
        expected = ArcFaceEncoder(original)(crops)
        got = ArcFaceEncoder(model.eval())(crops)
    cosine = (expected * got).sum(1)
    assert cosine.min() >= 0.9999, cosine


@pytest.mark.parametrize("width", [64, 16])  # published models are 64 wide; the training tests use a 16-wide r18
def test_pth_loader_and_arch_inference(tmp_path: Path, crops: torch.Tensor, gen, width: int) -> None:  # type: ignore[no-untyped-def]
    original = randomised(IResNet((2, 2, 2, 2), width=width), gen)  # r18
    path = tmp_path / "backbone.pth"
    torch.save(original.state_dict(), path)
    encoder = load_arcface(path)
    assert encoder.backbone.conv1.out_channels == width
    with torch.no_grad():
        cosine = (ArcFaceEncoder(original)(crops) * encoder(crops)).sum(1)
    assert cosine.min() >= 0.9999
    onnx_path = export(original, tmp_path / "r18.onnx")
    with torch.no_grad():
        cosine = (ArcFaceEncoder(original)(crops) * load_arcface(onnx_path)(crops)).sum(1)
    assert cosine.min() >= 0.9999


def test_embeddings_are_unit_vectors(crops: torch.Tensor, gen) -> None:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        out = ArcFaceEncoder(randomised(IResNet(TINY), gen))(crops)
    assert out.shape == (len(crops), 512)
    assert torch.allclose(out.norm(dim=1), torch.ones(len(crops)), atol=1e-5)


def test_bad_identity_models(tmp_path: Path, gen) -> None:  # type: ignore[no-untyped-def]
    good = export(randomised(IResNet(TINY), gen), tmp_path / "tiny.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good.read_bytes()[:3000])
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, other)
    with pytest.raises(InputError, match="not found"):
        load_arcface(tmp_path / "missing.onnx")
    with pytest.raises(InputError, match=r"cannot read ONNX model|match no iresnet"):
        load_arcface(truncated)
    with pytest.raises(InputError, match="match no iresnet"):
        load_arcface(good)  # one block per stage is not a published depth
    with pytest.raises(InputError, match=r"in the file, .* in the model"):
        load_arcface(good, arch="r18")
    with pytest.raises(InputError, match="not an arcface_torch"):
        load_arcface(other)


def test_a_trusted_whole_network_runs_with_simswap_preprocessing(tmp_path: Path, gen) -> None:  # type: ignore[no-untyped-def]
    """Like SimSwap's arcface_checkpoint.tar: a pickled module, refused unless trusted, then used as it is."""
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(),
        torch.nn.Linear(128, 64),
    ).eval()  # fmt: skip
    path = tmp_path / "arcface_checkpoint.tar"
    torch.save(network, path)
    with pytest.raises(InputError, match="--trust-pickle"):
        load_arcface(path)
    encoder = load_arcface(path, trust_pickle=True)
    assert isinstance(encoder, SimSwapIdentity)
    image = face_image("astronaut")
    face = DlibAnalyzer().detect(image)[0]
    embedding = encoder.embed(image, face.kps5)
    crop, _ = warp_face(image, face.kps5, "simswap", 224)  # SimSwap: 224 pose-template crop, ImageNet, 112
    x = (torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255 - torch.tensor([0.485, 0.456, 0.406]).view(
        1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)  # fmt: skip
    with torch.no_grad():
        expected = torch.nn.functional.normalize(network(torch.nn.functional.interpolate(x, size=(112, 112))), dim=1)
    assert embedding.shape == (64,) and np.allclose(embedding, expected[0].numpy(), atol=1e-6)


def test_embed_crops_of_other_framings_match_the_encoders_own_crop(gen: torch.Generator) -> None:
    """Training embeds its 224 ArcFace crops and 512 FFHQ crops in a differentiable way; the result equals the
    embedding of the encoder's own 112 crop of the same face."""
    encoder = ArcFaceEncoder(randomised(IResNet((1, 1, 1, 1)), gen)).eval()
    image = face_image("astronaut")
    face = DlibAnalyzer().detect(image)[0]
    own = encoder.embed(image, face.kps5)
    for crop, size in (("arcface", 224), ("ffhq", 512)):
        aligned, _ = warp_face(image, face.kps5, crop, size)
        faces = torch.from_numpy(aligned).permute(2, 0, 1)[None].float().div(255).requires_grad_(True)
        embedding = encoder.embed_crops(faces, crop)
        embedding.sum().backward()
        assert faces.grad is not None and faces.grad.abs().sum() > 0
        assert float(embedding[0].detach() @ torch.from_numpy(own)) > 0.99, crop
