"""Real faces that ship with installed packages: insightface's t1.jpg (six people) and skimage's astronaut."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def group_photo() -> np.ndarray:
    """RGB uint8 [886,1280,3]: six people (insightface/data/images/t1.jpg)."""
    import insightface

    path = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """RGB uint8 [512,512,3]: one face (skimage.data.astronaut)."""
    from skimage import data

    return data.astronaut()
