"""The shading transfer's low-pass runs at reduced resolution; it must match a full-size normalised blur."""

from __future__ import annotations

import cv2
import numpy as np

from realtime.swappers.color import _low


def test_the_reduced_resolution_low_pass_matches_a_full_size_one() -> None:
    rng = np.random.default_rng(0)
    h, w, sigma = 300, 260, 40.0  # a 1080p face: eye distance ~160 px, sigma = a quarter of it
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([50 + 0.1 * xx + 0.05 * yy, 10 * np.sin(yy / 60), -5 + 0.02 * xx], -1).astype(np.float32)
    image += rng.normal(0, 3, image.shape).astype(np.float32)  # fine detail the low-pass must remove either way
    weight = np.zeros((h, w), np.float32)
    cv2.ellipse(weight, (w // 2, h // 2), (100, 130), 0, 0, 360, 1.0, -1)
    num = cv2.GaussianBlur(image * weight[..., None], (0, 0), sigma)
    reference = num / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-3)[..., None]
    (fast,) = _low([image], weight, sigma)
    inside = weight > 0
    assert fast.shape == image.shape and fast.dtype == np.float32
    assert np.abs(fast - reference)[inside].max() < 0.25  # a quarter of a Lab unit: invisible
    assert np.abs(fast - reference)[inside].mean() < 0.05
