"""Finding the mark in a cropped copy, where the grid no longer lines up with the frame.

A crop of up to :data:`MAX_CROP` of each side (perhaps rescaled afterwards) leaves the cells where they were in the
picture, but the frame now starts part-way into some cell, is narrower than the grid assumed, and its first whole
cell is some cell of the original grid. The search finds all of that at once, with the payload's known part:

- **The chip factors out.** With every cell's dither at a quarter step, a cell's vote (as the detector reads it,
  ``cos(2 pi (chip r / step - 1/4))`` for its high-passed mean ``r``) equals ``chip * sin(2 pi r / step)``. So the
  map ``sin(2 pi r / step)`` of every possible cell (a box mean minus the mean of its 5x5-cell surround, at every
  pixel) can be taken once per cell size, before knowing where the grid is.
- **The marker is a template.** The coded bits the 24-bit marker fixes are known
  (:data:`~realtime.watermark.coding.KNOWN_CODED_BITS`, about a third of the cells), so each hypothesis (the grid's
  columns, its pitch, its phase, how many rows and columns are hidden above and to the left, and mirrored or not)
  predicts the sign of the map on those cells. For each pitch, the map (averaged over the frames) is sampled at
  phases a tenth of a cell apart and correlated with every template in one matrix product: the true hypothesis
  sums a third of all cells' votes coherently, any other sums noise (:func:`locate_grids`).
- The best few hypotheses are refined to a fraction of a pixel on exact cell means (integral images), and all of
  their cells are read (:func:`read_cropped`) for the Viterbi decoder.

Only cells whose 5x5 neighbourhood lies inside the copy are read (the high-pass of a cell at the new edge sees
picture the original did not have). Cells are taken to be square (grids of 16:9 frames are); contrast gains are not
searched here, so a copy both cropped and re-contrasted is not found.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from realtime.watermark.coding import CODED_BITS, KNOWN_CODED_BITS, KNOWN_SIGNS, known_agreement
from realtime.watermark.grid import DITHER, GRID_COLUMNS, STEP, carrier_for, highpass

__all__ = ["MAX_CROP", "CroppedReading", "GridPlace", "locate_grids", "read_cropped"]

MAX_CROP = 0.10  # of each side
PLACES_KEPT = 4
REFINED_KEPT = 3  # of each place
MIN_CELL_PX = 6  # analysis pixels: smaller cells carry nothing after the copy's compression
PITCH_DRIFT = 0.15  # of a cell: the most a pitch between two searched ones drifts from the centre to the edge
MIN_INTERIOR = 3  # rows and columns of whole-neighbourhood cells a copy needs before it is searched

Mapping = tuple[int, int, bool]  # (top, left, mirrored): see GridPlace
Templates = tuple[np.ndarray, list[Mapping]]

assert DITHER == 0.25, "the template search relies on votes being chip * sin(2 pi r / step)"


@dataclass(frozen=True)
class GridPlace:
    """Where a cropped copy's grid lies, in analysis pixels: cells ``pitch`` square, the first whole one starting at
    (``phase_x``, ``phase_y``), and which cell of the original grid of ``cols`` columns that is (``top``, ``left``:
    the rows above and columns to the left the copy lost, counted in the copy's own orientation, ``mirrored`` if it
    is a mirror image; the layout does not depend on the original's row count). ``score``: the template's
    agreement in standard deviations (up to about 5 for a wrong place among the many tried, well above for the
    right one)."""

    cols: int
    pitch: float
    phase_x: float
    phase_y: float
    top: int
    left: int
    mirrored: bool
    score: float


@dataclass(frozen=True)
class CroppedReading:
    """Soft coded-bit readings at one :class:`GridPlace`: ``sums`` (float64 [CODED_BITS], each bit's visible cells'
    votes averaged over frames and summed over cells; 0 for a bit no visible cell carries) and how well the coded
    bits the marker fixes agree (``agreement``, as :func:`~realtime.watermark.coding.known_agreement`)."""

    sums: np.ndarray
    agreement: float


@lru_cache(maxsize=64)
def _template(rows: int, cols: int, mirrored: bool) -> np.ndarray:
    """float32 [rows, cols]: the sign each cell's vote map takes on a marked picture (chip times the sign of its
    coded bit) where the marker fixes that bit, 0 where it does not."""
    carrier = carrier_for(rows, cols)
    known = np.where(carrier.bit < KNOWN_CODED_BITS, KNOWN_SIGNS[np.minimum(carrier.bit, KNOWN_CODED_BITS - 1)], 0.0)
    template = (carrier.chips * known).astype(np.float32)
    return np.ascontiguousarray(template[:, ::-1] if mirrored else template)


def _vote_map(lumas: list[np.ndarray], k: int, step: float) -> np.ndarray:
    """``sin(2 pi r / step)`` for the cell of side ``k`` starting at every pixel (y, x) with its 5x5-cell surround
    inside the picture, averaged over the analysis lumas: float32 [h - 5k + 1, w - 5k + 1], indexed (y - 2k, x - 2k)."""
    h, w = lumas[0].shape
    rows, cols = h - 5 * k + 1, w - 5 * k + 1
    total = np.zeros((rows, cols), np.float32)
    for luma in lumas:
        cell = cv2.boxFilter(luma, -1, (k, k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        around = cv2.boxFilter(luma, -1, (5 * k, 5 * k), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        reading = cell[2 * k : 2 * k + rows, 2 * k : 2 * k + cols] - around[:rows, :cols]
        total += np.sin((2 * np.pi / step) * reading)
    return total / len(lumas)


def _pitches(base: float, cells: int) -> np.ndarray:
    """Pitches from ``base`` (the uncropped grid's) to 1/(1 - 2 MAX_CROP) of it, spaced so that a grid ``cells``
    wide at a pitch halfway between two of them drifts at most :data:`PITCH_DRIFT` of a cell from its centre to
    its edge (the best phase lines the centre up)."""
    ratio = 1 + 4 * PITCH_DRIFT / max(cells, 1)
    count = int(np.ceil(np.log(1 / (1 - 2 * MAX_CROP)) / np.log(ratio))) + 1
    return base * np.geomspace(1.0, 1 / (1 - 2 * MAX_CROP), count)


def _templates(h: int, pitch: float, cols: int, first: int, shape: tuple[int, int]) -> Templates:
    """Every mapping of a copy ``h`` analysis pixels tall at ``pitch`` onto the original grid, and the template of
    each over the copy's sampled cells (``shape``: rows x columns of them, the first at copy cell (first, first)):
    (float32 [cells, mappings], [(top, left, mirrored)] per mapping). The original had up to 1/(1 - 2 MAX_CROP)
    times as many rows as the copy shows, and lost up to MAX_CROP of its rows above and of its columns to the left,
    plus the cell cut through."""
    tops = int(np.ceil(MAX_CROP * h / pitch / (1 - 2 * MAX_CROP))) + 2
    return _templates_for(tops, cols, first, shape)


@lru_cache(maxsize=256)
def _templates_for(tops: int, cols: int, first: int, shape: tuple[int, int]) -> Templates:
    """:func:`_templates` for up to ``tops`` rows lost above."""
    ny, nx = shape
    lefts = min(int(np.ceil(MAX_CROP * cols)) + 2, cols - first - nx + 1)
    if lefts <= 0:
        return np.zeros((ny * nx, 0), np.float32), []
    blocks = []
    for mirrored in (False, True):
        template = _template(first + ny + tops, cols, mirrored)
        windows = sliding_window_view(template[first:, first:], (ny, nx))
        blocks.append(windows[:tops, :lefts].reshape(tops * lefts, ny * nx))
    mappings = [(top, left, mirrored) for mirrored in (False, True) for top in range(tops) for left in range(lefts)]
    return np.ascontiguousarray(np.concatenate(blocks).T), mappings


def locate_grids(lumas: list[np.ndarray], integrals: list[np.ndarray], step: float = STEP) -> list[GridPlace]:
    """The likeliest grid places in analysis lumas (float32 [h, w], all one size; their ``cv2.integral`` images
    beside them), best first: every grid of :data:`GRID_COLUMNS` whose cells are at least :data:`MIN_CELL_PX`,
    every pitch from the uncropped one up (:func:`_pitches`), phases a tenth of a cell apart and every mapping onto
    the original grid (see the module notes) are scored; the :data:`PLACES_KEPT` best are refined
    (:func:`_refine`), :data:`REFINED_KEPT` kept near each."""
    h, w = lumas[0].shape
    found: list[GridPlace] = []
    for cols in GRID_COLUMNS:
        base = w / cols
        if base < MIN_CELL_PX:
            continue
        for pitch in _pitches(base, int(max(h, w) / base)):
            found += _coarse(lumas, float(pitch), cols, step)
    best = sorted(found, key=lambda p: -p.score)[:PLACES_KEPT]
    return sorted((near for place in best for near in _refine(integrals, place, step)), key=lambda p: -p.score)


def _coarse(lumas: list[np.ndarray], pitch: float, cols: int, step: float) -> list[GridPlace]:
    """The :data:`PLACES_KEPT` best (phase, mapping) pairs at one pitch of a grid of ``cols`` columns."""
    k = max(2, round(pitch))
    h, w = lumas[0].shape
    # copy cell i starts at round(phase + i * pitch); it is read when its 5x5 surround fits for every phase
    first = int(np.ceil(2 * k / pitch))
    last_y, last_x = int((h - 4 * k + 1) // pitch), int((w - 4 * k + 1) // pitch)
    if last_y - first + 1 < MIN_INTERIOR or last_x - first + 1 < MIN_INTERIOR:
        return []
    templates, mappings = _templates(h, pitch, cols, first, (last_y - first + 1, last_x - first + 1))
    if not mappings:
        return []
    votes = _vote_map(lumas, k, step)
    iy, ix = np.arange(first, last_y + 1), np.arange(first, last_x + 1)
    phases = np.arange(0, k, max(1, k // 10))  # a tenth of a cell apart: the refinement finds the pixel
    ys = np.clip(np.rint(phases[:, None] + iy[None, :] * pitch).astype(int) - 2 * k, 0, votes.shape[0] - 1)
    xs = np.clip(np.rint(phases[:, None] + ix[None, :] * pitch).astype(int) - 2 * k, 0, votes.shape[1] - 1)
    sampled = votes[ys[:, None, :, None], xs[None, :, None, :]].reshape(len(phases) ** 2, len(iy) * len(ix))
    scores = _standardised(sampled @ templates, np.count_nonzero(templates, axis=0), len(lumas))
    best = np.argpartition(scores, -PLACES_KEPT, axis=None)[-PLACES_KEPT:]
    places = []
    for flat in best:
        phase, which = np.unravel_index(int(flat), scores.shape)
        top, left, mirrored = mappings[which]
        py, px = phases[int(phase) // len(phases)], phases[int(phase) % len(phases)]
        places.append(GridPlace(cols, pitch, float(px), float(py), top, left, mirrored, float(scores.flat[flat])))
    return places


def _standardised(agreement: np.ndarray, known: np.ndarray | int, frames: int) -> np.ndarray:
    """Template agreement sums (over ``known`` template cells, votes averaged over ``frames``) in standard
    deviations of chance: a vote on unmarked picture has variance 1/2 per frame, so a sum is ~N(0, 1) by chance."""
    return agreement * np.sqrt(2 * frames / np.maximum(known, 1))


def _cell_means(integral: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Means of the cells between edges ``x`` [places, nx+1] and ``y`` [places, ny+1] (analysis pixels, rounded),
    from an integral image: float64 [places, ny, nx]."""
    xi, yi = np.rint(x).astype(int), np.rint(y).astype(int)
    corners = integral[yi[:, :, None], xi[:, None, :]]  # [places, ny+1, nx+1]
    sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
    area = np.diff(yi, axis=1)[:, :, None] * np.diff(xi, axis=1)[:, None, :]
    return sums / np.maximum(area, 1)


def _cell_votes(integrals: list[np.ndarray], x: np.ndarray, y: np.ndarray, step: float) -> np.ndarray:
    """``sin(2 pi r / step)`` of the high-passed means of the interior cells (5x5 neighbourhood whole) between
    edges ``x`` [places, nx+1] and ``y`` [places, ny+1], averaged over frames: float64 [places, ny-4, nx-4]."""
    total = 0.0
    for integral in integrals:
        cells = _cell_means(integral, x, y).astype(np.float32)
        readings = np.stack([highpass(c) for c in cells])[:, 2:-2, 2:-2]
        total = total + np.sin((2 * np.pi / step) * readings.astype(np.float64))
    return total / len(integrals)


def _edges(place: GridPlace, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The cell edges (x [nx+1], y [ny+1]) of every whole cell at ``place`` in an h x w picture."""
    nx = int((w - place.phase_x) // place.pitch)
    ny = int((h - place.phase_y) // place.pitch)
    return place.phase_x + place.pitch * np.arange(nx + 1), place.phase_y + place.pitch * np.arange(ny + 1)


def _mapped(place: GridPlace, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """The original grid's rows [ny-4] and columns [nx-4] of the interior cells of a copy ny x nx cells at
    ``place`` (in the original's own orientation; columns clipped to the grid)."""
    r = np.arange(2, ny - 2) + place.top
    c = np.arange(2, nx - 2) + place.left
    c = place.cols - 1 - c if place.mirrored else c
    return r, np.clip(c, 0, place.cols - 1)


def _refine(integrals: list[np.ndarray], place: GridPlace, step: float) -> list[GridPlace]:
    """The :data:`REFINED_KEPT` best places near ``place``, to a quarter pixel: phases within a pixel either way,
    the pitch within half a coarse step, scored by the template's agreement on exact cell means. The coarse search
    used whole-pixel boxes a tenth of a cell apart: it finds the place, this finds where it is exactly (a cell edge
    one pixel off mixes in the neighbour's picture). Several are kept because the score is noisy at this scale."""
    h, w = integrals[0].shape[0] - 1, integrals[0].shape[1] - 1
    half_step = PITCH_DRIFT / max(int(max(h, w) / place.pitch), 1)
    shifts = np.linspace(-1.0, 1.0, 9)
    found: list[GridPlace] = []
    phases = [(place.phase_x + dx, place.phase_y + dy) for dx in shifts for dy in shifts]
    phases = [(px, py) for px, py in phases if px >= 0 and py >= 0]
    for pitch in place.pitch * (1 + np.linspace(-half_step, half_step, 5)):
        trial = replace(place, pitch=float(pitch))
        nx = int((w - max(p[0] for p in phases)) // pitch)
        ny = int((h - max(p[1] for p in phases)) // pitch)
        if nx < 5 + MIN_INTERIOR - 1 or ny < 5 + MIN_INTERIOR - 1:
            continue
        x = np.array([px + pitch * np.arange(nx + 1) for px, _ in phases])
        y = np.array([py + pitch * np.arange(ny + 1) for _, py in phases])
        r, c = _mapped(trial, ny, nx)
        template = _template(int(r[-1]) + 1, place.cols, False)[np.ix_(r, c)]
        votes = _cell_votes(integrals, x, y, step)  # [phases, ny-4, nx-4]
        scores = _standardised((votes * template).sum(axis=(1, 2)), np.count_nonzero(template), len(integrals))
        found += [
            replace(trial, phase_x=px, phase_y=py, score=float(v)) for (px, py), v in zip(phases, scores, strict=True)
        ]
    return sorted(found, key=lambda p: -p.score)[:REFINED_KEPT]


def read_cropped(integrals: list[np.ndarray], place: GridPlace, step: float = STEP) -> CroppedReading:
    """Every interior cell of the copy at ``place`` read against the public layout, from the frames' integral
    images: each coded bit's votes summed over its cells."""
    h, w = integrals[0].shape[0] - 1, integrals[0].shape[1] - 1
    x, y = _edges(place, h, w)
    r, c = _mapped(place, len(y) - 1, len(x) - 1)
    carrier = carrier_for(int(r[-1]) + 1, place.cols)
    votes = (_cell_votes(integrals, x[None], y[None], step)[0] * carrier.chips[np.ix_(r, c)]).ravel()
    bits = carrier.bit[np.ix_(r, c)].ravel()
    count = np.bincount(bits, minlength=CODED_BITS)
    sums = np.bincount(bits, weights=votes, minlength=CODED_BITS)
    return CroppedReading(sums, float(known_agreement(sums / np.maximum(count, 1))))
