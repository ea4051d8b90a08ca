"""Temporal smoothing of landmarks: the One-Euro filter (Casiez, Roussel & Vogel, CHI 2012).

Why One-Euro rather than a Kalman filter: face landmarks jitter by a pixel or two when the head is still and move
tens of pixels per frame when it turns. A One-Euro filter is a low-pass filter whose cutoff rises with the
(filtered) speed, so a still face is smoothed hard (no jitter) while fast motion passes with little lag; it has two
intuitive knobs (``min_cutoff`` for jitter, ``beta`` for lag) and no motion model to tune, unlike a Kalman filter
whose constant-velocity model overshoots when a head stops.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OneEuroFilter"]


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any fixed shape (e.g. [68,2] landmarks), one filter per element.

    Args:
        min_cutoff: cutoff frequency in Hz when still (lower: smoother, more lag on slow motion). 0 disables smoothing.
        beta: how fast the cutoff rises with speed (higher: less lag on fast motion).
        d_cutoff: cutoff in Hz for the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if min_cutoff < 0 or beta < 0 or d_cutoff <= 0:
            raise ValueError("OneEuroFilter: min_cutoff and beta must be >= 0 and d_cutoff > 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        """Forget the history (e.g. at a scene cut): the next sample passes through unchanged."""
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` seconds (strictly increasing); returns float64 of x's shape."""
        x = np.asarray(x, dtype=np.float64)
        if self.min_cutoff == 0 or self._x is None or self._t is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0:
            return self._x.copy()
        dx = (x - self._x) / dt
        assert self._dx is not None
        a_d = _alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        tau = 1.0 / (2.0 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        x_hat = a * x + (1 - a) * self._x
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()
