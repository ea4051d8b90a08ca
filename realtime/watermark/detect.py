"""Reading the mark back, from frames that may have been re-encoded, rescaled, mirrored, letterboxed or had their
brightness or contrast changed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.watermark.crops import locate_grids, read_cropped
from realtime.watermark.grid import (
    DITHER,
    GRID_COLUMNS,
    STEP,
    carrier_for,
    cell_means,
    grid_shape,
    highpass,
    readings,
    to_luma,
)
from realtime.watermark.payload import MARKER_BITS, MARKER_PATTERN, decode_payload, marker_agreement

__all__ = ["GAINS", "Detection", "WatermarkDetector", "content_box"]

SEARCH_FRAMES, SEARCH_EVERY = 4, 8  # the crop search reads frames 0, 8, 16 and 24 of those added
PLACE_MIN_SCORE = 0.05  # a grid place fitting worse than this is chance (unmarked content scores about 0)


@dataclass
class Detection:
    """What the detector read. ``marked`` (with ``user_id``) only when the 24-bit marker and the CRC check out: the
    decision. ``confidence``, in [0, 1], is how strongly the soft readings of the 24 marker bits agree with the
    known marker: about 1 on a cleanly marked frame, lower as re-encoding wears the mark down, and near 0 on
    unmarked content (chance agreement averages out), so it grades a decision rather than making it."""

    marked: bool
    user_id: int | None
    confidence: float
    frames: int
    cropped: bool = False  # found only by searching for the grid of a cropped copy


# contrast gains the detector tries (an editor's contrast slider scales the high-passed cells, and so every
# projection, by its gain): 1 and steps of 2.5% either side, from 0.61 to 1.64, so a projection of four steps (a
# bit with few cells on strong edges) is at most a twentieth of a step off
GAINS = tuple(float(1.025**k) for k in range(-20, 21))
BAR_MIN_FRACTION = 0.02  # bars narrower than this share of a side are not trimmed (a dark edge is not a bar)


def _bar_length(profile_mean: np.ndarray, profile_std: np.ndarray) -> int:
    """How many leading entries of a border-to-centre profile are one flat bar: the outermost line nearly uniform
    (std < 2 grey levels), and each line after it nearly the same colour (within 4) and no more than faintly
    textured (std < 8: the codec rings into a bar's last lines)."""
    if profile_std[0] >= 2.0:
        return 0
    flat = (profile_std < 8.0) & (np.abs(profile_mean - profile_mean[0]) < 4.0)
    return int(np.argmin(flat)) if not flat.all() else len(flat)


def content_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the picture inside letterbox or pillarbox bars (uniform lines along the edges,
    any colour) of a float32 luma [H, W]; None when there are no bars or nothing but bars."""
    h, w = luma.shape
    sides = []
    for lines in (luma, luma[::-1], luma.T, luma.T[::-1]):  # top, bottom, left, right: each line from outside in
        sides.append(_bar_length(lines.mean(axis=1), lines.std(axis=1)))
    top, bottom, left, right = (
        n if n >= BAR_MIN_FRACTION * size else 0 for n, size in zip(sides, (h, h, w, w), strict=True)
    )
    if top + bottom + left + right == 0 or h - top - bottom < h / 4 or w - left - right < w / 4:
        return None
    return top, h - bottom, left, w - right


class WatermarkDetector:
    """Accumulates soft bit decisions over frames (``add``) and reads the payload (``result``).

    The frame may have been rescaled, mirrored, letterboxed, or had its brightness or contrast changed since it was
    marked, so every reading is kept apart by the hypothesis it makes: the grid (any of :data:`GRID_COLUMNS`, at
    the two row counts its aspect ratio lies between), mirrored or not, the picture inside bars or the whole frame,
    and the contrast gain (:data:`GAINS`). When none decodes and ``search_crops`` is on, four of the frames are
    searched for the grid of a cropped copy (:mod:`realtime.watermark.crops`; about 0.1 s per image and 0.2 s per
    video on a 2-core CPU). A reading counts only when its marker and CRC check out (with at most two of its least
    sure bits flipped), so the few thousand readings tried cost about 1 in a million false detections per file."""

    def __init__(self, step: float = STEP, search_crops: bool = True) -> None:
        self.step = step
        self.search_crops = search_crops
        self._soft_sums: dict[tuple[object, ...], np.ndarray] = {}
        self._own: tuple[object, ...] | None = None  # the hypothesis "nothing happened to the first frame"
        self.frames = 0
        self._inverse_steps = (1.0 / (np.array(GAINS) * step))[:, None].astype(np.float32)
        self._kept: list[np.ndarray] = []  # a few frames' lumas, for the crop search

    def _fold(self, view: str, luma: np.ndarray, width: int) -> None:
        """Add the soft readings of one view (analysis luma of a picture ``width`` frame pixels wide) under each
        grid it may carry: grids whose cells would be under 10 px in this picture are skipped (no mark survives
        a downscale that far), and the row counts tried are the two its aspect ratio lies between."""
        h, w = luma.shape
        for cols in GRID_COLUMNS:
            if width < 10 * cols:
                continue
            exact = cols * h / w
            for r in sorted({max(cols // 4, int(np.floor(exact))), max(cols // 4, int(np.ceil(exact)))}):
                cells = cell_means(luma, r, cols)
                carrier = carrier_for(r, cols)
                for mirrored in (False, True):
                    values = readings(highpass(cells[:, ::-1] if mirrored else cells), carrier).ravel()
                    phase = values[None, :] * self._inverse_steps - DITHER
                    soft = carrier.bit_means(np.cos(2 * np.pi * phase))  # [gains, 64]: each bit's cells, averaged
                    key = (view, r, cols, mirrored)
                    self._soft_sums[key] = self._soft_sums.get(key, 0.0) + soft

    def add(self, frame: np.ndarray) -> None:
        """Fold in one RGB uint8 frame [H,W,3] under every hypothesis (see the class)."""
        h, w = frame.shape[:2]
        if self._own is None:
            self._own = ("frame", *grid_shape(h, w), False)
        luma = to_luma(frame)
        if (
            self.frames % SEARCH_EVERY == 0
            and len(self._kept) < SEARCH_FRAMES
            and luma.shape == (self._kept[0].shape if self._kept else luma.shape)
        ):
            self._kept.append(luma)
        self._fold("frame", luma, w)
        box = content_box(luma)
        if box is not None:
            top, bottom, left, right = box
            self._fold("inside bars", luma[top:bottom, left:right], w * (right - left) // luma.shape[1])
        self.frames += 1

    def result(self) -> Detection:
        """Marked when some hypothesis decodes a valid payload (the best such reading); otherwise the reading of
        the unchanged frame (its own grid, gain 1), so an unmarked file's confidence is one chance agreement, not
        the best of the many hypotheses tried (a maximum over chance readings would sit well above zero)."""
        best: Detection | None = None
        unity = GAINS.index(1.0)
        own = Detection(False, None, 0.0, self.frames)
        for key, soft_sum in self._soft_sums.items():
            soft = soft_sum / max(self.frames, 1)  # [gains, 64]
            agreement = marker_agreement(soft)
            if key == self._own:
                own = Detection(False, None, max(0.0, float(agreement[unity])), self.frames)
            for g in np.flatnonzero(agreement > 0):  # each gain whose marker reading is better than chance
                user_id = _decode_soft(soft[g], chase=agreement[g] >= CHASE_AGREEMENT)
                if user_id is not None and (best is None or agreement[g] > best.confidence):
                    best = Detection(True, user_id, float(agreement[g]), self.frames)
        return best or self._search_crops() or own

    def _search_crops(self) -> Detection | None:
        """The mark of a cropped copy (see :mod:`realtime.watermark.crops`), from the frames kept; None when no
        place and mapping of the grid decodes."""
        if not self._kept or not self.search_crops:
            return None
        integrals = [cv2.integral(luma.astype(np.float64)) for luma in self._kept]
        for place in locate_grids(self._kept, integrals, self.step):
            if place.score < PLACE_MIN_SCORE:
                break
            for reading in read_cropped(integrals, place, self.step):
                if reading.agreement <= 0:
                    break
                user_id = _decode_soft(reading.soft, chase=reading.agreement >= CHASE_AGREEMENT)
                if user_id is not None:
                    return Detection(True, user_id, reading.agreement, self.frames, cropped=True)
        return None


CHASE_AGREEMENT = 0.25  # marker agreement from which a failed reading is retried with its least sure bits flipped
CHASE_BITS = 6
_CHASE_FLIPS = (
    [()] + [(i,) for i in range(CHASE_BITS)] + [(i, j) for i in range(CHASE_BITS) for j in range(i + 1, CHASE_BITS)]
)


def _decode_soft(soft: np.ndarray, chase: bool) -> int | None:
    """The user id in soft bit readings [64] (negative: a 1), or None. With ``chase``, readings that fail are
    retried with one or two of the six least sure bits flipped (Chase decoding): one nearly even vote can no longer
    sink a clearly marked file. Each retry is one more chance for a false match (22 tries per reading, 32 check
    bits: about 5 in a billion per reading)."""
    hard = soft < 0
    if np.count_nonzero(hard[:MARKER_BITS] != MARKER_PATTERN) > (2 if chase else 0):
        return None  # no retry could mend the marker: the usual case on unmarked content, so it is answered fast
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    for flips in _CHASE_FLIPS if chase else _CHASE_FLIPS[:1]:
        trial = hard.copy()
        trial[weakest[list(flips)]] ^= True
        user_id = decode_payload(trial)
        if user_id is not None:
            return user_id
    return None
