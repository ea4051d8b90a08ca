"""The classic swapper (embedded default, no weights): the source face warped onto each target's landmarks.

The source's 68 landmarks are triangulated once (Delaunay); for a target, every pixel of the target's landmark
hull is mapped back into the source by the affine map of the triangle it falls in — one rasterised triangle-index
image and one ``cv2.remap`` instead of a warp per triangle. The warped face is colour-matched to the target in Lab
(Reinhard transfer) and masked by the landmark hull minus the target's inner mouth when it is open, so the
target's teeth and tongue stay.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.faces.types import HULL, INNER_MOUTH, Face
from realtime.swappers.base import SwapResult, hull_box

__all__ = ["ClassicSwapper"]


def _triangulate(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles [T,3] (indices into points) of [K,2] points inside an image of (h, w)."""
    h, w = size
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    clipped = np.clip(points, 0, [w - 1, h - 1])
    for x, y in clipped:
        subdiv.insert((float(x), float(y)))
    triangles = []
    for tri in subdiv.getTriangleList().reshape(-1, 3, 2):
        idx = [int(np.argmin(np.abs(clipped - v).sum(1))) for v in tri]
        if len(set(idx)) == 3:
            triangles.append(idx)
    return np.array(triangles, dtype=np.int32)


def _lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[mask]
    return lab.mean(0), lab.std(0) + 1e-3


class ClassicSwapper:
    """Landmark-warp swapper. Call :meth:`set_source` once, then :meth:`swap` per target face.

    Args:
        color_match: transfer the target's Lab mean and spread onto the warped source (recommended for feather
            blending; the Poisson blend fixes low-frequency colour on its own but still benefits).
    """

    name = "classic"

    def __init__(self, color_match: bool = True) -> None:
        self.color_match = color_match
        self._source: np.ndarray | None = None
        self._points: np.ndarray | None = None
        self._triangles: np.ndarray | None = None

    def set_source(self, image: np.ndarray, face: Face) -> None:
        """Use ``face`` (68 landmarks) of the RGB uint8 ``image`` as the identity to paste."""
        if face.landmarks.shape != (68, 2):
            raise InputError("the classic swapper needs 68-point landmarks on the source face")
        self._source = np.ascontiguousarray(image)
        self._points = face.landmarks.astype(np.float64)
        self._triangles = _triangulate(self._points, image.shape[:2])

    def swap_many(self, frame: np.ndarray, faces: list[np.ndarray]) -> list[SwapResult | None]:
        """:meth:`swap` for each face ([68,2] landmarks) of a frame."""
        return [self.swap(frame, landmarks) for landmarks in faces]

    def swap(self, frame: np.ndarray, landmarks: np.ndarray) -> SwapResult | None:
        """Warp the source onto a target's [68,2] landmarks in an RGB uint8 frame; None if the face is off-frame."""
        if self._source is None or self._points is None or self._triangles is None:
            raise RuntimeError("ClassicSwapper.swap called before set_source")
        box = hull_box(landmarks, frame.shape[:2])
        if box is None:
            return None
        x0, y0, x1, y1 = box
        local = landmarks - [x0, y0]
        index = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
        for k, tri in enumerate(self._triangles):
            cv2.fillConvexPoly(index, np.round(local[tri]).astype(np.int32), int(k))
        # Affine map of each triangle from target (local) to source coordinates.
        maps = np.stack(
            [
                cv2.getAffineTransform(local[t].astype(np.float32), self._points[t].astype(np.float32))
                for t in self._triangles
            ]
        )
        inside = index >= 0
        ys, xs = np.nonzero(inside)
        m = maps[index[ys, xs]]
        map_x = np.zeros(index.shape, np.float32)
        map_y = np.zeros(index.shape, np.float32)
        map_x[ys, xs] = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]
        map_y[ys, xs] = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]
        warped = cv2.remap(self._source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        mask = np.zeros(index.shape, np.uint8)
        cv2.fillConvexPoly(mask, np.round(local[HULL]).astype(np.int32), 1)
        mask &= inside.astype(np.uint8)
        if _mouth_open(landmarks):
            cv2.fillPoly(mask, [np.round(local[INNER_MOUTH]).astype(np.int32)], 0)
        face = warped.astype(np.float32)
        target = frame[y0:y1, x0:x1]
        region = mask.astype(bool)
        if self.color_match and region.sum() > 16:
            mean_s, std_s = _lab_stats(warped, region)
            mean_t, std_t = _lab_stats(target, region)
            lab = cv2.cvtColor(face / 255.0, cv2.COLOR_RGB2LAB)
            lab = (lab - mean_s) * (std_t / std_s) + mean_t
            face = np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0, 0, 255)
        return SwapResult(box=(int(x0), int(y0), int(x1), int(y1)), face=face, mask=mask.astype(np.float32))


def _mouth_open(landmarks: np.ndarray) -> bool:
    """Inner lips apart by more than 15% of the mouth width."""
    gap = np.linalg.norm(landmarks[66] - landmarks[62])
    width = np.linalg.norm(landmarks[64] - landmarks[60]) + 1e-6
    return bool(gap / width > 0.15)
