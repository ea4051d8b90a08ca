"""The movie-data steps: every face of a frame (prepare --all-faces) and sorting crops by identity (cluster)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np

from realtime.samples import face_image
from tests.cli import call_main, run_module
from training.identities import spherical_kmeans


def test_spherical_kmeans_recovers_separated_groups() -> None:
    rng = np.random.default_rng(0)
    centres = np.linalg.qr(rng.standard_normal((16, 4)))[0].T  # four orthogonal directions
    x = np.concatenate([c + 0.15 * rng.standard_normal((20, 16)) for c in centres])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels, found = spherical_kmeans(x, 4, seed=1)
    truth = np.repeat(np.arange(4), 20)
    assert all(len(set(labels[truth == g])) == 1 for g in range(4))  # each true group in one cluster
    assert len(set(labels)) == 4
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0)


def test_all_faces_of_a_frame_are_cropped(tmp_path: Path) -> None:
    (tmp_path / "src" / "film").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "src" / "film" / "frame.jpg"), cv2.cvtColor(face_image("group"), cv2.COLOR_RGB2BGR))
    # no roll limit: one of the six tilts her head 35 degrees (the rules have their own tests)
    result = call_main("training.prepare", tmp_path / "src", tmp_path / "faces", "--all-faces", "--detector", "dlib",
                       "--min-face", "60", "--max-roll", "0")  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "faces" / "film").glob("*.png"))
    assert names == [f"frame_face{k}.png" for k in range(6)]
    with np.load(tmp_path / "faces" / "film" / "landmarks.npz") as marks:
        assert sorted(marks.files) == names


def test_cluster_sorts_crops_by_person(dataset: Path, tmp_path: Path) -> None:
    """The 21 prepared crops of seven people, mixed in one folder, come back as seven one-person clusters."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    table = {}
    for folder in sorted(p for p in dataset.iterdir() if p.is_dir()):
        with np.load(folder / "landmarks.npz") as marks:
            for name in marks.files:
                shutil.copy(folder / name, mixed / f"{folder.name}-{name}")
                table[f"{folder.name}-{name}"] = marks[name]
    np.savez(mixed / "landmarks.npz", **table)
    out = tmp_path / "sorted"
    result = run_module("training.cluster", mixed, out, "--clusters", "7")
    assert result.returncode == 0, result.stderr
    assert "21 crops in 7 clusters" in result.stderr
    clusters = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in clusters] == [f"mixed_{k:02d}" for k in range(7)]
    for cluster in clusters:
        people = {p.name.split("-")[0] for p in cluster.glob("*.png")}
        assert len(people) == 1, (cluster.name, people)
        with np.load(cluster / "landmarks.npz") as marks:
            assert sorted(marks.files) == sorted(p.name for p in cluster.glob("*.png"))
    with (out / "clusters.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 21 and all(-1.0 <= float(r["cosine_to_centre"]) <= 1.0 for r in rows)
    too_many = call_main("training.cluster", mixed, tmp_path / "x", "--clusters", "50")
    assert too_many.returncode == 1 and "fewer than --clusters 50" in too_many.stderr
