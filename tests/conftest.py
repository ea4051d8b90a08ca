"""Shared fixtures. Random inputs are fresh every session; the seed is printed and REALTIME_TEST_SEED replays it."""

from __future__ import annotations

import os
import random

import pytest
import torch

SESSION_SEED = int(os.environ.get("REALTIME_TEST_SEED", random.SystemRandom().randrange(2**31)))


def pytest_report_header(config: pytest.Config) -> str:
    return f"realtime: random seed {SESSION_SEED} (replay with REALTIME_TEST_SEED={SESSION_SEED})"


@pytest.fixture
def gen(request: pytest.FixtureRequest) -> torch.Generator:
    """A generator seeded from the session seed and the test's id, so each case draws different data."""
    g = torch.Generator().manual_seed((SESSION_SEED + hash(request.node.nodeid)) % 2**63)
    return g


def devices() -> list[str]:
    """CPU always; CUDA when a GPU is visible and the extension was built with CUDA kernels."""
    from realtime.ops import build_info

    out = ["cpu"]
    if torch.cuda.is_available() and build_info().get("cuda"):
        out.append("cuda")
    return out
