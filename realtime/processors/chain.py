"""The inference chain between the swap and the paste, one for every command (swap, webcam): masks read from the
target (:mod:`realtime.processors.masks`) narrow where each swapped face is pasted, and a face enhancer
(:mod:`realtime.processors.enhancer`) restores the swapped face, blended at a chosen strength.

Two steps around the swap: :meth:`FaceChain.prepare` reads the masks from the target frame into each target's
``keep`` map (so a swapper can measure the target only where its face is seen), and :meth:`FaceChain.process`
narrows each swap result's mask by it and enhances the face. The models see FFHQ-aligned crops (the framing they
were trained on) and their outputs are warped back into each face's box, so every stage works for every swapper.
:meth:`FaceChain.process_on_device` is :meth:`~FaceChain.process` for results that stay on the frame's device (the
GPU-resident pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import cv2
import numpy as np
import torch

from realtime.faces.align import (
    box_matrix,
    invert_affine,
    transform_points,
    warp_affine,
    warp_to_box,
)
from realtime.faces.device_warp import affine_sample
from realtime.faces.pose import mouth_keep
from realtime.processors.enhancer import FaceEnhancer
from realtime.processors.masks import DEFAULT_REGIONS, MASKS, FaceParser, Occluder
from realtime.processors.windows import FFHQ_SIDE, Window, crop_window, ffhq_matrix, map_matrix, within
from realtime.swappers.base import DeviceSwapResult, SwapResult, SwapTarget, hull_box

__all__ = ["DEFAULT_MASKS", "FaceChain", "default_masks"]

MapReader = Callable[[np.ndarray, list[Window]], list[np.ndarray]]
Result = TypeVar("Result", SwapResult, DeviceSwapResult)  # a swap result on the host, or on the frame's device

# The masks each swapper gets unless --mask says otherwise: the classic swapper warps a closed or differently open
# mouth over the target's, so the target's inner mouth (teeth, tongue) is kept; neural swappers render the mouth.
DEFAULT_MASKS = {"classic": ("box", "mouth"), "simswap": ("box",), "inswapper": ("box",)}


def default_masks(swapper_name: str) -> tuple[str, ...]:
    """The masks a swapper called ``swapper_name`` gets by default (:data:`DEFAULT_MASKS`; ``box`` for others)."""
    return DEFAULT_MASKS.get(swapper_name, ("box",))


@dataclass
class FaceChain:
    """Masks and enhancer applied to a frame's swap results.

    Args:
        masks: which of :data:`~realtime.processors.masks.MASKS` to combine (``box``: the swapper's own region,
            always the base); ``occlusion`` needs ``occluder``, ``region`` needs ``parser``.
        regions: the parser classes kept by the ``region`` mask.
        enhancer: run on each swapped face, or None.
        enhancer_blend: 0..1, how much of the enhancer's output replaces the swapped face.

    :attr:`model_seconds` is the time spent inside each model's runs so far, so the chain's own cost (crops, warps,
    the models' input and output conversions, blending) is the rest (``bench/chain.py`` reports both).
    """

    masks: tuple[str, ...] = ("box",)
    occluder: Occluder | None = None
    parser: FaceParser | None = None
    regions: tuple[str, ...] = DEFAULT_REGIONS
    enhancer: FaceEnhancer | None = None
    enhancer_blend: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.masks) - set(MASKS)
        if unknown:
            raise ValueError(f"unknown masks {sorted(unknown)}; choose from {MASKS}")
        if "occlusion" in self.masks and self.occluder is None:
            raise ValueError("the occlusion mask needs an occluder model")
        if "region" in self.masks and self.parser is None:
            raise ValueError("the region mask needs a face parser model")
        if not 0.0 <= self.enhancer_blend <= 1.0:
            raise ValueError(f"enhancer_blend must be in [0, 1], got {self.enhancer_blend}")

    @property
    def model_seconds(self) -> dict[str, float]:
        """Seconds spent inside each model's runs so far: "occlusion", "region", "enhancer" (those present)."""
        models = {"occlusion": self.occluder, "region": self.parser, "enhancer": self.enhancer}
        return {name: m.model.seconds for name, m in models.items() if m is not None}

    @property
    def masking(self) -> bool:
        """True when some mask beyond the swapper's own region is on."""
        return not set(self.masks) <= {"box"}

    @property
    def enhancing(self) -> bool:
        """True when an enhancer is on and blended in at all."""
        return self.enhancer is not None and self.enhancer_blend > 0

    @property
    def idle(self) -> bool:
        """True when the chain would leave every target and result as it is."""
        return not self.masking and not self.enhancing

    def prepare(self, frame: np.ndarray, targets: Sequence[SwapTarget]) -> list[SwapTarget]:
        """The targets of an RGB uint8 frame with ``keep`` set to the product of the masks over each face's
        :func:`~realtime.swappers.base.hull_box` (unchanged when no mask is on, or the face is off-frame)."""
        if not self.masking:
            return list(targets)
        boxes = [hull_box(t.landmarks, frame.shape[:2]) for t in targets]
        placed = [(t, b) for t, b in zip(targets, boxes, strict=True) if b is not None]
        keeps = {id(t): np.ones((b[3] - b[1], b[2] - b[0]), np.float32) for t, b in placed}
        ffhq = [ffhq_matrix(t.landmarks) for t, _ in placed]
        if "mouth" in self.masks:
            for target, (x0, y0, x1, y1) in placed:
                keeps[id(target)] *= mouth_keep(target.landmarks - [x0, y0], (y1 - y0, x1 - x0))
        readers: list[tuple[int, MapReader]] = []  # (crop side, model reading maps over windows of crops)
        if "occlusion" in self.masks and self.occluder is not None:
            occluder = self.occluder
            readers.append((occluder.size, lambda crops, windows: within(occluder.visible(crops), windows)))
        if "region" in self.masks and self.parser is not None:
            parser, regions = self.parser, self.regions
            readers.append((parser.size, lambda crops, windows: parser.regions(crops, regions, windows)))
        if placed and readers:
            crops = _target_crops(frame, ffhq, {size for size, _ in readers})
            for size, read in readers:
                _narrow(placed, keeps, *crops[size], read)
        return [replace(t, keep=keeps[id(t)]) if id(t) in keeps else t for t in targets]

    def process(
        self, frame: np.ndarray, targets: Sequence[SwapTarget], results: Sequence[SwapResult | None]
    ) -> list[SwapResult | None]:
        """The swap results of :meth:`prepare`'s targets (same order; None stays None) with each mask multiplied by
        its target's ``keep`` and each face enhanced; ``frame`` (the RGB uint8 frame before pasting) is not
        changed."""
        return self._narrow_and_enhance(targets, results, SwapResult, lambda keep: keep,
                                        lambda pairs: self._enhance(frame, pairs))  # fmt: skip

    def process_on_device(
        self, frame: torch.Tensor, targets: Sequence[SwapTarget], results: Sequence[DeviceSwapResult | None]
    ) -> list[DeviceSwapResult | None]:
        """:meth:`process` of results that stay on the device of ``frame`` (RGB uint8 [H,W,3], before pasting):
        each mask times its target's ``keep`` (read by :meth:`prepare` from the host frame, uploaded: a box-sized
        map), each face enhanced on a crop cut there. The enhancer's crops alone cross to onnxruntime's host arrays
        (0.8 MB for a 512 crop) and their restored windows come back; the frame does not move."""
        return self._narrow_and_enhance(targets, results, DeviceSwapResult,
                                        lambda keep: torch.from_numpy(keep).to(frame.device),
                                        lambda pairs: self._enhance_on_device(frame, pairs))  # fmt: skip

    def _narrow_and_enhance(
        self,
        targets: Sequence[SwapTarget],
        results: Sequence[Result | None],
        kind: Callable[[tuple[int, int, int, int], Any, Any], Result],
        upload: Callable[[np.ndarray], Any],
        enhance: Callable[[list[tuple[SwapTarget, Result]]], list[Any]],
    ) -> list[Result | None]:
        """What :meth:`process` and :meth:`process_on_device` share: each result's mask times its target's keep
        (``upload`` puts a keep map where the masks are), the faces ``enhance``d, new results made by ``kind``."""
        pairs = [(t, r) for t, r in zip(targets, results, strict=True) if r is not None]
        if self.idle or not pairs:
            return list(results)
        masks = {id(r): r.mask if t.keep is None else r.mask * upload(t.keep) for t, r in pairs}
        faces = {id(r): r.face for _, r in pairs}
        if self.enhancing:
            enhanced = enhance([(t, kind(r.box, r.face, masks[id(r)])) for t, r in pairs])
            faces = {id(r): face for (_, r), face in zip(pairs, enhanced, strict=True)}
        return [None if r is None else kind(r.box, faces[id(r)], masks[id(r)]) for r in results]

    def _enhance(self, frame: np.ndarray, pairs: list[tuple[SwapTarget, SwapResult]]) -> list[np.ndarray]:
        """Each result's face enhanced on an FFHQ crop of the frame with the swapped face pasted in by its (narrowed)
        mask, and blended into its box at ``enhancer_blend`` (where the crop covers the box)."""
        assert self.enhancer is not None
        size = self.enhancer.size
        matrices = [ffhq_matrix(t.landmarks) * (size / FFHQ_SIDE) for t, _ in pairs]
        crops = np.stack([_crop_with_face(frame, r, m, size) for (_, r), m in zip(pairs, matrices, strict=True)])
        windows = [crop_window(m, r.box, size, subsample=False) for (_, r), m in zip(pairs, matrices, strict=True)]
        faces = []
        for (_, result), m, window, out in zip(
            pairs, matrices, windows, self.enhancer.enhance(crops, windows), strict=True
        ):
            back = warp_to_box(out, map_matrix(m, window), result.box).astype(np.float32)
            if _covers(m, result.box, size):  # the usual case: the crop covers the whole box
                where: np.ndarray | float = self.enhancer_blend
            else:
                cover = warp_to_box(np.full((size, size), 255, np.uint8), m, result.box)
                where = cover.astype(np.float32)[..., None] * (self.enhancer_blend / 255.0)
            # inside the mask the crop showed the swapped face, so this is the crop's blend carried back to the box
            faces.append(result.face + where * (back - result.face))
        return faces

    def _enhance_on_device(
        self, frame: torch.Tensor, pairs: list[tuple[SwapTarget, DeviceSwapResult]]
    ) -> list[torch.Tensor]:
        """:meth:`_enhance` with the crops cut and the restored faces warped back and blended on the frame's device
        (full-scale bilinear warps, where the host cuts the crops with :func:`warp_affine`'s faster approximation)."""
        assert self.enhancer is not None
        size = self.enhancer.size
        matrices = [ffhq_matrix(t.landmarks) * (size / FFHQ_SIDE) for t, _ in pairs]
        placed = list(zip(pairs, matrices, strict=True))
        crops = torch.stack([_crop_with_face_on_device(frame, r, m, size) for (_, r), m in placed])
        windows = [crop_window(m, r.box, size, subsample=False) for (_, r), m in placed]
        faces = []
        for ((_, result), m), window, out in zip(
            placed, windows, self.enhancer.enhance(crops.cpu().numpy(), windows), strict=True
        ):
            x0, y0, x1, y1 = result.box
            restored = torch.from_numpy(out).to(frame.device).permute(2, 0, 1)[None].float()
            back = affine_sample(restored, box_matrix(map_matrix(m, window), result.box), (y1 - y0, x1 - x0))[0]
            where: torch.Tensor | float = self.enhancer_blend
            if not _covers(m, result.box, size):
                whole = torch.ones((1, 1, size, size), device=frame.device)
                where = affine_sample(whole, box_matrix(m, result.box), (y1 - y0, x1 - x0))[0] * self.enhancer_blend
            faces.append(result.face + where * (back - result.face))
        return faces


def _target_crops(
    frame: np.ndarray, ffhq: list[np.ndarray], sizes: set[int]
) -> dict[int, tuple[np.ndarray, list[np.ndarray]]]:
    """For each of ``sizes``: the FFHQ crops [N,S,S,3] uint8 of the frame (``ffhq``: each face's 512 crop matrix)
    and their frame -> crop matrices. The largest is warped from the frame; a size dividing it is that crop
    averaged down (a whole-number area resize, cheaper than a second warp)."""

    def warped(size: int) -> tuple[np.ndarray, list[np.ndarray]]:
        matrices = [m * (size / FFHQ_SIDE) for m in ffhq]
        return np.stack([warp_affine(frame, m, size, fast=True) for m in matrices]), matrices

    largest = max(sizes)
    crops, matrices = out_largest = warped(largest)
    out = {largest: out_largest}
    for size in sizes - {largest}:
        if largest % size:
            out[size] = warped(size)
            continue
        k = largest // size  # crop pixel j averages big pixels kj..kj+k-1, centred at kj + (k-1)/2
        shift = np.array([[0.0, 0.0, (k - 1) / (2 * k)]] * 2)
        small = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        out[size] = (small, [m / k - shift for m in matrices])
    return out


def _narrow(  # type: ignore[no-untyped-def]
    placed, keeps, crops: np.ndarray, matrices: list[np.ndarray], model: MapReader
) -> None:
    """Multiply each placed face's keep map by ``model``'s byte map (255 = keep) of its crop (``crops`` [N,S,S,3],
    frame -> crop ``matrices``), warped back to its box. ``model(crops, windows)`` gives the maps over each crop's
    :func:`~realtime.processors.windows.crop_window` only."""
    size = crops.shape[1]
    windows = [crop_window(m, box, size) for m, (_, box) in zip(matrices, placed, strict=True)]
    for (target, box), m, window, crop_map in zip(placed, matrices, windows, model(crops, windows), strict=True):
        back = warp_to_box(np.ascontiguousarray(crop_map), map_matrix(m, window), box)
        keeps[id(target)] *= back * np.float32(1 / 255)


def _covers(m: np.ndarray, box: tuple[int, int, int, int], size: int) -> bool:
    """Whether the ``size`` crop (frame -> crop matrix ``m``) covers every pixel of the frame region ``box``."""
    x0, y0, x1, y1 = box
    corners = transform_points(np.array([[x0, y0], [x1 - 1, y0], [x0, y1 - 1], [x1 - 1, y1 - 1]], float), m)
    return bool(corners.min() >= 0 and corners.max() <= size - 1)


def _crop_reach(frame_size: tuple[int, int], m: np.ndarray, size: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The part (left, top, right, bottom) of a (height, width) frame that the ``size`` crop of matrix ``m``
    reads, bilinear's neighbours included, and the matrix from that part to the crop."""
    h, w = frame_size
    corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64), invert_affine(m))
    left, top = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
    right, bottom = np.minimum(np.ceil(corners.max(0)).astype(int) + 2, [w, h])
    shifted = m.copy()
    shifted[:, 2] += m[:, :2] @ [left, top]
    return (int(left), int(top), int(right), int(bottom)), shifted


def _overlap(
    box: tuple[int, int, int, int], reach: tuple[int, int, int, int]
) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
    """Where ``box`` (x0, y0, x1, y1) and the frame part ``reach`` (left, top, right, bottom) meet, as (rows,
    columns) slices of the box's pictures and of the part; None when they do not."""
    (x0, y0, x1, y1), (left, top, right, bottom) = box, reach
    bx0, by0, bx1, by1 = max(x0, left), max(y0, top), min(x1, right), min(y1, bottom)
    if bx1 <= bx0 or by1 <= by0:
        return None
    in_box = (slice(by0 - y0, by1 - y0), slice(bx0 - x0, bx1 - x0))
    return in_box, (slice(by0 - top, by1 - top), slice(bx0 - left, bx1 - left))


def _crop_with_face(frame: np.ndarray, result: SwapResult, m: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` crop (frame -> crop matrix ``m``) of the frame with ``result``'s face pasted by its mask,
    uint8: only the part of the frame the crop reads is copied, and the face is pasted there, not in the frame."""
    reach, shifted = _crop_reach(frame.shape[:2], m, size)
    left, top, right, bottom = reach
    canvas = frame[top:bottom, left:right].copy()
    where = _overlap(result.box, reach)
    if where is not None:
        in_box, in_canvas = where
        alpha, region, face = result.mask[in_box][..., None], canvas[in_canvas], result.face[in_box]
        region[...] = np.clip(region + alpha * (face - region) + 0.5, 0, 255).astype(np.uint8)
    return warp_affine(canvas, shifted, size, fast=True)


def _crop_with_face_on_device(frame: torch.Tensor, result: DeviceSwapResult, m: np.ndarray, size: int) -> torch.Tensor:
    """:func:`_crop_with_face` of a frame tensor [H,W,3] uint8 and a result on its device: uint8 [size,size,3]."""
    reach, shifted = _crop_reach(tuple(frame.shape[:2]), m, size)
    left, top, right, bottom = reach
    canvas = frame[top:bottom, left:right].permute(2, 0, 1).float()  # [3,h,w], a copy
    where = _overlap(result.box, reach)
    if where is not None:
        in_box, in_canvas = where
        (rows, columns), (box_rows, box_columns) = in_canvas, in_box
        alpha, region, face = result.mask[in_box], canvas[:, rows, columns], result.face[:, box_rows, box_columns]
        canvas[:, rows, columns] = (region + alpha * (face - region) + 0.5).floor_().clamp_(0, 255)
    crop = affine_sample(canvas[None], shifted, (size, size), "border")[0]
    return crop.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0)
