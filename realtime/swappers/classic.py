"""The classic swapper (embedded default, no weights): the source face warped onto each target's landmarks.

The target's 68 landmarks, plus the brows raised onto the forehead (:func:`~realtime.faces.types.face_outline`: the
swapped region reaches past the brows so its blended edge crosses skin, not the brows), are triangulated (Delaunay)
and every pixel of the target's face outline is mapped back into the source by the affine map of the triangle it
falls in — one rasterised triangle-index image and one
``cv2.remap`` instead of a warp per triangle. Triangulating the target, not the source, keeps the warp continuous
whatever the two expressions: a triangulation of the source can fold over itself on the target (an open mouth
against a closed one), and the folds showed as streaks across the face.

A source turned away from the camera shows one side of its face compressed; warped onto a more frontal target that
side is stretched into a smear. So the source is also prepared mirrored (the image flipped, its landmarks relabelled
left for right), and each triangle of the target takes its pixels from whichever view shows that part of the face
larger: the far side is filled from the near side's mirror image, the way an artist completes a turned face. A
frontal source keeps its own pixels everywhere (the two views' triangles are the same size), so asymmetries stay.

Given several pictures of the source person (a folder, a video), each target face uses the one that looks most like
it, turned the same way with the mouth as open (:mod:`realtime.swappers.choice`, with hysteresis per tracked face).

The warped face then takes the target's colour and light (:mod:`realtime.swappers.color`) and is masked by the
face outline. The pipeline's masks (:mod:`realtime.processors`; by default for this swapper, the mouth mask that
keeps the target's teeth and tongue when its mouth is open) narrow the paste, and their ``keep`` map also limits
where the target's colour is measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.faces.types import MIRROR_68, OUTLINE_LIFT, face_outline, inter_ocular, raised_brows
from realtime.swappers.base import SourceFace, SourceSet, SwapResult, SwapTarget, hull_box
from realtime.swappers.choice import SourceChooser
from realtime.swappers.color import COLOR_MODES, transfer_color

__all__ = ["ClassicSwapper"]

# The 68 points and the ten raised brow points; in the mirror image the raised brows swap ends as the brows do.
_MIRROR_78 = np.concatenate([MIRROR_68, 68 + np.arange(10)[::-1]])


def _extended(landmarks: np.ndarray) -> np.ndarray:
    """[78,2]: the 68 landmarks and the brows raised onto the forehead (the points the warp is triangulated on)."""
    return np.concatenate([np.asarray(landmarks, np.float64), raised_brows(landmarks, OUTLINE_LIFT)])


# A triangle takes the mirror view's pixels in proportion to how much larger it is there: not at all up to
# MIRROR_FROM x the area (landmark noise, natural asymmetry), fully from MIRROR_FULL x.
MIRROR_FROM, MIRROR_FULL = 1.3, 2.0


def _triangulate(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles [T,3] (indices into points) of [K,2] points inside an image of (h, w)."""
    h, w = size
    subdiv = cv2.Subdiv2D((0, 0, w, h))
    clipped = np.clip(points, 0, [w - 1, h - 1])
    for x, y in clipped:
        subdiv.insert((float(x), float(y)))
    vertices = subdiv.getTriangleList().reshape(-1, 2)
    # Subdiv2D returns coordinates; each vertex is the nearest point (its outer bounding triangle has none nearby,
    # so a triangle touching it maps two corners to one point and is dropped).
    idx = np.abs(clipped[None] - vertices[:, None]).sum(-1).argmin(1).reshape(-1, 3)
    distinct = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return idx[distinct].astype(np.int32)


def _areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Unsigned areas [T] of the triangles of ``points``."""
    a, b, c = (points[triangles[:, k]] for k in range(3))
    return 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


@dataclass(frozen=True)
class _View:
    """A source picture ready to warp: RGB uint8 image and its [68,2] landmarks."""

    image: np.ndarray
    points: np.ndarray


def _views(source: SourceFace) -> tuple[_View, _View]:
    """The source face's own view and its mirror image (flipped, landmarks relabelled left for right)."""
    if source.face.landmarks.shape != (68, 2):
        raise InputError("the classic swapper needs 68-point landmarks on the source face")
    image = source.image
    points = _extended(source.face.landmarks)
    mirrored = points[_MIRROR_78].copy()
    mirrored[:, 0] = image.shape[1] - 1 - mirrored[:, 0]
    return _View(np.ascontiguousarray(image), points), _View(np.ascontiguousarray(image[:, ::-1]), mirrored)


class ClassicSwapper:
    """Landmark-warp swapper. Call :meth:`set_source` once, then :meth:`swap_many` per frame.

    Args:
        color: how the warped face takes the target's colour: one of :data:`~realtime.swappers.color.COLOR_MODES`.
        mirror: complete the side of a turned source face from its mirror image (see the module notes).
    """

    name = "classic"
    resident_device = None  # cv2 warps and colour statistics on host frames

    def __init__(self, color: str = "shading", mirror: bool = True) -> None:
        if color not in COLOR_MODES:
            raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
        self.color, self.mirror = color, mirror
        self._people: list[tuple[list[tuple[_View, _View]], SourceChooser]] = []  # per source: views, chooser

    def set_sources(self, sources: Sequence[SourceSet]) -> None:
        """The source people (pictures with 68 landmarks each); a target takes the one its ``source`` indexes."""
        if not sources:
            raise ValueError("set_sources needs at least one source")
        self._people = [([_views(face) for face in source.faces], SourceChooser(source.faces)) for source in sources]

    def set_source(self, source: SourceSet) -> None:
        """Use the pictures of ``source`` (68 landmarks each) as the identity to paste on every face."""
        self.set_sources([source])

    def swap_many(self, frame: np.ndarray, targets: Sequence[SwapTarget]) -> list[SwapResult | None]:
        """Warp, onto each target face of an RGB uint8 frame, the picture of its source person that looks most like
        it; None for a face whose hull is off-frame."""
        if not self._people:
            raise RuntimeError("ClassicSwapper.swap_many called before set_source")
        results = []
        for target in targets:
            _, chooser = self._people[target.source]
            index = chooser.choose(target.landmarks, frame.shape[:2], target.track_id)
            results.append(self.swap(frame, target.landmarks, index, target.keep, target.source))
        return results

    def swap(
        self,
        frame: np.ndarray,
        landmarks: np.ndarray,
        picture: int = 0,
        keep: np.ndarray | None = None,
        person: int = 0,
    ) -> SwapResult | None:
        """Warp picture number ``picture`` of source ``person`` onto a target's [68,2] landmarks in an RGB uint8
        frame; None if the face is off-frame. ``keep`` (see :class:`~realtime.swappers.base.SwapTarget`) limits
        where the target's colour and light are measured."""
        if not self._people:
            raise RuntimeError("ClassicSwapper.swap called before set_source")
        box = hull_box(landmarks, frame.shape[:2])
        if box is None:
            return None
        x0, y0, x1, y1 = box
        local = _extended(landmarks) - [x0, y0]
        triangles = _triangulate(local, (y1 - y0, x1 - x0))
        index = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
        for k, tri in enumerate(triangles):
            cv2.fillConvexPoly(index, np.round(local[tri]).astype(np.int32), int(k))
        inside = index >= 0
        scale = inter_ocular(landmarks)
        own, other = self._people[person][0][picture]
        face = _warp(own, local, triangles, index, inside)
        ratio = _areas(other.points, triangles) / np.maximum(_areas(own.points, triangles), 1e-6)
        per_triangle = np.clip((ratio - MIRROR_FROM) / (MIRROR_FULL - MIRROR_FROM), 0.0, 1.0)
        if self.mirror and per_triangle.any():
            weight = np.where(inside, per_triangle[index], 0.0).astype(np.float32)
            weight = cv2.GaussianBlur(weight, (0, 0), max(1.0, scale / 10))[..., None]  # no seam between triangles
            face = face * (1 - weight) + _warp(other, local, triangles, index, inside) * weight
        mask = np.zeros(index.shape, np.uint8)
        cv2.fillConvexPoly(mask, np.round(face_outline(landmarks) - [x0, y0]).astype(np.int32), 1)
        mask &= inside.astype(np.uint8)
        seen = mask.astype(bool) if keep is None else mask.astype(bool) & (keep > 0.5)
        face = transfer_color(face, frame[y0:y1, x0:x1], seen, self.color, scale)
        return SwapResult(box=(int(x0), int(y0), int(x1), int(y1)), face=face, mask=mask.astype(np.float32))


def _warp(view: _View, local: np.ndarray, triangles: np.ndarray, index: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``view`` warped onto the target's box: each pixel of triangle k (``index``) sampled through the affine map from
    the target's triangle k (``local`` landmarks) to the view's. RGB float32 [h,w,3]."""
    maps = np.stack(
        [cv2.getAffineTransform(local[t].astype(np.float32), view.points[t].astype(np.float32)) for t in triangles]
    )
    ys, xs = np.nonzero(inside)
    m = maps[index[ys, xs]]
    map_x = np.zeros(index.shape, np.float32)
    map_y = np.zeros(index.shape, np.float32)
    map_x[ys, xs] = m[:, 0, 0] * xs + m[:, 0, 1] * ys + m[:, 0, 2]
    map_y[ys, xs] = m[:, 1, 0] * xs + m[:, 1, 1] * ys + m[:, 1, 2]
    return cv2.remap(view.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101).astype(np.float32)
