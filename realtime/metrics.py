"""Swap-quality measurements: the instrument bench/quality.py judges swappers with (and tests check on constructed
cases whose answer is known).

Every function takes plain arrays: RGB uint8 images [H,W,3], 68-point iBUG landmarks [68,2] in pixel coordinates,
boolean masks [H,W]. Face regions come from the target's landmarks, so every swapper is measured on the same
pixels whatever mask it pasted with.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from realtime.faces.types import HULL, INNER_MOUTH, inter_ocular

__all__ = [
    "face_masks",
    "landmark_error",
    "landmark_errors",
    "region_change",
    "seam_visibility",
    "sharpness",
    "skin_delta_e",
]

_BROWS = list(range(17, 27))
_EYES = (list(range(36, 42)), list(range(42, 48)))
_MOUTH = list(range(48, 60))
_INNER = list(range(17, 68))  # brows, nose, eyes, mouth: where a face's detail is


def landmark_errors(found: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-point distances [68] between two [68,2] landmark sets, each as a share of ``reference``'s inter-ocular
    distance (the normalised mean error of face alignment, point by point)."""
    return np.linalg.norm(found - reference, axis=1) / max(inter_ocular(reference), 1e-6)


def landmark_error(found: np.ndarray, reference: np.ndarray) -> float:
    """Mean of :func:`landmark_errors`: 0.05 = 5% of the reference's inter-ocular distance."""
    return float(landmark_errors(found, reference).mean())


def _polygon(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(cv2.convexHull(points.astype(np.float32))).astype(np.int32), 1)
    return mask.astype(bool)


def face_masks(landmarks: np.ndarray, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Boolean masks of an image of ``shape`` from its face's [68,2] landmarks:

    - ``face``: the landmark hull (jaw and brows), the region a swap replaces;
    - ``inner``: the hull of brows, eyes, nose and mouth minus the mouth's opening (swappers keep the target's
      teeth there), where detail (sharpness) is measured;
    - ``skin``: the face minus brows, eyes and mouth (each grown by 1/10 of the inter-ocular distance), where skin
      colour is compared.
    """
    face = _polygon(shape, landmarks[HULL])
    inner = _polygon(shape, landmarks[_INNER]) & ~_polygon(shape, landmarks[INNER_MOUTH])
    grow = max(1, round(inter_ocular(landmarks) / 10))
    features = np.zeros(shape[:2], bool)
    for group in (_BROWS, *_EYES, _MOUTH):
        features |= _polygon(shape, landmarks[group])
    features = cv2.dilate(features.astype(np.uint8), np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)
    return {"face": face, "inner": inner, "skin": face & ~features}


def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image inside ``mask`` (shrunk by 2 px, so the mask's own edge does not
    count): the blur measure of the movie-data pipeline, here over one region."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    inside = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float(cv2.Laplacian(grey, cv2.CV_64F)[inside].var()) if inside.any() else 0.0


def skin_delta_e(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """CIEDE2000 colour difference between the mean Lab colours of ``a`` and ``b`` inside ``mask`` (about 1 is the
    smallest difference a person notices side by side, 2-3 is visible on close inspection)."""
    from skimage.color import deltaE_ciede2000

    def mean_lab(image: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[mask].mean(0)

    return float(deltaE_ciede2000(mean_lab(a), mean_lab(b)))


def seam_visibility(result: np.ndarray, target: np.ndarray, mask: np.ndarray, width: int = 3) -> float:
    """How much a paste's edge shows: the mean gradient magnitude of ``result`` in a band ``width`` px either side
    of ``mask``'s boundary, over the same in ``target``. 1.0 when the band looks like the original (the jaw line
    and hairline are edges there too); a hard or miscoloured seam raises it."""
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    m = mask.astype(np.uint8)
    band = (cv2.dilate(m, kernel) - cv2.erode(m, kernel)).astype(bool)

    def gradient(image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))

    return float(gradient(result)[band].mean() / max(gradient(target)[band].mean(), 1e-6))


def region_change(frames: list[np.ndarray], box: tuple[int, int, int, int]) -> float:
    """Mean absolute change between consecutive frames inside ``box`` = (x0, y0, x1, y1), grey levels: on a still
    stretch, the input's sensor noise sets the floor a stable swap should stay near."""
    x0, y0, x1, y1 = box
    crops = [f[y0:y1, x0:x1].astype(np.float32) for f in frames]
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(crops)]))
