"""training.prepare's cleaning rules and the identity-outlier pass on crafted photos of the package faces: a face
rolled 40 degrees, a blurred one, a photo of another person planted in an identity folder, an image with no face,
and (among already-aligned crops) a small face in a large frame, each dropped or moved with its reason and counted;
then training.report renders it all."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.io.images import image_files, read_image, write_image
from realtime.samples import person_photos
from tests.cli import call_main
from training.cleaning import CleaningRules, FaceQuality, landmark_problem, verdict
from training.identities import judge_folder

ASTRONAUT, PLANTED, OTHER = 6, 3, 5  # person_photos() indices: the astronaut's roll is 3 degrees


def rotated(image: np.ndarray, degrees: float, pad: int = 0) -> np.ndarray:
    """``image`` turned about its centre, on a grey canvas ``pad`` pixels wider each side (no reflected faces)."""
    big = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    h, w = big.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(big, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SRC/astronaut: five good photos and the four crafted ones; SRC/other: three photos of another person."""
    rng = np.random.default_rng(0)
    photos = person_photos()

    def noisy(image: np.ndarray) -> np.ndarray:  # sensor noise: no two photos identical
        return np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)

    src = tmp_path_factory.mktemp("crafted") / "src"
    for who in ("astronaut", "other"):
        (src / who).mkdir(parents=True)
    for i, degrees in enumerate((-4, -2, 0, 2, 4)):
        write_image(src / "astronaut" / f"good{i}.jpg", noisy(rotated(photos[ASTRONAUT], degrees)))
    write_image(src / "astronaut" / "rolled.jpg", noisy(rotated(photos[ASTRONAUT], 40, pad=100)))
    write_image(src / "astronaut" / "blurred.jpg", cv2.GaussianBlur(photos[ASTRONAUT], (0, 0), 2.5))
    write_image(src / "astronaut" / "planted.jpg", noisy(photos[PLANTED]))
    write_image(src / "astronaut" / "noface.jpg", noisy(np.full((240, 320, 3), (90, 120, 150), np.uint8)))
    for i, degrees in enumerate((-3, 0, 3)):
        write_image(src / "other" / f"{i}.jpg", noisy(rotated(photos[OTHER], degrees)))
    return src


@pytest.fixture(scope="module")
def prepared(crafted: Path) -> tuple[Path, str]:
    dst = crafted.parent / "data"
    result = call_main("training.prepare", crafted, dst, "--min-sharpness", "4", "--detector", "dlib")
    assert result.returncode == 0, result.stderr
    return dst, result.stderr


def reasons(folder: Path) -> dict[str, str]:
    with (folder / "rejected" / "reasons.csv").open(newline="") as f:
        return {row["file"]: row["reason"] for row in csv.DictReader(f)}


def test_each_crafted_face_is_dropped_or_moved_with_its_reason(prepared: tuple[Path, str]) -> None:
    dst, stderr = prepared
    astronaut = dst / "astronaut"
    assert [p.name for p in image_files(astronaut)] == [f"good{i}.png" for i in range(5)]
    assert reasons(astronaut) == {"rolled.png": "tilted", "blurred.png": "blurred", "planted.png": "outlier"}
    assert sorted(p.name for p in image_files(astronaut / "rejected")) == ["blurred.png", "planted.png", "rolled.png"]
    with np.load(astronaut / "landmarks.npz") as kept, np.load(astronaut / "rejected" / "landmarks.npz") as moved:
        assert sorted(kept.files) == [f"good{i}.png" for i in range(5)]  # the moved crop's entry moved with it
        assert sorted(moved.files) == ["blurred.png", "planted.png", "rolled.png"]
    assert len(image_files(dst / "other")) == 3 and not (dst / "other" / "rejected").exists()
    # counted: in the summary lines and in faces.csv
    assert "9 written, 1 no face, 1 tilted, 1 blurred" in stderr  # the planted one passes the rules
    assert "threshold 0.06" in stderr and "1 crop(s) moved to rejected/ in 1 of 2 folder(s)" in stderr
    with (dst / "faces.csv").open(newline="") as f:
        status = {(r["identity"], r["source"]): r for r in csv.DictReader(f)}
    assert status[("astronaut", "noface.jpg")]["status"] == "no_face"
    assert status[("astronaut", "planted.jpg")]["status"] == "outlier"
    rolled = status[("astronaut", "rolled.jpg")]
    assert rolled["status"] == "tilted" and abs(float(rolled["roll"])) > 30
    assert float(status[("astronaut", "blurred.jpg")]["sharpness"]) < 4 < float(status[("astronaut", "good0.jpg")]
                                                                               ["sharpness"])  # fmt: skip
    outliers = json.loads((dst / "outliers.json").read_text())
    assert outliers["threshold"] == 0.06 and list(outliers["moved"]) == ["astronaut"]


def test_a_small_face_in_a_large_frame_is_dropped_among_aligned_crops(prepared: tuple[Path, str]) -> None:
    dst, _ = prepared
    aligned = dst.parent / "aligned_src" / "astronaut"
    aligned.mkdir(parents=True)
    crop = read_image(dst / "astronaut" / "good0.png")
    for i in range(2):
        write_image(aligned / f"{i}.png", crop)
    frame = cv2.resize(cv2.GaussianBlur(crop, (0, 0), 12), (224, 224))
    frame[67:157, 67:157] = cv2.resize(crop, (90, 90), interpolation=cv2.INTER_AREA)  # the face at 40 % of the side
    write_image(aligned / "small.png", frame)
    out = dst.parent / "aligned_data"
    result = call_main("training.prepare", aligned.parent, out, "--aligned", "--detector", "dlib", "--no-outliers")
    assert result.returncode == 0, result.stderr
    assert "2 written, 1 small" in result.stderr
    assert reasons(out / "astronaut") == {"small.png": "small"}
    off = call_main("training.prepare", aligned.parent, dst.parent / "no_rules", "--aligned", "--detector", "dlib",
                    "--no-outliers", "--min-coverage", "0", "--quiet")  # fmt: skip
    assert off.returncode == 0 and len(image_files(dst.parent / "no_rules" / "astronaut")) == 3  # switched off


def test_an_occluded_face_is_dropped_with_a_parsing_model(tmp_path: Path) -> None:
    """A grey bar over the mouth (dlib still finds the face) hides part of the inner face from the parser."""
    from tests.training.test_parsing import write_parser

    photo = person_photos()[ASTRONAUT]
    src = tmp_path / "src" / "astronaut"
    src.mkdir(parents=True)
    for i in range(2):
        write_image(src / f"{i}.jpg", photo)
    covered = photo.copy()
    cv2.rectangle(covered, (81, 131), (166, 161), (100, 100, 100), -1)  # nose to lower lip, by its landmarks
    write_image(src / "covered.jpg", covered)
    result = call_main("training.prepare", src.parent, tmp_path / "data", "--parsing-model",
                       write_parser(tmp_path / "parser.onnx"), "--min-visible", "0.85", "--no-outliers",
                       "--detector", "dlib")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 written, 1 occluded" in result.stderr
    assert reasons(tmp_path / "data" / "astronaut") == {"covered.png": "occluded"}
    with np.load(tmp_path / "data" / "astronaut" / "rejected" / "masks.npz") as masks:
        assert masks.files == ["covered.png"]  # its parsing mask went with it


def test_rules_and_outliers_on_their_own() -> None:
    """The order and switches of the rules; the plausibility checks; a folder of two people is reported, not
    emptied."""
    good = FaceQuality(roll=5.0, yaw=60.0, pitch=0.0, coverage=0.45, sharpness=30.0, landmark_problem="")
    rules = CleaningRules()
    assert verdict(good, rules, "arcface", 224) is None  # a strong yaw alone is no reason
    tilted_and_small = FaceQuality(roll=-35.0, yaw=0.0, pitch=0.0, coverage=0.2, sharpness=30.0, landmark_problem="")
    assert verdict(tilted_and_small, rules, "arcface", 224) == "tilted"
    assert verdict(tilted_and_small, CleaningRules(max_roll=0), "arcface", 224) == "small"
    assert verdict(tilted_and_small, CleaningRules(max_roll=0, min_coverage=0), "arcface", 224) is None
    ffhq_face = FaceQuality(roll=0.0, yaw=0.0, pitch=0.0, coverage=0.27, sharpness=30.0, landmark_problem="")
    assert verdict(ffhq_face, rules, "ffhq", 512) is None and verdict(ffhq_face, rules, "arcface", 224) == "small"
    hidden = FaceQuality(roll=0.0, yaw=0.0, pitch=0.0, coverage=0.5, sharpness=30.0, landmark_problem="",
                         visible=0.3, hair=0.1)  # fmt: skip
    assert verdict(hidden, rules, "arcface", 224) == "occluded"
    back = FaceQuality(roll=0.0, yaw=0.0, pitch=0.0, coverage=0.5, sharpness=30.0, landmark_problem="", visible=0.7,
                       hair=0.8)  # fmt: skip
    assert verdict(back, rules, "arcface", 224) == "back_of_head"
    face = np.array([[40 + 2 * i, 150 + (i % 9)] for i in range(17)] + [[60 + i * 3, 60] for i in range(10)]
                    + [[100, 70 + 8 * i] for i in range(9)] + [[70 + i, 80] for i in range(12)]
                    + [[90 + i, 130] for i in range(20)], np.float64)  # fmt: skip
    assert landmark_problem(face, 224) == ""
    assert landmark_problem(face[::-1], 224).startswith("features out of order")
    assert landmark_problem(face + np.array([0.0, 200.0]), 224) == "features outside the crop"
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    people = np.stack([v + rng.normal(scale=0.05, size=64) for v in (a, a, a, b, b, b)])
    people /= np.linalg.norm(people, axis=1, keepdims=True)
    split = judge_folder(people, threshold=0.3)
    assert split.two_people and split.groups in ((3, 3),) and not split.outliers


def test_the_report_renders_counts_histograms_and_contact_sheets(prepared: tuple[Path, str]) -> None:
    dst, _ = prepared
    result = call_main("training.report", dst, "--quiet")
    assert result.returncode == 0, result.stderr
    out = dst.parent / "data-report"
    text = (out / "report.md").read_text()
    assert "| identity | kept | no face | tilted | blurred | outlier |" in text
    assert "| [astronaut](sheets/astronaut.png) | 5 | 1 | 1 | 1 | 1 |" in text
    assert "| **total** | **8** | **1** | **1** | **1** | **1** |" in text
    assert "threshold 0.06" in text and "![sharpness, yaw and roll" in text
    histograms = read_image(out / "histograms.png")
    assert histograms.shape[1] > 1000 and histograms.std() > 10  # three drawn panels, not a blank image
    sheet = read_image(out / "sheets" / "astronaut.png")
    rejected = read_image(out / "sheets" / "rejected.png")
    assert sheet.shape[1] == 5 * 112 and rejected.shape[1] == 3 * 112  # a tile per crop
    assert not any(p.name == "data-report" for p in dst.iterdir())  # never inside the dataset


def test_outliers_cli_dry_run_and_mistakes(prepared: tuple[Path, str], tmp_path: Path) -> None:
    dst, _ = prepared
    dry = call_main("training.outliers", dst, "--dry-run")
    assert dry.returncode == 0 and "0 crop(s) moved" in dry.stderr and "(dry run" in dry.stderr  # already clean
    cases = [
        (("training.outliers", tmp_path), 1, "no prepared identity folders"),
        (("training.outliers", dst, "--threshold", "5"), 2, "--threshold must be"),
        (("training.report", tmp_path / "nowhere"), 1, "dataset root not found"),
        (("training.prepare", dst, tmp_path / "x", "--max-roll", "-1"), 2, "thresholds must be >= 0"),
    ]
    for args, code, message in cases:
        result = call_main(*args)
        assert result.returncode == code and message in result.error_lines()[-1], (args, result.stderr)
