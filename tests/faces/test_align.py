"""realtime.faces.align: similarity estimation, templates, warps and their inverse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime.faces.align import (
    ARCFACE_112,
    estimate_similarity,
    invert_affine,
    template,
    transform_points,
    warp_face,
    warp_to_frame,
)


def _similarity(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


@pytest.mark.parametrize("seed", range(5))
def test_recovers_a_known_similarity_exactly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m_true = _similarity(rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 5), *rng.uniform(-300, 300, 2))
    src = rng.uniform(0, 500, (5, 2))
    m = estimate_similarity(src, transform_points(src, m_true))
    assert np.abs(m - m_true).max() < 1e-9


def test_least_squares_with_noise_and_no_reflection() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (68, 2))
    mirrored = src * np.array([-1.0, 1.0])  # a reflection cannot be produced by a similarity
    m = estimate_similarity(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    noisy = transform_points(src, _similarity(0.3, 1.7, 10, -5)) + rng.normal(0, 0.5, src.shape)
    m = estimate_similarity(src, noisy)
    assert np.abs(m - _similarity(0.3, 1.7, 10, -5)).max() < 0.2


@pytest.mark.parametrize("seed", range(4))
def test_the_closed_form_is_umeyamas_svd_solution(seed: int) -> None:
    """The 2-D closed form equals Umeyama's SVD solution (the reference below) on noisy and mirrored points."""
    rng = np.random.default_rng(seed)
    src = rng.uniform(0, 200, (int(rng.integers(2, 70)), 2))
    for dst in (rng.uniform(0, 300, src.shape), transform_points(src, _similarity(1.0, 0.5, 3, 4)) * [-1, 1]):
        s0, d0 = src - src.mean(0), dst - dst.mean(0)
        u, sig, vt = np.linalg.svd(d0.T @ s0 / len(src))
        d = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
        rot = u @ np.diag(d) @ vt
        scale = (sig * d).sum() / ((s0**2).sum() / len(src))
        reference = np.hstack([scale * rot, (dst.mean(0) - scale * rot @ src.mean(0))[:, None]])
        assert np.abs(estimate_similarity(src, dst) - reference).max() < 1e-9


def test_templates_follow_insightface_and_ffhq_conventions() -> None:
    assert np.allclose(template("arcface", 112), ARCFACE_112)
    assert np.allclose(template("arcface", 224), ARCFACE_112 * 2)
    assert np.allclose(template("arcface", 128), ARCFACE_112 + np.array([8.0, 0.0]))  # insightface estimate_norm
    assert np.allclose(template("ffhq", 256) * 2, template("ffhq", 512))
    with pytest.raises(ValueError, match="unknown alignment template"):
        template("mtcnn", 112)


def test_warp_maps_landmarks_onto_the_template_and_back() -> None:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(noise, (0, 0), 6)  # smooth content survives two resamplings
    kps = transform_points(template("arcface", 112), _similarity(0.2, 2.5, 250, 120))
    crop, m = warp_face(frame, kps, "arcface", 224)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    assert np.abs(transform_points(kps, m) - template("arcface", 224)).max() < 1e-6
    assert np.abs(transform_points(transform_points(kps, m), invert_affine(m)) - kps).max() < 1e-6
    back = warp_to_frame(crop, m, frame.shape[:2])
    # inside the face the round trip reproduces the frame up to two bilinear resamplings
    centre = kps.mean(0).astype(int)
    patch = np.s_[centre[1] - 20 : centre[1] + 20, centre[0] - 20 : centre[0] + 20]
    assert np.abs(back[patch].astype(int) - frame[patch].astype(int)).mean() < 2
    assert back[0, 0].sum() == 0  # outside the crop: zero


def test_degenerate_points_are_rejected() -> None:
    with pytest.raises(ValueError, match="all at one place"):
        estimate_similarity(np.ones((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\[K,2\]"):
        estimate_similarity(np.ones((5, 3)), np.zeros((5, 3)))


def test_simswap_crop_picks_the_best_fitting_pose_template() -> None:
    """Points lying on one of SimSwap's pose templates (moved by a similarity) map back onto exactly that one."""
    from realtime.faces.align import SIMSWAP_POSES_112, alignment_matrix, transform_points

    angle, scale, shift = 0.3, 2.7, np.array([140.0, 65.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    for i, pose in enumerate(SIMSWAP_POSES_112):
        kps = (pose * 2) @ rot.T + shift  # a face whose points match pose i at 224
        m = alignment_matrix(kps, "simswap", 224)
        assert np.allclose(transform_points(kps, m), pose * 2, atol=1e-6), i
