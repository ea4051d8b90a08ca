"""Measurements the end-to-end tests judge swaps by, independent of the backend under test (dlib's descriptor)."""

from __future__ import annotations

import numpy as np

from realtime.faces.dlib_backend import DlibAnalyzer

# How much closer (dlib descriptor distance) a swapped face must come to the source. A re-encode with the mark moves
# it by at most ~0.02 (either way) on the test clips; the classic swap moves it by ~0.2 and more.
IDENTITY_MARGIN = 0.1


def identity_shift(analyzer: DlibAnalyzer, source: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
    """How much closer to ``source``'s face (dlib descriptor distance) the most confident face of ``after`` is than
    that of ``before`` (RGB uint8 images): positive when the identity moved toward the source."""

    def describe(image: np.ndarray) -> np.ndarray:
        return analyzer.embed(image, max(analyzer.detect(image), key=lambda f: f.score))

    reference = describe(source)
    return analyzer.distance(describe(before), reference) - analyzer.distance(describe(after), reference)
