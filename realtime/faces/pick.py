"""Which detected face to use: the pickers that source loading, training data preparation and evaluation share."""

from __future__ import annotations

import numpy as np

from realtime.faces.types import Face, FaceAnalyzer

__all__ = ["faces_68", "frontality", "largest_face"]


def faces_68(analyzer: FaceAnalyzer, image: np.ndarray) -> list[Face]:
    """The faces of an RGB uint8 image [H,W,3] that have 68 landmarks (what alignment, masks and the metrics use)."""
    return [f for f in analyzer.detect(image) if len(f.landmarks) == 68]


def largest_face(analyzer: FaceAnalyzer, image: np.ndarray) -> Face | None:
    """The largest of :func:`faces_68` (by :attr:`Face.size`), or None when the image shows none."""
    return max(faces_68(analyzer, image), key=lambda f: f.size, default=None)


def frontality(face: Face) -> float:
    """Larger for bigger, more frontal faces: the face's size in pixels times its eye-nose symmetry (the shorter of
    the two eye-to-nose distances over the longer, in (0, 1])."""
    left, right, nose = face.kps5[0], face.kps5[1], face.kps5[2]
    a, b = np.linalg.norm(nose - left), np.linalg.norm(nose - right)
    return float(face.size * min(a, b) / max(a, b, 1e-6))
