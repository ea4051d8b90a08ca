"""The insightface backend on packs the tests build (see insightface_pack.py): pack discovery, decoding checked
against the planted answer and against insightface's own FaceAnalysis, embeddings, and clear errors."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError
from realtime.faces.backends import create_analyzer
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.insightface_backend import InsightFaceAnalyzer, find_model_pack
from tests.faces.insightface_pack import PlantedFace, build_pack, plant, source_aligned_to


@pytest.fixture(scope="module")
def planted(astronaut, dlib_analyzer) -> PlantedFace:  # type: ignore[no-untyped-def]
    return plant(astronaut, dlib_analyzer)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory, planted: PlantedFace) -> Path:
    return build_pack(tmp_path_factory.mktemp("models") / "buffalo_test", planted)


@pytest.fixture(scope="module")
def analyzer(pack: Path) -> InsightFaceAnalyzer:
    return InsightFaceAnalyzer(pack)


def test_decodes_the_planted_face(astronaut, planted, analyzer):  # type: ignore[no-untyped-def]
    (face,) = analyzer.detect(astronaut)
    assert face.score > 0.99
    assert np.abs(face.bbox - planted.bbox).max() < 0.5
    assert np.abs(face.landmarks - planted.landmarks).max() < 0.5
    assert np.abs(face.extra["kps_detector"] - planted.kps5).max() < 0.5
    assert np.abs(face.kps5 - planted.kps5).max() < 0.5  # kps5 from the 68 points, like dlib's
    refit = analyzer.landmarks(astronaut, face.bbox + 3.0, face.score)  # between detections: box given
    assert np.abs(refit.landmarks - planted.landmarks).max() < 6


def test_matches_insightface_face_analysis(astronaut, pack, analyzer):  # type: ignore[no-untyped-def]
    """insightface's own app on the same pack is the oracle for boxes, landmarks and embeddings."""
    from insightface.app import FaceAnalysis

    app = FaceAnalysis(name=str(pack), providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=(640, 640))
    with warnings.catch_warnings():  # insightface's crop may call a deprecated scikit-image API: not ours to judge
        warnings.simplefilter("ignore", FutureWarning)
        (theirs,) = app.get(np.ascontiguousarray(astronaut[..., ::-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our adapter hides that warning from users
        (ours,) = analyzer.detect(astronaut)
    assert np.allclose(ours.bbox, theirs.bbox, atol=1e-4)
    assert np.allclose(ours.landmarks, theirs.landmark_3d_68[:, :2], atol=1e-4)
    embedding = analyzer.embed(astronaut, ours)
    assert embedding.shape == (512,) and embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(embedding)) - 1) < 1e-5
    assert np.allclose(embedding, theirs.normed_embedding, atol=1e-5)


def test_embedding_follows_the_face(astronaut, planted, analyzer):  # type: ignore[no-untyped-def]
    """Same crop, same embedding; another person at the same place, another embedding (random weights, so
    only the metric's mechanics are checked, not recognition quality)."""
    other = source_aligned_to(planted, DlibAnalyzer())
    (a,), (b,) = analyzer.detect(astronaut), analyzer.detect(other)
    ea, eb = analyzer.embed(astronaut, a), analyzer.embed(other, b)
    assert analyzer.distance(ea, ea) < 1e-6
    assert 0 < analyzer.distance(ea, eb) <= 2
    assert analyzer.distance(ea, -ea) == pytest.approx(2.0)


def test_find_model_pack_prefers_buffalo_l(tmp_path: Path, pack: Path) -> None:
    assert find_model_pack(tmp_path) is None
    assert find_model_pack(tmp_path / "missing") is None
    for name in ("zzz", "buffalo_s", "buffalo_l"):
        shutil.copytree(pack, tmp_path / name)
    (tmp_path / "empty").mkdir()
    assert find_model_pack(tmp_path) == tmp_path / "buffalo_l"
    assert find_model_pack(tmp_path / "zzz") == tmp_path / "zzz"  # a pack folder itself


def test_auto_picks_a_pack_in_the_insightface_home(tmp_path, pack, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert create_analyzer("auto").name == "dlib"  # no ~/.insightface/models
    shutil.copytree(pack, tmp_path / ".insightface" / "models" / "buffalo_l")
    chosen = create_analyzer("auto")
    assert chosen.name == "insightface" and "buffalo_l" in chosen.describe()
    assert create_analyzer("dlib").name == "dlib"


def test_missing_or_broken_packs_are_input_errors(tmp_path, pack, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InputError, match="no insightface model pack"):
        create_analyzer("insightface")
    with pytest.raises(InputError, match="no insightface model pack"):
        create_analyzer("auto", tmp_path / "nowhere")  # a folder the user named is never skipped quietly
    partial = tmp_path / "partial"
    shutil.copytree(pack, partial)
    (partial / "landmarks.onnx").unlink()
    with pytest.raises(InputError, match="68-point landmark model"):
        InsightFaceAnalyzer(partial)
    data = (pack / "det.onnx").read_bytes()
    (partial / "landmarks.onnx").write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(InputError, match=r"cannot load model .*landmarks\.onnx"):
        InsightFaceAnalyzer(partial)


def test_auto_finds_the_model_stores_pack_only_when_complete(tmp_path, pack, monkeypatch):  # type: ignore[no-untyped-def]
    from realtime.models.store import ModelStore

    monkeypatch.setenv("HOME", str(tmp_path))
    store = ModelStore(tmp_path / "home")
    folder = store.root / "buffalo_l"
    folder.mkdir(parents=True)
    shutil.copy(pack / "recognition.onnx", folder / "w600k_r50.onnx")  # what fetching only inswapper's ArcFace leaves
    assert store.analysis_pack() is None
    shutil.copy(pack / "det.onnx", folder / "det_10g.onnx")
    shutil.copy(pack / "landmarks.onnx", folder / "1k3d68.onnx")
    assert store.analysis_pack() == folder
    chosen = create_analyzer("auto", also_search=[folder])
    assert chosen.name == "insightface" and str(folder) in chosen.describe()
