"""Where the mark lives: the grid of cells a frame carries, the public key's layout of bits over it, and the
readings (high-passed cell means) both the embedder and the detector take."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from realtime.watermark.payload import PAYLOAD_BITS

__all__ = [
    "DITHER",
    "GRID_COLUMNS",
    "KEY",
    "STEP",
    "Carrier",
    "carrier_for",
    "cell_means",
    "cell_response",
    "grid_shape",
    "highpass",
    "readings",
    "smooth_field",
    "to_luma",
]

GRID_COLUMNS = (48, 32, 24, 16)  # the grids a frame may use, finest first (see grid_shape)
KEY = 0x7E57AB1E  # public carrier key
# every cell's lattice offset, in steps: a quarter puts a flat cell (reading 0) exactly between a 0-point and a
# 1-point, so plain walls vote for neither bit, and it makes "how close is each reading to the half-step lattice"
# the same test for every cell, so the grid of a cropped copy can be found without knowing which cell is which
DITHER = 0.25
STEP = 6.5  # lattice step in grey levels of a cell reading: the mark's strength (PSNR 38-40.5 dB on package pictures)


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid for a frame: cells at least 40 px wide, so that a copy at half the size still
    has cells of 20 px (H.264 at crf 28 wipes out finer patterns): 48 columns from 1920 px wide, 32 from 1280,
    24 from 960, 16 below; rows by aspect ratio (at least a quarter of the columns)."""
    cols = next(c for c, min_width in zip(GRID_COLUMNS, (1920, 1280, 960, 0), strict=True) if width >= min_width)
    return max(cols // 4, round(cols * height / width)), cols


@dataclass(frozen=True)
class Carrier:
    """The public key's layout for one grid: each cell's chip (float32 [rows,cols] of +-1) and payload bit (int64
    [rows,cols], each bit on about the same number of cells, spread pseudo-randomly). ``order`` (flat cell indices
    sorted by bit), ``starts`` and ``count`` (per bit) turn cell readings into per-bit means in one pass."""

    chips: np.ndarray
    bit: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    count: np.ndarray

    def bit_means(self, cell_values: np.ndarray) -> np.ndarray:
        """Per-bit means [..., 64] of cell values [..., rows*cols] (flat, in grid order)."""
        return np.add.reduceat(cell_values[..., self.order], self.starts, axis=-1) / self.count


@lru_cache(maxsize=64)
def carrier_for(rows: int, cols: int) -> Carrier:
    """The :class:`Carrier` of a rows x cols grid (the same for everyone: it is drawn from the public key)."""
    rng = np.random.default_rng([KEY, rows, cols])
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=(rows, cols))
    bit = (rng.permutation(rows * cols) % PAYLOAD_BITS).reshape(rows, cols)
    order = np.argsort(bit.ravel(), kind="stable")
    count = np.bincount(bit.ravel(), minlength=PAYLOAD_BITS)
    starts = np.concatenate([[0], np.cumsum(count)[:-1]])
    return Carrier(chips, bit, order, starts, count.astype(np.float64))


ANALYSIS_WIDTH = 384  # at least 8 pixels per cell of the finest grid


def to_luma(frame: np.ndarray) -> np.ndarray:
    """Luma (BT.601, 0-255) of an RGB uint8 frame, halved (2x2 means) while at least twice ``ANALYSIS_WIDTH`` wide:
    cell means barely change, and halving is ~30x cheaper than an area resize by an arbitrary factor.
    float32 [h, w]."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    while grey.shape[1] >= 2 * ANALYSIS_WIDTH:
        h, w = grey.shape
        grey = cv2.resize(grey[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return grey.astype(np.float32)


def cell_means(luma: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Mean of each grid cell: float32 [rows, cols]."""
    return cv2.resize(luma, (cols, rows), interpolation=cv2.INTER_AREA)


def highpass(cells: np.ndarray) -> np.ndarray:
    """Cells minus their 5x5 neighbourhood mean: removes brightness offsets and smooth gradients (lighting), keeps
    most of each cell's own value (a 3x3 mean would take a ninth of it, and more of the upsampling's spill)."""
    return cells - cv2.blur(cells, (5, 5), borderType=cv2.BORDER_REFLECT_101)


def readings(hp: np.ndarray, carrier: Carrier) -> np.ndarray:
    """Each cell's reading: chip x high-passed cell mean, float32 [rows, cols] (grey levels)."""
    return carrier.chips * hp


def smooth_field(pattern: np.ndarray, height: int, width: int) -> np.ndarray:
    """The per-pixel offsets float32 [height, width] for per-cell amplitudes [rows, cols]: a bicubic upsampling,
    round soft blobs without edges. Against a bilinear one the cell means (what the detector reads) keep 69% of an
    amplitude instead of 52% (after the high-pass), so the same mark costs 40% less squared error; flat-topped
    cells would keep 73% but show as a grid of squares on a plain wall."""
    return cv2.resize(pattern, (width, height), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=16)
def cell_response(height: int, width: int) -> np.ndarray:
    """float32 [5,5]: what the detector's cell means see of a unit amplitude in one cell after the bilinear upsample
    to this frame size (the cell keeps most, its neighbours get the rest)."""
    rows, cols = grid_shape(height, width)
    impulse = np.zeros((rows, cols), np.float32)
    impulse[rows // 2, cols // 2] = 64.0
    field = smooth_field(impulse, height, width)
    seen = cv2.resize(field, (cols, rows), interpolation=cv2.INTER_AREA) / 64.0
    return np.ascontiguousarray(seen[rows // 2 - 2 : rows // 2 + 3, cols // 2 - 2 : cols // 2 + 3])
