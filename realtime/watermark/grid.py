"""Where the mark lives: the grid of cells a frame carries, the public key's layout of bits over it, and the
readings (high-passed cell means) both the embedder and the detector take."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from realtime.watermark.coding import CODED_BITS

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

GRID_COLUMNS = (48, 32, 16)  # the grids a frame may use, finest first (see grid_shape)
KEY = 0x7E57AB1E  # public carrier key
# every cell's lattice offset, in steps: a quarter puts a flat cell (reading 0) exactly between a 0-point and a
# 1-point, so plain walls vote for neither bit, and it makes a cell's vote its chip times a function of its reading
# alone, so the grid of a cropped copy can be searched for before knowing which cell is which (see crops)
DITHER = 0.25
# lattice step in grey levels of a cell reading: the mark's strength (PSNR 38.5-40 dB on package pictures; 6.5 gave
# 39.6-40.4 dB but lost a 640x360 output's half-size copy at crf 30)
STEP = 7.2


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of the cell grid for a frame: 48 columns from 1920 px wide, 32 from 640, 16 below; rows by
    aspect ratio (at least a quarter of the columns). Cells are square on 16:9 frames (the crop search needs that)
    and 20-40 px wide from 640 px up, so a copy at half the size keeps cells of at least 10 px; a 640x360 output's
    20 px cells are what a 10% crop of it needs (enough whole cells remain for the code to decode)."""
    cols = next(c for c, min_width in zip(GRID_COLUMNS, (1920, 640, 0), strict=True) if width >= min_width)
    return max(cols // 4, round(cols * height / width)), cols


@dataclass(frozen=True)
class Carrier:
    """The public key's layout for one grid: each cell's chip (float32 [rows,cols] of +-1) and coded bit (int64
    [rows,cols] in [0, CODED_BITS)). ``count`` (float64 [CODED_BITS]) is how many cells carry each bit.

    The layout of a grid with ``cols`` columns is one endless table read row by row, cut after ``rows`` rows: every
    run of CODED_BITS cells carries each coded bit once, in a pseudo-random order (so a damaged patch of picture
    hits bits scattered along the code), and a grid's layout does not depend on its row count. That is what lets
    a cropped copy's cells be matched to the original grid without knowing how many rows it had."""

    chips: np.ndarray
    bit: np.ndarray
    count: np.ndarray
    order: np.ndarray  # flat cell indices sorted by bit
    present: np.ndarray  # the bits carried by at least one cell, ascending
    starts: np.ndarray  # where each present bit's cells start in ``order``

    def bit_means(self, cell_values: np.ndarray) -> np.ndarray:
        """Per-bit means [..., CODED_BITS] of cell values [..., rows*cols] (flat, in grid order); a bit on no cell
        reads 0."""
        means = np.zeros((*cell_values.shape[:-1], CODED_BITS), np.float64)
        sums = np.add.reduceat(cell_values[..., self.order], self.starts, axis=-1)
        means[..., self.present] = sums / self.count[self.present]
        return means


@lru_cache(maxsize=64)
def carrier_for(rows: int, cols: int) -> Carrier:
    """The :class:`Carrier` of a rows x cols grid (the same for everyone: it is drawn from the public key)."""
    cells = rows * cols
    chips, bits = [], []
    for block in range(-(-cells // CODED_BITS)):
        rng = np.random.default_rng([KEY, cols, block])
        chips.append(rng.choice(np.array([-1.0, 1.0], np.float32), size=CODED_BITS))
        bits.append(rng.permutation(CODED_BITS))
    chip = np.concatenate(chips)[:cells].reshape(rows, cols)
    bit = np.concatenate(bits)[:cells].reshape(rows, cols)
    count = np.bincount(bit.ravel(), minlength=CODED_BITS).astype(np.float64)
    present = np.flatnonzero(count)
    starts = np.concatenate([[0], np.cumsum(count[present])[:-1]]).astype(np.int64)
    return Carrier(chip, bit, count, np.argsort(bit.ravel(), kind="stable"), present, starts)


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
