"""A tiny training setup shared by the training tests: identity photos of the package faces, prepared into aligned
crops with landmarks, a random-weight, narrow ArcFace r18, and the options of a tiny generator and discriminator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.models.arcface import ARCFACE_ARCHS, IResNet
from tests.cli import CliResult, call_main
from training.cleaning import CleaningRules
from training.prepare import prepare
from training.sample_data import write_identity_photos

# width 8, two identity blocks, a width-8 two-scale discriminator, batch 4: a fraction of a second per step here
TINY = ("--width", "8", "--id-blocks", "2", "--d-width", "8", "--batch", "4", "--workers", "0", "--quiet")


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_identity_photos(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="session")
def dataset(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    # no roll limit: one of the seven tilts her head ~35 degrees, and training needs two crops of everyone
    counts = prepare(photos, root, DlibAnalyzer(), rules=CleaningRules(max_roll=0), quiet=True)
    assert counts["written"] == 21, counts
    return root


@pytest.fixture(scope="session")
def arcface(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arcface") / "backbone.pth"
    torch.manual_seed(0)
    # an r18 at a quarter of the published width: the same loader and architecture, ~16x cheaper per step
    torch.save(IResNet(ARCFACE_ARCHS["r18"], width=16).state_dict(), path)
    return path


def train(dataset: Path, arcface: Path, out: Path, *extra: object) -> CliResult:
    """training.train's main on the tiny setup, in this process (torchrun runs the real entry point); asserts
    success."""
    result = call_main("training.train", "--data", dataset, "--identity-model", arcface, "--out", out, *TINY, *extra)
    assert result.returncode == 0, result.stderr
    return result
