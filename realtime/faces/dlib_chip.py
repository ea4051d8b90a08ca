"""dlib's face chip: the 150 px, 25 %-padded crop its face-recognition ResNet was trained on.

``dlib.get_face_chip_details`` fits dlib's mean face (68-point layout, brows and lower lip left out) to a face's
landmarks with a least-squares similarity, then re-expresses it as a rotated rectangle; ``extract_image_chip``
samples that rectangle corner to corner. :func:`dlib_chip_matrix` reproduces the resulting frame -> chip matrix
exactly (the rectangle is one pixel narrower than size x scale, so the chip's pixel pitch differs from the fitted
scale by ~0.7 %), so a chip warped with it is dlib's own up to interpolation rounding. :func:`dlib_chip_points`
gives the five alignment points of that mean face, for crops known only by their five-point template.
"""

from __future__ import annotations

import numpy as np

from realtime.faces.align import estimate_similarity, invert_affine
from realtime.faces.types import kps5_from_68

__all__ = ["DLIB_CHIP_PADDING", "DLIB_CHIP_SIZE", "dlib_chip_matrix", "dlib_chip_points"]

DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25

# dlib/image_transforms/interpolation.h, get_face_chip_details: mean positions of points 17-67 in a unit square.
_MEAN_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127,
    0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825,
    0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985,
    0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379,
    0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
]  # fmt: skip
_MEAN_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
    0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758,
    0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233,
    0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805,
    0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
]  # fmt: skip
# The points dlib fits: 27-54 and 60-64 (the brows 17-26 and the lower lip 55-59, 65-67 are left out).
_FITTED = [i for i in range(17, 68) if not (17 <= i <= 26 or 55 <= i <= 59 or 65 <= i <= 67)]


def _mean_face(size: int, padding: float) -> np.ndarray:
    """The mean face's points 17-67 in a ``size`` chip with ``padding``: [68,2] float64, NaN for the jaw 0-16."""
    points = np.full((68, 2), np.nan)
    points[17:, 0], points[17:, 1] = _MEAN_X, _MEAN_Y
    return (padding + points) / (2 * padding + 1) * size


def dlib_chip_matrix(
    landmarks: np.ndarray, size: int = DLIB_CHIP_SIZE, padding: float = DLIB_CHIP_PADDING
) -> np.ndarray:
    """The frame -> chip matrix of dlib's ``get_face_chip_details(shape, size, padding)`` + ``extract_image_chip``.

    Args:
        landmarks: [68,2] float, the face's iBUG 68 points in frame pixels.
        size: chip side in pixels (150 for the face-recognition ResNet); padding: share of the face added per side.
    Returns:
        [2,3] float64 M with chip_pixel = M @ [x, y, 1] (pixel centres at integer coordinates, as dlib samples).
    """
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"dlib_chip_matrix needs [68,2] landmarks, got {landmarks.shape}")
    fit = estimate_similarity(_mean_face(size, padding)[_FITTED], landmarks[_FITTED])  # chip -> frame
    scale = float(np.hypot(fit[0, 0], fit[1, 0]))
    angle = float(np.arctan2(fit[1, 0], fit[0, 0]))
    centre = fit[:, :2] @ np.array([size / 2.0, size / 2.0]) + fit[:, 2]
    # dlib's centered_drect spans size*scale - 1 between its first and last pixel centres, over size - 1 steps.
    pitch = (size * scale - 1.0) / (size - 1.0)
    c, s = np.cos(angle) * pitch, np.sin(angle) * pitch
    chip_to_frame = np.array([[c, -s, 0.0], [s, c, 0.0]])
    chip_to_frame[:, 2] = centre - chip_to_frame[:, :2] @ np.array([(size - 1) / 2.0, (size - 1) / 2.0])
    return invert_affine(chip_to_frame)


def dlib_chip_points(size: int = DLIB_CHIP_SIZE, padding: float = DLIB_CHIP_PADDING) -> np.ndarray:
    """The five alignment points (eye centres, nose tip, mouth corners, as :func:`kps5_from_68` takes them) of
    dlib's mean face in a ``size`` chip: [5,2] float64. A crop aligned to another five-point template maps onto
    the chip through the similarity between the two point sets."""
    face = _mean_face(size, padding)
    face[:17] = 0.0  # kps5_from_68 reads no jaw point; fill them so its shape check passes
    return kps5_from_68(face)
