"""The invisible provenance mark every output carries: a 64-bit payload (a fixed 24-bit synthetic-media marker, a
32-bit user id and a CRC-8) in the luma of each frame. It survives H.264 at crf 28, downscaling and chroma
subsampling; its cost per frame and PSNR are measured by ``bench/watermark.py`` (``bench/results/watermark-*.json``).

How it works (spread-transform dither modulation in a deep Haar low band):

- The frame is divided into a grid of cells fixed *relative to the frame* (48, 32 or 24 columns by width, rows by
  aspect ratio), so a rescaled copy has the same grid, or one the detector also tries. A cell's mean luma is the
  frame's Haar low band at that scale. invisible-watermark's ``dwtDct`` embeds in a low band too, but a much finer
  one (one DWT level, 4x4 DCT blocks), which H.264 quantises away at crf 23.
- Cell means pass a 5x5 cell-level high-pass (so brightness offsets and lighting gradients do not matter); each
  cell is assigned to one payload bit by a fixed pseudo-random permutation and gets a pseudo-random chip (+1/-1).
  A bit's *projection* is the mean of chip x high-passed cell over its cells, spread over the whole frame.
- Embedding moves each projection to the nearest point of its bit's lattice: multiples of ``step`` for a 0, shifted
  by half a step for a 1 (plus a fixed per-bit dither). Because the target depends on where the picture already
  is, the picture never masks a bit (plain spread spectrum fails on still footage for exactly that reason). The
  change is a smooth field (cell amplitudes upsampled bilinearly, a few refinement passes cancel the spill between
  cells), added equally to R, G and B, i.e. to luma only.
- The detector reads each projection as a soft decision (+1 on a 0-lattice point, -1 on a 1-point) and averages
  the soft decisions over the frames it is given: H.264 at crf 28 takes ~40% of the mark and adds noise, so single
  frames may misread bits that a 2-second window reads correctly.

The trade-off: ``step`` (6 grey levels) sets both visibility (per-cell amplitude up to ~step/2/0.52, PSNR ~40 dB)
and robustness (a quarter step of noise per frame). The key is public: anyone can read the mark, and a determined
adversary can remove it; it is a provenance signal, not a security feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    "MARKER",
    "PAYLOAD_BITS",
    "Detection",
    "WatermarkDetector",
    "Watermarker",
    "decode_payload",
    "embed_compat",
    "encode_payload",
    "grid_shape",
    "payload_bytes",
    "read_compat",
]

MARKER = 0x5A16C7  # 24 bits that say "synthetic media made by realtime"
MARKER_BITS, ID_BITS, CRC_BITS = 24, 32, 8
PAYLOAD_BITS = MARKER_BITS + ID_BITS + CRC_BITS
GRID_COLUMNS = (48, 32, 24)  # the grids a frame may use, finest first (see grid_shape)
KEY = 0x7E57AB1E  # public carrier key


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode_payload(user_id: int = 0) -> np.ndarray:
    """The 64 payload bits (bool [64], most significant first): marker, ``user_id`` (0 <= id < 2**32), CRC-8."""
    if not 0 <= user_id < 2**ID_BITS:
        raise ValueError(f"watermark id must be in [0, 2**32), got {user_id}")
    head = (MARKER << ID_BITS) | user_id
    word = (head << CRC_BITS) | _crc8(head.to_bytes(7, "big"))
    return np.array([(word >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=bool)


def decode_payload(bits: np.ndarray) -> int | None:
    """The user id in 64 decoded bits, or None unless both the marker and the CRC match."""
    word = int("".join("1" if b else "0" for b in np.asarray(bits, dtype=bool)), 2)
    head, crc = word >> CRC_BITS, word & 0xFF
    if head >> ID_BITS != MARKER or _crc8(head.to_bytes(7, "big")) != crc:
        return None
    return head & (2**ID_BITS - 1)


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid for a frame: cells of at least ~20 px (H.264 at crf 28 wipes out finer
    patterns), so 48 columns from 960 px wide, 32 from 560, 24 below; rows by aspect ratio (at least a quarter of
    the columns)."""
    cols = next(c for c, min_width in zip(GRID_COLUMNS, (960, 560, 0), strict=True) if width >= min_width)
    return max(cols // 4, round(cols * height / width)), cols


@lru_cache(maxsize=64)
def _carrier(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(chips float32 [rows,cols] of +-1, bit index int64 [rows,cols], cells per bit float64 [64]) for a grid."""
    rng = np.random.default_rng([KEY, rows, cols])
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, cols))
    bit = (rng.permutation(rows * cols) % PAYLOAD_BITS).reshape(rows, cols)
    return chips, bit, np.bincount(bit.ravel(), minlength=PAYLOAD_BITS).astype(np.float64)


ANALYSIS_WIDTH = 384  # at least 8 pixels per cell of the finest grid


def _luma(frame: np.ndarray) -> np.ndarray:
    """Luma (BT.601, 0-255) of an RGB uint8 frame, halved (2x2 means) while at least twice ``ANALYSIS_WIDTH`` wide:
    cell means barely change, and halving is ~30x cheaper than an area resize by an arbitrary factor.
    float32 [h, w]."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    while grey.shape[1] >= 2 * ANALYSIS_WIDTH:
        h, w = grey.shape
        grey = cv2.resize(grey[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32)


def _cells(luma: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of each grid cell: float32 [rows, cols]."""
    return cv2.resize(luma, (cols, rows), interpolation=cv2.INTER_AREA)


def _highpass(cells: np.ndarray) -> np.ndarray:
    """Cells minus their 5x5 neighbourhood mean: removes brightness offsets and smooth gradients (lighting), keeps
    most of each cell's own value (a 3x3 mean would take a ninth of it, and more of the upsampling's spill)."""
    return cells - cv2.blur(cells, (5, 5), borderType=cv2.BORDER_REFLECT_101)


def _bit_projections(hp: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Per-bit mean of chip x high-passed cell: float64 [64]."""
    chips, bit, count = _carrier(rows, cols)
    return np.bincount(bit.ravel(), weights=(chips * hp).ravel(), minlength=PAYLOAD_BITS) / count


@lru_cache(maxsize=16)
def _response(height: int, width: int) -> np.ndarray:
    """float32 [5,5]: what the detector's cell means see of a unit amplitude in one cell after the bilinear upsample
    to this frame size (the cell keeps most, its neighbours get the rest)."""
    rows, cols = grid_shape(height, width)
    impulse = np.zeros((rows, cols), np.float32)
    impulse[rows // 2, cols // 2] = 64.0
    field = cv2.resize(impulse, (width, height), interpolation=cv2.INTER_LINEAR)
    seen = cv2.resize(field, (cols, rows), interpolation=cv2.INTER_AREA) / 64.0
    return np.ascontiguousarray(seen[rows // 2 - 2 : rows // 2 + 3, cols // 2 - 2 : cols // 2 + 3])


# per-bit lattice offsets in [0, 1) (in units of the step), so unmarked pictures decode to noise
_DITHER = np.random.default_rng([KEY, 1]).random(PAYLOAD_BITS)


# +1 where the marker has a 0 bit (read as a positive soft decision), -1 where it has a 1
_MARKER_SIGNS = np.where(encode_payload(0)[:MARKER_BITS], -1.0, 1.0)


def _soft_bits(projection: np.ndarray, step: float) -> np.ndarray:
    """Soft decisions [64] in [-1, 1]: +1 on a bit-0 lattice point, -1 on a bit-1 point (half a step away)."""
    return np.cos(2 * np.pi * (projection / step - _DITHER))


class Watermarker:
    """Embeds the payload for ``user_id`` into RGB uint8 frames.

    Each bit's projection (see the module notes) is moved to the nearest point of that bit's lattice: multiples of
    ``step`` grey levels for a 0, offset by half a step for a 1 (spread-transform dither modulation). The picture
    itself therefore never masks a bit, whatever it shows; decoding tolerates a quarter step of noise per frame.

    Args:
        user_id: 32-bit number carried with the marker (e.g. ``--watermark-id``).
        step: lattice step in grey levels of projection; per-cell amplitude is at most about ``step / 2 / 0.46``.
        refinements: extra passes that cancel the leakage between neighbouring cells of different bits.
    """

    def __init__(self, user_id: int = 0, step: float = 6.0, refinements: int = 2) -> None:
        self.user_id = user_id
        self.bits = encode_payload(user_id)
        self.step, self.refinements = step, refinements
        self._last: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None  # grid, host projections, lattice

    def pattern(self, frame: np.ndarray) -> np.ndarray:
        """The per-cell amplitudes (float32 [rows, cols], grey levels) this frame gets.

        Each bit goes to the nearest point of its lattice, except that on a still picture (a bit's projection within
        a twentieth of a step of the previous frame's) it stays on the previous frame's point while that is within
        0.55 of a step: a projection near the middle between two points would otherwise jump between them with
        sensor noise, and the mark would flicker by a whole step in those cells. The band is kept that narrow
        because the distance from the picture to its point is what re-encoding eats into: at 0.75 of a step the
        mark failed at crf 28 where the nearest point survives."""
        h, w = frame.shape[:2]
        rows, cols = grid_shape(h, w)
        chips, bit, _ = _carrier(rows, cols)
        host = _bit_projections(_highpass(_cells(_luma(frame), rows, cols)), rows, cols)
        offset = (_DITHER + 0.5 * self.bits) * self.step
        lattice = np.round((host - offset) / self.step)  # nearest point of each bit's lattice
        if self._last is not None and self._last[0] == (rows, cols):
            _, last_host, last_lattice = self._last
            stay = (np.abs(host - last_host) < 0.05 * self.step) & (
                np.abs(host - offset - last_lattice * self.step) <= 0.55 * self.step
            )
            lattice = np.where(stay, last_lattice, lattice)
        self._last = ((rows, cols), host, lattice)
        target = offset + lattice * self.step
        kernel = _response(h, w)
        gain = float(kernel[2, 2] - kernel.sum() / 25.0)  # own-cell response after the high-pass
        amplitude = (target - host) / gain
        pattern = chips * amplitude[bit]
        for _ in range(self.refinements):
            seen = _bit_projections(
                _highpass(cv2.filter2D(pattern, -1, kernel, borderType=cv2.BORDER_REFLECT_101)), rows, cols
            )
            amplitude = amplitude + (target - host - seen) / gain
            pattern = chips * amplitude[bit]
        return pattern.astype(np.float32)

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """A marked copy of an RGB uint8 frame [H,W,3] (H, W >= 16): the same offset is added to R, G and B."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"watermark needs an RGB uint8 frame [H,W,3], got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        field = cv2.resize(self.pattern(frame), (w, h), interpolation=cv2.INTER_LINEAR)
        raise_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.max(field, 0.0)), cv2.COLOR_GRAY2RGB)
        lower_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.min(field, 0.0)), cv2.COLOR_GRAY2RGB)
        out = cv2.add(frame, raise_by)
        return cv2.subtract(out, lower_by, dst=out)


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


class WatermarkDetector:
    """Accumulates soft bit decisions over frames (``add``) and reads the payload (``result``)."""

    def __init__(self, step: float = 6.0) -> None:
        self.step = step
        self._soft_sums: dict[tuple[int, int], np.ndarray] = {}
        self._own_grid: tuple[int, int] | None = None  # the grid the first frame's size itself uses
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        """Fold in one RGB uint8 frame [H,W,3]. Every grid a frame could have been marked with is tried (a copy
        rescaled across a width threshold changes grid), each at the row count its aspect ratio gives and one
        either side, since rounding the aspect ratio of a rescaled copy can land on a neighbour."""
        h, w = frame.shape[:2]
        self._own_grid = self._own_grid or grid_shape(h, w)
        luma = _luma(frame)
        for cols in GRID_COLUMNS:
            rows = max(cols // 4, round(cols * h / w))
            for r in (rows - 1, rows, rows + 1):
                projection = _bit_projections(_highpass(_cells(luma, r, cols)), r, cols)
                key = (r, cols)
                self._soft_sums[key] = self._soft_sums.get(key, 0.0) + _soft_bits(projection, self.step)
        self.frames += 1

    def result(self) -> Detection:
        """Marked when some grid decodes a valid payload (the best such reading); otherwise the reading of the grid
        the frames' own size uses, so an unmarked file's confidence is one chance agreement, not the best of the
        nine grids tried (a maximum over chance readings would sit well above zero)."""
        readings = {}
        for grid, soft_sum in self._soft_sums.items():
            soft = soft_sum / max(self.frames, 1)
            user_id = decode_payload(soft < 0)
            agreement = float(np.mean(soft[:MARKER_BITS] * _MARKER_SIGNS))
            readings[grid] = Detection(user_id is not None, user_id, max(0.0, agreement), self.frames)
        decoded = [r for r in readings.values() if r.marked]
        if decoded:
            return max(decoded, key=lambda r: r.confidence)
        return readings.get(self._own_grid or (0, 0), Detection(False, None, 0.0, self.frames))


# invisible-watermark's dwtDctSvd mark, for still images: readable by its own WatermarkDecoder("bytes", 64)
COMPAT_METHOD = "dwtDctSvd"  # its dwtDct variant misreads 2-14 of 64 bits on package images even before saving
COMPAT_MIN_SIDE = 256  # invisible-watermark needs at least this many pixels on each side


def embed_compat(image: np.ndarray, user_id: int = 0) -> np.ndarray:
    """The payload for ``user_id`` added with invisible-watermark's dwtDctSvd to an RGB uint8 image (sides >= 256;
    ValueError otherwise). Apply after :meth:`Watermarker.embed`: dwtDctSvd changes fine detail the robust mark
    ignores, the reverse is not true."""
    from imwatermark import WatermarkEncoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        raise ValueError(
            f"invisible-watermark needs an image of at least {COMPAT_MIN_SIDE}x{COMPAT_MIN_SIDE}, got {image.shape}"
        )
    encoder = WatermarkEncoder()
    encoder.set_watermark("bytes", payload_bytes(user_id))
    return cv2.cvtColor(encoder.encode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD), cv2.COLOR_BGR2RGB)


def read_compat(image: np.ndarray) -> int | None:
    """The user id in an image's dwtDctSvd mark (RGB uint8), or None when there is no valid one."""
    from imwatermark import WatermarkDecoder

    if min(image.shape[:2]) < COMPAT_MIN_SIDE:
        return None
    raw = WatermarkDecoder("bytes", PAYLOAD_BITS).decode(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), COMPAT_METHOD)
    return decode_payload(np.unpackbits(np.frombuffer(bytes(raw), np.uint8)).astype(bool))


def payload_bytes(user_id: int) -> bytes:
    """The 64 payload bits for ``user_id`` as 8 bytes (most significant first)."""
    return np.packbits(encode_payload(user_id)).tobytes()
