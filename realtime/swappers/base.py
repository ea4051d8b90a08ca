"""What every swapper shares: the :class:`Swapper` interface the pipeline drives, what it is given (a
:class:`SourceSet` once, :class:`SwapTarget` faces per frame) and gives back (:class:`SwapResult`), and
:func:`hull_box`, the frame region a swap of one face may touch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from realtime.faces.pose import HeadPose, head_pose, mouth_openness
from realtime.faces.types import Face, face_outline

__all__ = [
    "DeviceSwapResult",
    "ResidentSwapper",
    "SourceFace",
    "SourceSet",
    "SwapResult",
    "SwapTarget",
    "Swapper",
    "hull_box",
]


@dataclass
class SwapResult:
    """A swapped face in frame coordinates, confined to ``box`` = (x0, y0, x1, y1) of the frame.

    ``face`` is RGB float32 [h,w,3] in [0,255] and ``mask`` float32 [h,w] in {0,1} (1 where the swap applies).
    """

    box: tuple[int, int, int, int]
    face: np.ndarray
    mask: np.ndarray


@dataclass
class DeviceSwapResult:
    """A :class:`SwapResult` whose pictures stay on the frame's device: ``face`` float32 [3,h,w] in [0,255] and
    ``mask`` float32 [h,w] in {0,1}, both torch tensors (see :meth:`Swapper.swap_on_device`)."""

    box: tuple[int, int, int, int]
    face: torch.Tensor
    mask: torch.Tensor

    @classmethod
    def upload(cls, result: SwapResult, device: torch.device | str) -> DeviceSwapResult:
        """A host ``result`` (face float32 [h,w,3], mask [h,w]) moved to ``device``: the same box and pictures."""
        face = torch.from_numpy(np.ascontiguousarray(result.face, np.float32)).permute(2, 0, 1).to(device)
        return cls(result.box, face, torch.from_numpy(np.ascontiguousarray(result.mask, np.float32)).to(device))


@dataclass(frozen=True)
class SwapTarget:
    """A face to swap in a frame: its [68,2] ``landmarks`` (frame pixels) and the ``track_id`` that follows it
    from frame to frame (-1 for a face seen once, as in an image), by which a swapper keeps per-face choices.

    ``keep`` (float32 [h,w] in [0,1] over the face's :func:`hull_box`, or None) is where the target's own face is
    seen and will be swapped: the masks of :mod:`realtime.processors` (occluders, parsed regions, an open mouth)
    are 0 elsewhere. A swapper that measures the target (the classic one takes its colour and light) measures
    only there, so a hand or microphone in front does not tint the face.

    ``source`` is which of the swapper's sources (:meth:`Swapper.set_sources`) goes onto this face: 0 with a
    single source; the mapped person's with a people map."""

    landmarks: np.ndarray
    track_id: int = -1
    keep: np.ndarray | None = None
    source: int = 0


@dataclass(frozen=True)
class SourceFace:
    """One picture of the source person: ``image`` (RGB uint8, cropped around the face with room for a warp), its
    ``face`` in that crop's coordinates, and how it looks: head ``pose`` and ``mouth`` openness (see
    :mod:`realtime.faces.pose`)."""

    image: np.ndarray
    face: Face
    pose: HeadPose
    mouth: float

    @classmethod
    def of(cls, image: np.ndarray, face: Face, margin: float = 0.6) -> SourceFace:
        """The face ``face`` of the RGB uint8 ``image``, cropped to its box grown by ``margin`` of its size on every
        side (so a picture of a crowd keeps only this face's surroundings)."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = face.bbox
        grow = margin * max(x1 - x0, y1 - y0)
        left, top = int(max(0, np.floor(x0 - grow))), int(max(0, np.floor(y0 - grow)))
        right, bottom = int(min(w, np.ceil(x1 + grow))), int(min(h, np.ceil(y1 + grow)))
        offset = np.array([left, top], np.float64)
        moved = Face(
            bbox=face.bbox - np.concatenate([offset, offset]),
            score=face.score,
            landmarks=face.landmarks - offset,
            kps5=face.kps5 - offset,
            embedding=face.embedding,
        )
        crop = np.ascontiguousarray(image[top:bottom, left:right])
        return cls(crop, moved, head_pose(face.landmarks, (h, w)), mouth_openness(face.landmarks))


@dataclass(frozen=True)
class SourceSet:
    """Every picture of the source person a swapper may use, the best one (largest, most frontal) first. A swapper
    that warps pictures (the classic one) picks, per target face, the one that looks most like it; a neural one
    takes the identity from all of them."""

    faces: tuple[SourceFace, ...]

    def __post_init__(self) -> None:
        if not self.faces:
            raise ValueError("a SourceSet needs at least one face")

    @classmethod
    def single(cls, image: np.ndarray, face: Face) -> SourceSet:
        """A set of one: ``face`` of the RGB uint8 ``image``."""
        return cls((SourceFace.of(image, face),))

    @property
    def best(self) -> SourceFace:
        return self.faces[0]


class Swapper(Protocol):
    """A face swapper: :meth:`set_sources` (or :meth:`set_source`) once, then :meth:`swap_many` per frame.

    ``resident_device`` is the device on which :meth:`ResidentSwapper.swap_on_device` swaps frames that stay there
    (a GPU), or None for a swapper that works on host frames only."""

    name: str
    resident_device: torch.device | None

    def set_sources(self, sources: Sequence[SourceSet]) -> None:
        """The source people, each target taking the one its ``SwapTarget.source`` indexes."""
        ...

    def set_source(self, source: SourceSet) -> None:
        """One source person for every face: ``set_sources([source])``."""
        ...

    def swap_many(self, frame: np.ndarray, targets: Sequence[SwapTarget]) -> list[SwapResult | None]:
        """One result per target face of an RGB uint8 frame [H,W,3], all faces at once (neural swappers batch them,
        whatever their sources); None for a face that cannot be swapped (off-frame, too small)."""
        ...


class ResidentSwapper(Swapper, Protocol):
    """A swapper whose ``resident_device`` is not None: it also swaps frames that stay on that device."""

    def swap_on_device(self, frame: torch.Tensor, targets: Sequence[SwapTarget]) -> list[DeviceSwapResult | None]:
        """:meth:`swap_many` of an RGB uint8 frame tensor [H,W,3] on :attr:`resident_device`, every step there: the
        results' pictures stay on that device."""
        ...


def hull_box(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The frame region (x0, y0, x1, y1) a swap of the face with [68,2] ``landmarks`` may touch: the bounding box of
    its :func:`~realtime.faces.types.face_outline` plus a 2-3 px margin, clipped to the (height, width) frame; None
    when under 8 px a side."""
    h, w = frame_size
    outline = face_outline(landmarks)
    x0, y0 = np.floor(outline.min(0)).astype(int) - 2
    x1, y1 = np.ceil(outline.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return None if x1 - x0 < 8 or y1 - y0 < 8 else (int(x0), int(y0), int(x1), int(y1))
