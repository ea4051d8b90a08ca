"""realtime.faces.smoothing.OneEuroFilter: removes jitter when still, follows fast motion with little lag."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.faces.smoothing import OneEuroFilter

FPS = 30.0


def test_still_jitter_is_removed() -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    truth = rng.uniform(100, 400, (68, 2))
    raw = [truth + rng.normal(0, 1.5, truth.shape) for _ in range(120)]
    out = [f(x, i / FPS) for i, x in enumerate(raw)]
    raw_jitter = np.std(np.diff(np.stack(raw[30:]), axis=0))
    out_jitter = np.std(np.diff(np.stack(out[30:]), axis=0))
    assert out_jitter < raw_jitter / 4, (raw_jitter, out_jitter)


def test_fast_motion_has_small_lag() -> None:
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    speed = 20.0  # pixels per frame: a fast head turn
    lags = []
    for i in range(60):
        x = np.array([[100.0 + speed * i, 50.0]])
        lags.append(abs(f(x, i / FPS)[0, 0] - x[0, 0]))
    assert max(lags[20:]) < 2 * speed, lags[20:]
    slow = OneEuroFilter(min_cutoff=1.0, beta=0.0)  # no speed adaptation: lags much more
    slow_lag = [
        abs(slow(np.array([[100.0 + speed * i, 50.0]]), i / FPS)[0, 0] - (100.0 + speed * i)) for i in range(60)
    ]
    assert max(lags[20:]) < max(slow_lag[20:]) / 3


def test_reset_and_disable() -> None:
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    f.reset()
    assert np.array_equal(f(np.full(3, 7.0), 1.0), np.full(3, 7.0))
    off = OneEuroFilter(min_cutoff=0.0)
    off(np.zeros(2), 0.0)
    assert np.array_equal(off(np.ones(2), 0.1), np.ones(2))
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=-1)
