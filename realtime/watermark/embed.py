"""Putting the mark into frames."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from realtime.watermark.coding import conv_encode
from realtime.watermark.device import add_field, cell_means_on_device
from realtime.watermark.grid import (
    DITHER,
    STEP,
    carrier_for,
    cell_means,
    cell_response,
    grid_shape,
    highpass,
    readings,
    smooth_field,
    to_luma,
)
from realtime.watermark.payload import encode_payload

__all__ = ["Watermarker"]


class Watermarker:
    """Embeds the payload for ``user_id`` into RGB uint8 frames.

    Each cell's reading (see the module notes) is moved to the nearest point of its bit's lattice: multiples of
    ``step`` grey levels for a 0, offset by half a step for a 1, plus the cell's dither (dither modulation). The
    picture itself therefore never masks a bit, whatever it shows; a vote survives up to a quarter step of noise.

    Args:
        user_id: 32-bit number carried with the marker (e.g. ``--watermark-id``).
        step: lattice step in grey levels of a cell reading; a cell's amplitude is at most about
            ``step / 2 / 0.69``.
        refinements: extra passes that cancel the leakage between neighbouring cells. One takes a cell's reading
            error from 0.13 to 0.09 of a step; a second gains little more and costs up to 1.6 dB of PSNR, as it
            pumps smooth amplitude the high-pass cannot see.
    """

    def __init__(self, user_id: int = 0, step: float = STEP, refinements: int = 1) -> None:
        self.user_id = user_id
        self.bits = conv_encode(encode_payload(user_id))  # what the cells carry
        self.step, self.refinements = step, refinements
        self._last: tuple[tuple[int, int], np.ndarray, np.ndarray] | None = None  # grid, host projections, lattice

    def pattern(self, frame: np.ndarray) -> np.ndarray:
        """The per-cell amplitudes (float32 [rows, cols], grey levels) this frame gets.

        Each cell's reading goes to the nearest point of its lattice, except that on a still picture (a reading
        within a twentieth of a step of the previous frame's) it stays on the previous frame's point while that is
        within 0.55 of a step: a reading near the middle between two points would otherwise jump between them with
        sensor noise, and the mark would flicker by a whole step in that cell. The band is kept that narrow because
        the distance from the picture to its point is what re-encoding eats into."""
        h, w = frame.shape[:2]
        rows, cols = grid_shape(h, w)
        return self.pattern_of_cells(cell_means(to_luma(frame), rows, cols), (h, w))

    def pattern_of_cells(self, cells: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """:meth:`pattern` from a frame's cell means (float32 [rows, cols], :func:`cell_means` of its
        :func:`to_luma`) and its (height, width)."""
        h, w = size
        rows, cols = cells.shape
        carrier = carrier_for(rows, cols)
        host = readings(highpass(cells), carrier)
        offset = (DITHER + 0.5 * self.bits[carrier.bit]) * self.step
        lattice = np.round((host - offset) / self.step)  # nearest point of each cell's lattice
        if self._last is not None and self._last[0] == (rows, cols):
            _, last_host, last_lattice = self._last
            stay = (np.abs(host - last_host) < 0.05 * self.step) & (
                np.abs(host - offset - last_lattice * self.step) <= 0.55 * self.step
            )
            lattice = np.where(stay, last_lattice, lattice)
        self._last = ((rows, cols), host, lattice)
        move = offset + lattice * self.step - host
        kernel = cell_response(h, w)
        gain = float(kernel[2, 2] - kernel.sum() / 25.0)  # own-cell response after the high-pass
        pattern = carrier.chips * move / gain
        for _ in range(self.refinements):  # cancel what each cell's change spills into its neighbours' readings
            seen = readings(highpass(cv2.filter2D(pattern, -1, kernel, borderType=cv2.BORDER_REFLECT_101)), carrier)
            pattern = pattern + carrier.chips * (move - seen) / gain
        return pattern.astype(np.float32)

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """A marked copy of an RGB uint8 frame [H,W,3] (H, W >= 16): the same offset is added to R, G and B."""
        _check_frame(frame.dtype == np.uint8, frame.ndim, frame.shape, frame.dtype)
        h, w = frame.shape[:2]
        field = smooth_field(self.pattern(frame), h, w)
        raise_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.max(field, 0.0)), cv2.COLOR_GRAY2RGB)
        lower_by = cv2.cvtColor(cv2.convertScaleAbs(cv2.min(field, 0.0)), cv2.COLOR_GRAY2RGB)
        out = cv2.add(frame, raise_by)
        return cv2.subtract(out, lower_by, dst=out)

    def embed_on_device(self, frame: torch.Tensor) -> None:
        """:meth:`embed` of an RGB uint8 frame tensor [H,W,3], in place on its device: the cell means come to the
        host and the cell amplitudes go back (rows x cols floats each way), the frame stays where it is."""
        _check_frame(frame.dtype == torch.uint8, frame.ndim, tuple(frame.shape), frame.dtype)
        h, w = frame.shape[:2]
        rows, cols = grid_shape(h, w)
        add_field(frame, self.pattern_of_cells(cell_means_on_device(frame, rows, cols), (h, w)))


def _check_frame(is_uint8: bool, ndim: int, shape: tuple[int, ...], dtype: object) -> None:
    if not is_uint8 or ndim != 3 or shape[2] != 3:
        raise ValueError(f"watermark needs an RGB uint8 frame [H,W,3], got {dtype} {shape}")
