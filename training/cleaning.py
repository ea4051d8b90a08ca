"""The movie-data guide's cleaning rules for training crops: each one measured, switchable and named.

A face found by ``training.prepare`` is kept only when it passes every rule that is on; the first rule it fails
names the reason it was dropped (in this order):

- ``bad_landmarks``: the landmark fit is unusable: alignment failed (degenerate points), an inner feature (brows,
  eyes, nose, mouth) lies outside the crop, or the features are out of anatomical order (brows above eyes above
  nose tip above mouth above chin; each eye and mouth corner on its side). These checks hold for profiles too, so
  full profiles that pass are kept.
- ``tilted``: the eye line tilts more than ``max_roll`` degrees in the original frame.
- ``small``: the face's box (the 68 landmarks with the forehead added, as the training mask draws it) covers less
  than ``min_coverage`` of the aligned crop. The 40 % default is the guide's figure for ArcFace-framed crops (where
  faces cover 50-70 %); other framings scale it by their face share (FFHQ's crop shows the face at
  (0.246 / 0.315)^2 of ArcFace's area, so 24 %).
- ``blurred``: the variance of the Laplacian of the crop at 256 px is below ``min_sharpness``.
- ``occluded`` (with a face-parsing network): less than ``min_visible`` of the inner face (the hull of points
  17-67) is skin, brows, eyes, nose or lips: a hand, a microphone or a mask hides what identity is judged by.
- ``back_of_head`` (with a face-parsing network): hair covers more than ``max_hair`` of the inner face's hull.

Without a parser there is no occlusion measure: dlib's and insightface's landmark fits report no confidence, so an
occluded face is dropped only when its landmarks break the order checks. A back of the head is normally not
detected at all and is counted as ``no_face``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from realtime.faces.align import template
from realtime.faces.pose import head_pose
from realtime.faces.types import raised_brows
from training.data import FOREHEAD

__all__ = ["REASONS", "CleaningRules", "FaceQuality", "coverage_threshold", "measure", "sharpness", "verdict",
           "verdict_value"]  # fmt: skip

# Every reason a face or file is not in the training set, in the order the report lists them.
REASONS = ("unreadable", "no_face", "bad_landmarks", "tilted", "small", "blurred", "occluded", "back_of_head",
           "outlier")  # fmt: skip
INNER = list(range(17, 68))  # brows, nose, eyes, mouth: the points identity is judged by


@dataclass(frozen=True)
class CleaningRules:
    """Thresholds of the rules; a threshold of 0 (``check_landmarks`` False) switches its rule off."""

    max_roll: float = 30.0  # degrees of eye-line tilt in the original frame
    min_coverage: float = 0.40  # landmark box / crop area, at the ArcFace framing (scaled for others)
    min_sharpness: float = 0.0  # variance of the Laplacian at 256 px (the guide uses 20-30)
    check_landmarks: bool = True
    min_visible: float = 0.7  # share of the inner face a parser sees as face (clean faces: 0.9-1; --parsing-model)
    max_hair: float = 0.5  # share of the inner face a parser sees as hair (with --parsing-model)


@dataclass
class FaceQuality:
    """What the rules look at, for one face: angles in degrees, shares in [0, 1], sharpness >= 0; ``visible`` and
    ``hair`` are None without a parser; ``landmark_problem`` is empty when the fit is usable."""

    roll: float
    yaw: float
    pitch: float
    coverage: float
    sharpness: float
    landmark_problem: str
    visible: float | None = None
    hair: float | None = None

    def row(self) -> dict[str, str]:
        """The measurements as text for faces.csv (empty where not measured)."""
        return {k: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in
                asdict(self).items()}  # fmt: skip


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop resized to 256x256 (so thresholds do not depend on the crop size);
    crop [H,W,3] RGB uint8."""
    grey = cv2.cvtColor(cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _eye_share(name: str, size: int) -> float:
    points = template(name, size)
    return float(np.linalg.norm(points[1] - points[0])) / size


def coverage_threshold(rules: CleaningRules, crop: str, size: int) -> float:
    """``min_coverage`` for crops of template ``crop`` at ``size``: the ArcFace figure scaled by the square of the
    template's eye distance relative to ArcFace's (the face's area in the crop scales with it)."""
    return rules.min_coverage * (_eye_share(crop, size) / _eye_share("arcface", 224)) ** 2


def landmark_problem(landmarks: np.ndarray, size: int) -> str:
    """Why [68,2] crop landmarks of a ``size`` crop are unusable, or "" when they are plausible."""
    pts = np.asarray(landmarks, np.float64)
    if pts.shape != (68, 2) or not np.isfinite(pts).all():
        return "incomplete landmarks"
    margin = 0.02 * size
    inner = pts[INNER]
    if (inner < -margin).any() or (inner > size - 1 + margin).any():
        return "features outside the crop"
    brows, eyes, nose = pts[17:27, 1].mean(), pts[36:48, 1].mean(), pts[30, 1]
    mouth, chin = pts[48:68, 1].mean(), pts[8, 1]
    if not brows < eyes < nose < mouth < chin:
        return "features out of order (brows, eyes, nose, mouth, chin)"
    if pts[36:42, 0].mean() > pts[42:48, 0].mean() or pts[48, 0] > pts[54, 0]:
        return "features out of order (left and right)"
    return ""


def _parsed_shares(labels: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
    """(visible face share, hair share) of the inner face's hull in a parser's class map [H,W] uint8."""
    from training.parsing import HAIR_CLASSES, VISIBLE_FACE_CLASSES

    hull = np.zeros(labels.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(landmarks[INNER]).astype(np.int32)), 1)
    inside = labels[hull > 0]
    if inside.size == 0:
        return 0.0, 0.0
    return float(np.isin(inside, VISIBLE_FACE_CLASSES).mean()), float(np.isin(inside, HAIR_CLASSES).mean())


def measure(
    frame_landmarks: np.ndarray,
    frame_shape: tuple[int, int],
    crop: np.ndarray,
    crop_landmarks: np.ndarray,
    labels: np.ndarray | None = None,
) -> FaceQuality:
    """The rules' measurements of one face: its [68,2] landmarks in the original frame of (height, width), the
    aligned crop [S,S,3] RGB uint8 with the landmarks in crop pixels, and a parser's class map of the crop."""
    size = crop.shape[0]
    problem = landmark_problem(crop_landmarks, size)
    try:
        pose = head_pose(np.asarray(frame_landmarks, np.float64), frame_shape)
        yaw, pitch, roll = pose.yaw, pose.pitch, pose.roll
    except (ValueError, cv2.error):
        yaw = pitch = roll = float("nan")
        problem = problem or "head pose unsolvable"
    face = np.concatenate([crop_landmarks, raised_brows(crop_landmarks, FOREHEAD)])  # with the forehead
    x0, y0 = np.clip(face.min(0), 0, size)
    x1, y1 = np.clip(face.max(0), 0, size)
    quality = FaceQuality(roll=roll, yaw=yaw, pitch=pitch, coverage=float((x1 - x0) * (y1 - y0)) / size**2,
                          sharpness=sharpness(crop), landmark_problem=problem)  # fmt: skip
    if labels is not None:
        quality.visible, quality.hair = _parsed_shares(labels, crop_landmarks)
    return quality


def verdict(quality: FaceQuality, rules: CleaningRules, crop: str, size: int) -> str | None:
    """The first rule (of :data:`REASONS`) ``quality`` fails, or None when the face is kept."""
    q = quality
    failed = [
        ("bad_landmarks", rules.check_landmarks and bool(q.landmark_problem)),
        ("tilted", rules.max_roll > 0 and abs(q.roll) > rules.max_roll),
        ("small", rules.min_coverage > 0 and q.coverage < coverage_threshold(rules, crop, size)),
        ("blurred", rules.min_sharpness > 0 and q.sharpness < rules.min_sharpness),
        ("occluded", q.visible is not None and rules.min_visible > 0 and q.visible < rules.min_visible),
        ("back_of_head", q.hair is not None and rules.max_hair > 0 and q.hair > rules.max_hair),
    ]
    return next((reason for reason, fails in failed if fails), None)


def verdict_value(quality: FaceQuality, reason: str) -> tuple[float, str]:
    """The measurement behind ``reason`` and a note for reasons.csv: (value, text)."""
    values = {"tilted": (quality.roll, "eye-line roll, degrees"), "small": (quality.coverage, "landmark box share"),
              "blurred": (quality.sharpness, "variance of the Laplacian"),
              "occluded": (quality.visible, "visible share of the inner face"),
              "back_of_head": (quality.hair, "hair share of the inner face")}  # fmt: skip
    value, note = values.get(reason, (None, quality.landmark_problem))
    return float("nan") if value is None else float(value), note
