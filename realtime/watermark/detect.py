"""Reading the mark back, from frames that may have been re-encoded, rescaled, mirrored, letterboxed or had their
brightness or contrast changed."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.watermark.coding import KNOWN_CODED_BITS, known_agreement, viterbi_decode
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
from realtime.watermark.payload import decode_payload

__all__ = ["GAINS", "Detection", "WatermarkDetector", "content_box"]

SEARCH_FRAMES, SEARCH_EVERY = 4, 8  # the crop search reads frames 0, 8, 16 and 24 of those added


@dataclass
class Detection:
    """What the detector read. ``marked`` (with ``user_id``) only when the 24-bit marker and the CRC check out: the
    decision. ``confidence``, in [0, 1], is how strongly the soft readings of the 48 coded bits the marker fixes
    agree with them: about 1 on a cleanly marked frame, lower as re-encoding wears the mark down (a decodable copy
    may read as low as 0.1), and near 0 on unmarked content (chance agreement averages out), so it grades a
    decision rather than making it."""

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


# readings whose marker part agrees less than this are not decoded: chance readings agree about 0 +- 0.1, and the
# weakest copies still decoded (a half-size 640x360 copy at crf 30) agree 0.1 or more
DECODE_AGREEMENT = 0.05
CLIPPED = (4, 251)  # a pixel with any channel at or beyond these is taken as clipped
CLIPPED_DISTRUST = 4.0  # a cell's vote counts for nothing once a quarter of its 5x5 neighbourhood is clipped


def _clipped_share(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The share of clipped pixels (any channel at 0-4 or 251-255: an edit that saturates wipes the mark out of them,
    and clipping one channel bends the luma) of an RGB uint8 frame, at the analysis luma's size: float32 [h, w]."""
    inside = cv2.inRange(frame, (CLIPPED[0] + 1,) * 3, (CLIPPED[1] - 1,) * 3)  # 255 where no channel clips
    share = 1.0 - inside.astype(np.float32) / 255.0
    return cv2.resize(share, shape[::-1], interpolation=cv2.INTER_AREA) if share.shape != shape else share


def _trust(clipped: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """How far each cell's vote is to be trusted, float32 [rows, cols] in [0, 1], from the clipped share of the
    picture (:func:`_clipped_share`): 1 where nothing is clipped, falling to 0 as the cell or its 5x5 neighbourhood
    clips (:data:`CLIPPED_DISTRUST`). A cell's reading is its mean minus its neighbourhood's, so a contrast boost
    that clips a dark neighbour shifts it by part of a step even when the cell itself is untouched."""
    share = cell_means(clipped, rows, cols)
    around = cv2.blur(share, (5, 5), borderType=cv2.BORDER_REFLECT_101)
    return np.clip(1.0 - CLIPPED_DISTRUST * np.maximum(share, around), 0.0, 1.0)


class WatermarkDetector:
    """Accumulates soft coded-bit decisions over frames (``add``) and decodes the payload (``result``).

    The frame may have been rescaled, mirrored, letterboxed, or had its brightness or contrast changed since it was
    marked, so every reading is kept apart by the hypothesis it makes: the grid (any of :data:`GRID_COLUMNS`, at
    the two row counts its aspect ratio lies between), mirrored or not, the picture inside bars or the whole frame,
    and the contrast gain (:data:`GAINS`). When none decodes and ``search_crops`` is on, four of the frames are
    searched for the grid of a cropped copy (:mod:`realtime.watermark.crops`; about 0.1-0.3 s per file on a 2-core
    CPU). Each reading is Viterbi-decoded (:mod:`realtime.watermark.coding`) and counts only when its marker and
    CRC check out: 32 check bits against a few hundred readings tried, about 1 in ten million false detections per
    file."""

    def __init__(self, step: float = STEP, search_crops: bool = True) -> None:
        self.step = step
        self.search_crops = search_crops
        # per hypothesis (view, rows, cols, mirrored, votes weighted by trust): votes' per-bit means [gains, bits]
        self._soft_sums: dict[tuple[object, ...], np.ndarray] = {}
        self._trust_sums: dict[tuple[object, ...], np.ndarray] = {}  # the trust's per-bit means [bits]
        self._own: tuple[object, ...] | None = None  # the hypothesis "nothing happened to the first frame"
        self.frames = 0
        self._inverse_steps = (1.0 / (np.array(GAINS) * step))[:, None].astype(np.float32)
        self._kept: list[np.ndarray] = []  # a few frames' lumas, for the crop search

    def _fold(self, view: str, luma: np.ndarray, clipped: np.ndarray, width: int) -> None:
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
                trust = _trust(clipped, r, cols)
                carrier = carrier_for(r, cols)
                for mirrored in (False, True):
                    values = readings(highpass(cells[:, ::-1] if mirrored else cells), carrier).ravel()
                    phase = values[None, :] * self._inverse_steps - DITHER
                    votes = np.cos(2 * np.pi * phase)
                    weights = (trust[:, ::-1] if mirrored else trust).ravel()
                    plain, trusted = (view, r, cols, mirrored, False), (view, r, cols, mirrored, True)
                    self._soft_sums[plain] = self._soft_sums.get(plain, 0.0) + carrier.bit_means(votes)
                    self._soft_sums[trusted] = self._soft_sums.get(trusted, 0.0) + carrier.bit_means(votes * weights)
                    self._trust_sums[trusted] = self._trust_sums.get(trusted, 0.0) + carrier.bit_means(weights)

    def add(self, frame: np.ndarray) -> None:
        """Fold in one RGB uint8 frame [H,W,3] under every hypothesis (see the class)."""
        h, w = frame.shape[:2]
        if self._own is None:
            self._own = ("frame", *grid_shape(h, w), False, False)
        luma = to_luma(frame)
        if (
            self.frames % SEARCH_EVERY == 0
            and len(self._kept) < SEARCH_FRAMES
            and luma.shape == (self._kept[0].shape if self._kept else luma.shape)
        ):
            self._kept.append(luma)
        clipped = _clipped_share(frame, luma.shape)
        self._fold("frame", luma, clipped, w)
        box = content_box(luma)
        if box is not None:
            top, bottom, left, right = box
            inside = np.s_[top:bottom, left:right]
            self._fold("inside bars", luma[inside], clipped[inside], w * (right - left) // luma.shape[1])
        self.frames += 1

    def result(self) -> Detection:
        """Marked when some hypothesis decodes a valid payload (the best such reading); otherwise the reading of
        the unchanged frame (its own grid, gain 1), so an unmarked file's confidence is one chance agreement, not
        the best of the many hypotheses tried (a maximum over chance readings would sit well above zero)."""
        unity = GAINS.index(1.0)
        own = Detection(False, None, 0.0, self.frames)
        tried: list[tuple[np.ndarray, float]] = []  # (soft coded-bit sums, agreement) of every reading worth decoding
        for key, soft_sum in self._soft_sums.items():
            soft = soft_sum / max(self.frames, 1)  # [gains, coded bits]
            trusted = self._trust_sums[key][:KNOWN_CODED_BITS].mean() / max(self.frames, 1) if key[-1] else 1.0
            agreement = known_agreement(soft) / max(trusted, 1e-3)  # over the votes that count
            if key == self._own:
                own = Detection(False, None, max(0.0, float(agreement[unity])), self.frames)
            count = carrier_for(int(key[1]), int(key[2])).count  # type: ignore[call-overload]
            tried += [(soft[g] * count, float(agreement[g])) for g in np.flatnonzero(agreement >= DECODE_AGREEMENT)]
        found = _best_decoded(tried)
        if found is not None:
            return Detection(True, found[0], found[1], self.frames)
        return self._search_crops() or own

    def _search_crops(self) -> Detection | None:
        """The mark of a cropped copy (see :mod:`realtime.watermark.crops`), from the frames kept; None when no
        place and mapping of the grid decodes."""
        if not self._kept or not self.search_crops:
            return None
        integrals = [cv2.integral(luma.astype(np.float64)) for luma in self._kept]
        places = locate_grids(self._kept, integrals, self.step)
        readings = [read_cropped(integrals, place, self.step) for place in places]
        found = _best_decoded([(r.sums, r.agreement) for r in readings if r.agreement >= DECODE_AGREEMENT])
        if found is None:
            return None
        return Detection(True, found[0], found[1], self.frames, cropped=True)


def _best_decoded(readings: list[tuple[np.ndarray, float]]) -> tuple[int, float] | None:
    """(user id, agreement) of the reading with the highest agreement among those whose soft coded-bit sums
    [CODED_BITS] Viterbi-decode to a valid payload (marker and CRC: 32 check bits, so each reading tried is a
    2**-32 chance of a false match), or None. All are decoded in one batch."""
    if not readings:
        return None
    ids = [decode_payload(bits) for bits in viterbi_decode(np.stack([sums for sums, _ in readings]))]
    valid = [(agreement, user_id) for (_, agreement), user_id in zip(readings, ids, strict=True) if user_id is not None]
    if not valid:
        return None
    agreement, user_id = max(valid)
    return user_id, agreement
