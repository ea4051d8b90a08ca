"""Finding the mark in a cropped copy, where the grid no longer lines up with the frame.

A crop of up to :data:`MAX_CROP` of each side (perhaps rescaled afterwards) leaves the cells where they were in the
picture, but the frame now starts part-way into some cell and is narrower than the grid assumed. Two searches find
it again:

1. **Where the grid is.** With every cell's dither at a quarter step, a marked cell's high-passed mean sits on a
   half-step lattice whatever its bit, chip or position (:func:`_lattice_fit`). So the grid's pitch (the cell size,
   from the frame's width over the grid's columns up to 1.25 times that) and its phase can be scored without
   knowing which cell is which: :func:`locate_grids` scores every whole-pixel phase of each pitch in a central
   window, and refines the best few over the whole picture.
2. **Which cell is which.** For each place found, each count of rows the uncropped picture may have had, each
   number of hidden columns and rows on the left and top, and mirrored or not, the cells are read against the
   public layout; the marker's agreement picks the candidates the payload is decoded from.

Only cells whose 5x5 neighbourhood lies inside the copy are read (the high-pass of a cell at the new edge sees
picture the original did not have). Contrast gains are not searched here: a copy both cropped and re-contrasted
is not found.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.watermark.grid import DITHER, GRID_COLUMNS, STEP, carrier_for, highpass
from realtime.watermark.payload import PAYLOAD_BITS, marker_agreement

__all__ = ["MAX_CROP", "GridPlace", "locate_grids", "read_cropped"]

MAX_CROP = 0.10  # of each side
PLACES_KEPT = 4
WINDOW_CELLS = 12  # the coarse search reads the central 12 x 12 cells: a pitch 1% off drifts an eighth of a cell
COARSE_FRAMES = 2
MIN_CELL_PX = 6  # analysis pixels: smaller cells carry nothing after the copy's compression


@dataclass(frozen=True)
class GridPlace:
    """A grid of ``cols`` columns with cells ``pitch`` analysis pixels square, starting ``phase_x``, ``phase_y``
    pixels into the picture. ``score``: as :func:`locate_grids` returns it, the mean lattice fit over the frames
    searched (1: every cell on its lattice, about 0 for a wrong place or an unmarked picture); during the coarse
    search, how far the place stands above the other phases of its pitch (in standard deviations)."""

    cols: int
    pitch: float
    phase_x: float
    phase_y: float
    score: float


def _cell_means(integral: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Means of the cells between edges ``x`` [phases, nx+1] and ``y`` [phases, ny+1] (analysis pixels, rounded),
    from an integral image: float64 [phases, ny, nx]."""
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    corners = integral[yi[:, :, None], xi[:, None, :]]  # [phases, ny+1, nx+1]
    sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
    area = np.diff(yi, axis=1)[:, :, None] * np.diff(xi, axis=1)[:, None, :]
    return sums / np.maximum(area, 1)


def _interior_readings(cells: np.ndarray) -> np.ndarray:
    """High-passed cell means [phases, ny-4, nx-4] (the grid's :func:`highpass`) of cells [phases, ny, nx], for
    the cells whose 5x5 neighbourhood is whole."""
    return np.stack([highpass(c) for c in cells.astype(np.float32)])[:, 2:-2, 2:-2]


def _lattice_fit(readings: np.ndarray, step: float) -> np.ndarray:
    """How close each high-passed reading is to the half-step lattice, in [-1, 1]: a marked cell reads
    ``step * (DITHER + bit / 2 + k)`` times its chip, which scores 1 whatever its bit, chip or ``k``."""
    return np.cos(4 * np.pi * (np.abs(readings) / step - DITHER))


def _phase_scores(luma: np.ndarray, pitch: float, step: float) -> np.ndarray:
    """Lattice fit of a grid of ``pitch`` at every whole-pixel phase, from the central part of one analysis luma
    (at most :data:`WINDOW_CELLS` cells a side, so a pitch a little off still lines up there): float64 [k, k] for
    k = round(pitch), indexed [phase_y, phase_x]. Every pixel stands for the cell starting there: its box mean
    minus the mean of the 5x5 cells around it."""
    k = max(2, round(pitch))
    h, w = luma.shape
    side = WINDOW_CELLS * k
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    window = np.ascontiguousarray(luma[top : top + side, left : left + side])
    cell = cv2.boxFilter(window, -1, (k, k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    around = cv2.boxFilter(window, -1, (5 * k, 5 * k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
    rows, cols = window.shape[0] - 5 * k, window.shape[1] - 5 * k
    if rows < k or cols < k:
        return np.zeros((k, k))
    readings = cell[2 * k : 2 * k + rows, 2 * k : 2 * k + cols] - around[:rows, :cols]
    fit = _lattice_fit(readings, step)
    phase_y = ((np.arange(rows) + 2 * k + top) % pitch).astype(int) % k
    phase_x = ((np.arange(cols) + 2 * k + left) % pitch).astype(int) % k
    index = (phase_y[:, None] * k + phase_x[None, :]).ravel()
    sums = np.bincount(index, weights=fit.ravel(), minlength=k * k)
    return (sums / np.maximum(np.bincount(index, minlength=k * k), 1)).reshape(k, k)


def _pitch_count() -> int:
    """Steps of the coarse pitch search: each keeps the drift across the central window under an eighth of a cell."""
    return int(np.ceil(np.log(1 / (1 - 2 * MAX_CROP)) / (0.125 / WINDOW_CELLS)))


def locate_grids(lumas: list[np.ndarray], integrals: list[np.ndarray], step: float = STEP) -> list[GridPlace]:
    """The :data:`PLACES_KEPT` best-fitting grid places in analysis lumas (float32 [h, w], all one size; their
    ``cv2.integral`` images beside them), best first: every grid of :data:`GRID_COLUMNS`, pitches from the
    uncropped one to 1/(1 - 2 MAX_CROP) of it (:func:`_pitch_count` steps), every whole-pixel phase in the central
    window; the best few refined over the whole picture (:func:`_refine`)."""
    h, w = lumas[0].shape
    found: list[GridPlace] = []
    coarse = lumas[:COARSE_FRAMES]
    for cols in GRID_COLUMNS:
        base = w / cols
        if base < MIN_CELL_PX:
            continue
        for pitch in base * np.geomspace(1.0, 1 / (1 - 2 * MAX_CROP), _pitch_count() + 1):
            scores = sum(_phase_scores(luma, pitch, step) for luma in coarse) / len(coarse)
            py, px = np.unravel_index(int(np.argmax(scores)), scores.shape)
            # a true place is a sharp peak among the phases; a false one is the top of a smooth hill
            peak = (scores[py, px] - np.median(scores)) / (scores.std() + 1e-6)
            found.append(GridPlace(cols, float(pitch), float(px), float(py), float(peak)))
    best_places = sorted(found, key=lambda p: -p.score)[:PLACES_KEPT]
    return sorted((_refine(integrals, place, step, h, w) for place in best_places), key=lambda p: -p.score)


def _score(integrals: list[np.ndarray], x: np.ndarray, y: np.ndarray, step: float) -> np.ndarray:
    """Mean lattice fit [places] of cell edges x [places, nx+1], y [places, ny+1] over the frames."""
    score = np.zeros(len(x))
    for integral in integrals:
        score += _lattice_fit(_interior_readings(_cell_means(integral, x, y)), step).mean(axis=(1, 2))
    return score / len(integrals)


def _refine(integrals: list[np.ndarray], place: GridPlace, step: float, h: int, w: int) -> GridPlace:
    """``place`` to the pixel: phases within an eighth of a cell either way, the pitch within half a coarse step.
    The lattice fit is sharp (a cell edge one pixel off mixes in the neighbour's picture), and the coarse search
    saw only the central window with whole-pixel box sizes: it finds the place, this finds where it is exactly."""
    best = GridPlace(place.cols, place.pitch, place.phase_x, place.phase_y, -1.0)  # fits are in [-1, 1]
    shifts = np.linspace(-place.pitch / 8, place.pitch / 8, 7)
    half_step = (1 / (1 - 2 * MAX_CROP)) ** (1 / (2 * _pitch_count())) - 1  # half the coarse search's pitch step
    for pitch in place.pitch * (1 + np.linspace(-half_step, half_step, 9)):
        phases = [(px % pitch, py % pitch) for px in place.phase_x + shifts for py in place.phase_y + shifts]
        nx = int((w - max(p[0] for p in phases)) // pitch)
        ny = int((h - max(p[1] for p in phases)) // pitch)
        if nx < 7 or ny < 7:
            continue
        x = np.array([px + pitch * np.arange(nx + 1) for px, _ in phases])
        y = np.array([py + pitch * np.arange(ny + 1) for _, py in phases])
        score = _score(integrals, x, y, step)
        k = int(np.argmax(score))
        if score[k] > best.score:
            best = GridPlace(place.cols, float(pitch), float(x[k, 0]), float(y[k, 0]), float(score[k]))
    return best


@dataclass(frozen=True)
class CroppedReading:
    """Soft bit readings [64] (averaged over frames) for one way the copy's cells may map onto the original grid,
    and how well its marker bits agree."""

    soft: np.ndarray
    agreement: float


def read_cropped(integrals: list[np.ndarray], place: GridPlace, step: float = STEP) -> list[CroppedReading]:
    """Every reading of the copy's cells at ``place`` against the public layout: each row count the uncropped
    picture may have had, each count of hidden columns and rows on the left and top (up to :data:`MAX_CROP` of the
    grid, plus one), mirrored or not, from the frames' integral images. Sorted by marker agreement, best first."""
    h, w = integrals[0].shape[0] - 1, integrals[0].shape[1] - 1
    pitch = place.pitch
    nx, ny = int((w - place.phase_x) // pitch), int((h - place.phase_y) // pitch)
    x = place.phase_x + pitch * np.arange(nx + 1)[None, :]
    y = place.phase_y + pitch * np.arange(ny + 1)[None, :]
    readings = np.stack([_interior_readings(_cell_means(integral, x, y))[0] for integral in integrals])
    cols = place.cols
    hidden = int(np.ceil(MAX_CROP * cols)) + 1
    full_rows = h / pitch  # the copy's height in cells; the original had up to 1.25 times as many
    out = []
    for rows in range(max(int(np.floor(full_rows)), ny), int(np.ceil(full_rows / (1 - 2 * MAX_CROP))) + 1):
        carrier = carrier_for(rows, cols)
        for left in range(0, min(hidden, cols - nx) + 1):
            for top in range(0, min(int(np.ceil(MAX_CROP * rows)) + 1, rows - ny) + 1):
                for mirrored in (False, True):
                    r = np.arange(ny)[2:-2] + top
                    c = np.arange(nx)[2:-2] + left
                    c = cols - 1 - c if mirrored else c
                    chips = carrier.chips[np.ix_(r, c)]
                    bits = carrier.bit[np.ix_(r, c)].ravel()
                    votes = np.cos(2 * np.pi * (chips * readings / step - DITHER)).mean(axis=0).ravel()
                    count = np.bincount(bits, minlength=PAYLOAD_BITS)
                    soft = np.bincount(bits, weights=votes, minlength=PAYLOAD_BITS) / np.maximum(count, 1)
                    agreement = float(marker_agreement(soft))
                    out.append(CroppedReading(soft, agreement))
    return sorted(out, key=lambda reading: -reading.agreement)
