"""Head pose and mouth state from the 68 landmarks: what a source face is chosen by (the one that looks most like the
target face: turned the same way, mouth as open).

Pose is solved with OpenCV's PnP against a generic 3D face (six points: nose tip, chin, outer eye corners, mouth
corners; the model popularised by Satya Mallick's head-pose tutorial) with a camera whose focal length is the image
width. Absolute angles are approximate (a generic face, an assumed camera); what the choice needs is that faces
turned alike get alike angles, and the solve gives that.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.faces.types import INNER_MOUTH

__all__ = ["MOUTH_OPEN", "HeadPose", "head_pose", "mouth_keep", "mouth_openness", "pose_distance"]

# Generic 3D positions (arbitrary units, y up, z toward the camera) of landmarks 30, 8, 36, 45, 48, 54.
_MODEL = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, -330.0, -65.0),
        (-225.0, 170.0, -135.0),
        (225.0, 170.0, -135.0),
        (-150.0, -150.0, -125.0),
        (150.0, -150.0, -125.0),
    ],
    dtype=np.float64,
)
_POINTS = [30, 8, 36, 45, 48, 54]


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees: ``yaw`` (turning; 0 frontal, opposite signs for the two sides: a mirror image
    negates it), ``pitch`` (nodding), ``roll`` (in-plane tilt of the eye line; positive clockwise on screen)."""

    yaw: float
    pitch: float
    roll: float


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> HeadPose:
    """The head pose of a face with [68,2] ``landmarks`` in an image of (height, width)."""
    h, w = image_size
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], dtype=np.float64)
    image_points = np.ascontiguousarray(landmarks[_POINTS], dtype=np.float64)
    # Start from a frontal face at the distance its eye span implies: six points leave the solve a second,
    # mirrored minimum, and from a blind start it jumped to it (a pixel's shift changed the pitch by 30 degrees).
    distance = w * 450.0 / max(float(np.linalg.norm(landmarks[45] - landmarks[36])), 1.0)  # the model's eyes: 450
    rvec = np.array([[np.pi], [0.0], [0.0]])  # the model's y up and z out of the face, seen by a y-down camera
    nose = image_points[0]
    tvec = np.array([[(nose[0] - w / 2) * distance / w], [(nose[1] - h / 2) * distance / w], [distance]])
    ok, rvec, _ = cv2.solvePnP(_MODEL, image_points, camera, np.zeros(4), rvec, tvec, useExtrinsicGuess=True,
                               flags=cv2.SOLVEPNP_ITERATIVE)  # fmt: skip
    if not ok:
        raise ValueError("head pose could not be solved from these landmarks")
    rotation, _ = cv2.Rodrigues(rvec)
    # A frontal face maps the model's y (up) and z (out of the face) to the camera's -y (image down) and -z:
    # flipping those two camera axes makes a frontal face the identity rotation.
    r = np.diag([1.0, -1.0, -1.0]) @ rotation
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    eyes = landmarks[45] - landmarks[36]
    roll = np.degrees(np.arctan2(eyes[1], eyes[0]))  # the eye line is steadier than the solve for in-plane tilt
    return HeadPose(float(yaw), float(pitch), float(roll))


def mouth_openness(landmarks: np.ndarray) -> float:
    """Gap between the inner lips over the mouth's width (0 closed, ~0.5 wide open)."""
    gap = np.linalg.norm(landmarks[66] - landmarks[62])
    width = np.linalg.norm(landmarks[64] - landmarks[60]) + 1e-6
    return float(gap / width)


MOUTH_OPEN = 0.15  # mouth_openness above which the inner mouth shows (teeth, tongue)


def mouth_keep(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 [h,w] mask for a region of ``shape`` in whose coordinates the [68,2] ``landmarks`` are: 0 inside
    the inner mouth when it is open (over :data:`MOUTH_OPEN`), 1 elsewhere."""
    keep = np.ones(shape, np.float32)
    if mouth_openness(landmarks) > MOUTH_OPEN:
        cv2.fillPoly(keep, [np.round(landmarks[INNER_MOUTH]).astype(np.int32)], 0.0)
    return keep


def pose_distance(a: HeadPose, mouth_a: float, b: HeadPose, mouth_b: float) -> float:
    """How different two faces look for a warp, in degrees of head turn: yaw and pitch count fully (a warp cannot
    turn a head), roll a quarter (the warp rotates in the image plane without distortion), and mouth openness 60
    degrees per unit (an open and a closed mouth, 0.3 apart, cost as much as an 18-degree turn)."""
    return abs(a.yaw - b.yaw) + abs(a.pitch - b.pitch) + 0.25 * abs(a.roll - b.roll) + 60.0 * abs(mouth_a - mouth_b)
