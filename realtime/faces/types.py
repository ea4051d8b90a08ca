"""The face record every backend produces and every later stage (tracking, alignment, swapping) consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = [
    "HULL",
    "INNER_MOUTH",
    "MIRROR_68",
    "OUTLINE_LIFT",
    "Face",
    "FaceAnalyzer",
    "face_outline",
    "inter_ocular",
    "kps5_from_68",
    "raised_brows",
]

# Index groups of the 68-point iBUG layout every backend delivers.
HULL = list(range(0, 17)) + list(range(26, 16, -1))  # jaw line, then the eyebrows right to left: the face's outline
INNER_MOUTH = list(range(60, 68))  # the inner lip contour: the mouth opening
# MIRROR_68[i]: the point that plays point i's part in the mirror image (left and right swap; the midline stays).
MIRROR_68 = np.array(
    [
        *[16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0],  # jaw
        *[26, 25, 24, 23, 22, 21, 20, 19, 18, 17],  # brows
        *[27, 28, 29, 30, 35, 34, 33, 32, 31],  # nose bridge, nostrils
        *[45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40],  # eyes
        *[54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55],  # outer lips
        *[64, 63, 62, 61, 60, 67, 66, 65],  # inner lips
    ]
)


@dataclass
class Face:
    """One detected face in frame pixel coordinates.

    Attributes:
        bbox: float64 [4] = (x0, y0, x1, y1).
        score: detector confidence (backend-specific scale; higher is more certain).
        landmarks: float64 [K,2] dense landmarks (68 for dlib, 106 for insightface's 2d106), or [5,2].
        kps5: float64 [5,2] = image-left eye, image-right eye, nose tip, image-left and image-right mouth corner
            (insightface's order; the input to the alignment templates).
        embedding: float32 [D] identity descriptor (None until computed); see the backend's ``distance``.
        track_id: identity across frames, set by the tracker (-1 before tracking).
    """

    bbox: np.ndarray
    score: float
    landmarks: np.ndarray
    kps5: np.ndarray
    embedding: np.ndarray | None = None
    track_id: int = -1
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def size(self) -> float:
        """Geometric mean of the box sides in pixels."""
        return float(np.sqrt(max(self.bbox[2] - self.bbox[0], 0.0) * max(self.bbox[3] - self.bbox[1], 0.0)))


def kps5_from_68(landmarks: np.ndarray) -> np.ndarray:
    """Five alignment points [5,2] from the 68-point iBUG layout: eye centres (36-41, 42-47), nose tip (30) and the
    mouth corners (48, 54)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"kps5_from_68 needs [68,2] landmarks, got {pts.shape}")
    return np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]])


OUTLINE_LIFT = 0.25  # how far above the brows a swap's outline runs, as a share of the brows' height over the nose


def raised_brows(landmarks: np.ndarray, lift: float) -> np.ndarray:
    """The ten brow points (17-26) moved up the face by ``lift`` times the brows' height over the nose tip: a line
    on the forehead, [10,2] float64."""
    points = np.asarray(landmarks, np.float64)
    brows = points[17:27]
    return brows + lift * (brows.mean(axis=0) - points[30])


def face_outline(landmarks: np.ndarray, lift: float = OUTLINE_LIFT) -> np.ndarray:
    """The polygon a swap covers, [27,2] float64: the jaw line (0-16), then the brows raised onto the forehead, right
    to left. Raising them keeps the brows whole inside the swapped region, so a feathered or blended edge crosses
    forehead skin instead of halving the brows' detail."""
    return np.concatenate([np.asarray(landmarks, np.float64)[:17], raised_brows(landmarks, lift)[::-1]])


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners (points 36 and 45 of the 68) in pixels: a face's size, and the usual
    normaliser of landmark errors."""
    return float(np.linalg.norm(landmarks[45] - landmarks[36]))


class FaceAnalyzer(Protocol):
    """What every face-analysis backend provides (``realtime.faces.backends.create_analyzer`` builds one).

    ``name`` identifies the backend; embeddings live in the backend's own metric space, compared only with its
    ``distance``, and two faces are the same person when that distance is below ``same_person_distance``."""

    name: str
    embedding_dim: int
    same_person_distance: float

    def describe(self) -> str:
        """One line saying which models run."""
        ...

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H,W,3], largest first, with 68 landmarks and kps5."""
        ...

    def landmarks(self, frame: np.ndarray, bbox: np.ndarray, score: float = 0.0) -> Face:
        """Re-fit the 68 landmarks inside ``bbox`` (x0, y0, x1, y1) of an RGB uint8 frame."""
        ...

    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """The identity descriptor of ``face`` (float32 [embedding_dim]), also stored on the face."""
        ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two descriptors (smaller is more alike)."""
        ...
