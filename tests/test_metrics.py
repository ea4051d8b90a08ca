"""realtime.metrics, each on a constructed case whose answer is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.types import inter_ocular
from realtime.metrics import face_masks, landmark_error, region_change, seam_visibility, sharpness, skin_delta_e
from realtime.samples import face_image


def grey_with_lightness(lightness: float, size: int = 32) -> np.ndarray:
    """A uniform RGB uint8 grey whose CIELAB L* is ``lightness`` (to the nearest 8-bit value)."""
    lab = np.full((1, 1, 3), [lightness, 0.0, 0.0], np.float32)
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)[0, 0] * 255.0
    return np.full((size, size, 3), np.round(rgb), np.uint8)


def test_landmark_error_is_the_mean_shift_over_the_eye_distance() -> None:
    points = np.random.default_rng(0).uniform(0, 200, (68, 2))
    points[36], points[45] = [50.0, 80.0], [150.0, 80.0]  # eye corners 100 px apart
    assert inter_ocular(points) == pytest.approx(100.0)
    assert landmark_error(points + np.array([3.0, 4.0]), points) == pytest.approx(0.05)  # 5 px / 100 px
    assert landmark_error(points, points) == 0.0


def test_sharpness_is_zero_on_flat_and_scales_with_contrast_squared() -> None:
    mask = np.ones((64, 64), bool)
    assert sharpness(np.full((64, 64, 3), 120, np.uint8), mask) == 0.0
    pattern = (np.random.default_rng(1).integers(0, 2, (64, 64)) * 40 + 100).astype(np.uint8)
    weak = np.dstack([pattern] * 3)
    strong = np.dstack([(pattern.astype(int) - 100) * 2 + 100] * 3).astype(np.uint8)  # twice the contrast
    assert sharpness(strong, mask) == pytest.approx(4 * sharpness(weak, mask), rel=0.02)
    blurred = cv2.GaussianBlur(weak, (0, 0), 2.0)
    assert sharpness(blurred, mask) < 0.2 * sharpness(weak, mask)


def test_skin_delta_e_of_a_pure_lightness_step_at_mid_grey_is_the_step() -> None:
    mask = np.ones((32, 32), bool)
    a, b = grey_with_lightness(45.0), grey_with_lightness(55.0)
    la, lb = (float(cv2.cvtColor(g[:1, :1].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[0, 0, 0]) for g in (a, b))
    assert abs(la - 45) < 0.5 and abs(lb - 55) < 0.5  # the nearest 8-bit greys
    # CIEDE2000 between neutral greys: dE = dL / S_L, with S_L = 1 + 0.015 (L - 50)^2 / sqrt(20 + (L - 50)^2)
    mean = (la + lb) / 2
    expected = abs(lb - la) / (1 + 0.015 * (mean - 50) ** 2 / np.sqrt(20 + (mean - 50) ** 2))
    assert skin_delta_e(a, b, mask) == pytest.approx(expected, abs=0.05)
    assert skin_delta_e(a, a, mask) == pytest.approx(0.0, abs=1e-6)


def test_seam_visibility_is_one_without_a_seam_and_grows_with_one() -> None:
    target = cv2.GaussianBlur(np.random.default_rng(2).integers(60, 200, (120, 120, 3), dtype=np.uint8), (0, 0), 3)
    mask = np.zeros((120, 120), bool)
    mask[30:90, 30:90] = True
    assert seam_visibility(target, target, mask) == pytest.approx(1.0)
    pasted = target.copy()
    pasted[mask] = np.clip(pasted[mask].astype(int) + 40, 0, 255).astype(np.uint8)  # a hard, brighter paste
    assert seam_visibility(pasted, target, mask) > 3.0


def test_region_change_is_the_mean_step_between_frames() -> None:
    frames = [np.full((20, 20, 3), v, np.uint8) for v in (10, 20, 10, 20)]
    assert region_change(frames, (0, 0, 20, 20)) == pytest.approx(10.0)
    assert region_change([frames[0]] * 3, (5, 5, 15, 15)) == 0.0


def test_face_masks_on_a_real_face(dlib_analyzer: DlibAnalyzer) -> None:
    image = face_image("astronaut")
    face = dlib_analyzer.detect(image)[0]
    masks = face_masks(face.landmarks, image.shape)
    lm = face.landmarks.astype(int)
    eye = lm[36:42].mean(0).astype(int)
    cheek = ((lm[2] + lm[31]) / 2).astype(int)  # between the jaw and the nostril
    mouth_gap = ((lm[62] + lm[66]) / 2).astype(int)
    assert masks["face"][eye[1], eye[0]] and not masks["skin"][eye[1], eye[0]]
    assert masks["skin"][cheek[1], cheek[0]] and masks["face"][cheek[1], cheek[0]]
    assert masks["inner"][eye[1], eye[0]] and not masks["inner"][mouth_gap[1], mouth_gap[0]]  # her mouth is open
    assert masks["skin"].sum() < masks["face"].sum() and not (masks["skin"] & ~masks["face"]).any()
