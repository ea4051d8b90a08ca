"""Training data: identity folders, python -m training.prepare, the pair dataset, face masks and step sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime.faces.align import estimate_similarity, template
from realtime.faces.types import kps5_from_68
from realtime.io.images import read_image
from tests.cli import call_main, run_module
from training.data import LANDMARKS_FILE, DataError, IdentityFolders, PairDataset, StepBatchSampler, face_mask


def all_landmarks(folders: IdentityFolders) -> np.ndarray:
    folders.check_sidecar(LANDMARKS_FILE, "the test", "prepare")
    return np.stack([folders.sidecar(i, LANDMARKS_FILE) for i in range(len(folders.paths))])


def test_prepare_writes_aligned_crops_with_landmarks(dataset: Path) -> None:
    folders = IdentityFolders.scan(dataset)
    assert len(folders.names) == 7 and len(folders.paths) == 21
    landmarks = all_landmarks(folders)
    for path, stored in zip(folders.paths[::5], landmarks[::5], strict=True):
        crop = read_image(path)
        assert crop.shape == (224, 224, 3)
        # aligned: the best similarity from the crop's five points to the ArcFace template is the identity
        m = estimate_similarity(kps5_from_68(stored), template("arcface", 224))
        assert np.abs(m[:, :2] - np.eye(2)).max() < 0.01 and np.abs(m[:, 2]).max() < 1.0, m


@pytest.mark.slow
def test_prepare_cli_aligned_mode_and_blur_filter(dataset: Path, tmp_path: Path) -> None:
    """--aligned finds the same landmarks on the crops as prepare stored when it made them."""
    out = tmp_path / "again"
    result = run_module("training.prepare", dataset, out, "--aligned", "--detector", "dlib")
    assert result.returncode == 0, result.stderr
    assert "training.prepare: 21 written -> " in result.stderr  # nothing dropped: only counts above 0 are listed
    first = all_landmarks(IdentityFolders.scan(dataset))
    again = all_landmarks(IdentityFolders.scan(out))
    assert np.abs(first - again).mean() < 2.0
    strict = call_main("training.prepare", dataset, tmp_path / "none", "--aligned", "--min-sharpness", "1e9")
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1].endswith(f"no usable face found in {dataset}")


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        IdentityFolders.scan(tmp_path / "missing")
    with pytest.raises(DataError, match="at least two identity folders"):
        IdentityFolders.scan(tmp_path)
    for who, count in (("a", 2), ("b", 1)):
        (tmp_path / who).mkdir()
        for i in range(count):
            (tmp_path / who / f"{i}.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"1 identity folder\(s\) .* single image \(e.g. 'b'\)"):
        IdentityFolders.scan(tmp_path)
    (tmp_path / "b" / "1.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match=r"--mask landmarks needs .*landmarks\.npz; write it with prepare"):
        IdentityFolders.scan(tmp_path).check_sidecar(LANDMARKS_FILE, "--mask landmarks", "prepare")
    np.savez(tmp_path / "a" / LANDMARKS_FILE, **{"0.jpg": np.zeros((68, 2)), "1.jpg": np.zeros((68, 2))})
    np.savez(tmp_path / "b" / LANDMARKS_FILE, **{"0.jpg": np.zeros((68, 2))})
    with pytest.raises(DataError, match=r"no entry for .*b/1\.jpg in .*b/landmarks\.npz"):
        IdentityFolders.scan(tmp_path).check_sidecar(LANDMARKS_FILE, "--mask landmarks", "prepare")
    dataset = PairDataset(IdentityFolders.scan(tmp_path), 224)
    with pytest.raises(DataError, match=r"unreadable training image .*0\.jpg"):
        dataset[(0, 1)]


def test_pairs_come_from_the_same_identity(dataset: Path) -> None:
    folders = IdentityFolders.scan(dataset)
    folders.check_sidecar(LANDMARKS_FILE, "the test", "prepare")
    data = PairDataset(folders, 224, augment=True, mask="landmarks")
    for index in range(0, len(data), 4):
        item = data[(index, 1000 + index)]
        assert item["target"].shape == item["source"].shape == (3, 224, 224)
        assert item["mask"].shape == (1, 224, 224)
        assert float(item["target"].min()) >= 0.0 and float(item["target"].max()) <= 1.0
        assert int(item["label"]) == folders.labels[index]
        assert not np.array_equal(item["target"].numpy(), item["source"].numpy())
        again = data[(index, 1000 + index)]
        assert all(np.array_equal(item[k].numpy(), again[k].numpy()) for k in item)  # a pure function of the seed


def test_face_mask_covers_the_face_and_not_the_corners(dataset: Path) -> None:
    landmarks = all_landmarks(IdentityFolders.scan(dataset))[0]
    mask = face_mask(landmarks, 224, 224)
    inside = np.round(landmarks[[30, 36, 45, 48, 54, 8]]).astype(int).clip(0, 223)
    assert mask[inside[:, 1], inside[:, 0]].min() > 0.9
    assert mask[:10, :10].max() == 0 and mask[-10:, -10:].max() == 0
    brows_y = landmarks[17:27, 1].min()
    assert mask[int(brows_y) - 10, int(landmarks[27, 0])] > 0.9  # the forehead is in
    half = face_mask(landmarks * 2, 112, 448)
    assert np.abs(half - face_mask(landmarks, 112, 224)).max() < 1e-6


def test_step_sampling_resumes_exactly() -> None:
    full = list(StepBatchSampler(50, 4, seed=3, start=0, steps=10))
    tail = list(StepBatchSampler(50, 4, seed=3, start=6, steps=10))
    assert full[6:] == tail and len(full) == 10
    assert full != list(StepBatchSampler(50, 4, seed=4, start=0, steps=10))
    assert full != list(StepBatchSampler(50, 4, seed=3, start=0, steps=10, rank=1))
