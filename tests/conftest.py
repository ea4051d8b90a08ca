"""Shared fixtures. Random inputs are fresh every session; the seed is printed and REALTIME_TEST_SEED replays it."""

from __future__ import annotations

import os
import random
import zlib

import pytest
import torch

SESSION_SEED = int(os.environ.get("REALTIME_TEST_SEED", random.SystemRandom().randrange(2**31)))


def _seed_line() -> str:
    return f"realtime: random seed {SESSION_SEED} (replay with REALTIME_TEST_SEED={SESSION_SEED})"


def pytest_report_header(config: pytest.Config) -> str:
    return _seed_line()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """Repeat the seed at the end, where `pytest -q` (which hides the header) still shows it."""
    terminalreporter.write_line(_seed_line())


def _case_seed(request: pytest.FixtureRequest) -> int:
    """The session seed combined with the test's id (crc32: stable across processes, unlike ``hash``)."""
    return (SESSION_SEED + zlib.crc32(request.node.nodeid.encode())) % 2**63


@pytest.fixture(autouse=True)
def _seed_torch(request: pytest.FixtureRequest) -> None:
    """Seed torch's global generator per test, so weight initialisation replays with the session seed too."""
    torch.manual_seed(_case_seed(request))


@pytest.fixture
def gen(request: pytest.FixtureRequest) -> torch.Generator:
    """A generator seeded from the session seed and the test's id, so each case draws different data."""
    return torch.Generator().manual_seed(_case_seed(request))


def devices() -> list[str]:
    """CPU always; CUDA when a GPU is visible and the extension was built with CUDA kernels."""
    from realtime.ops import build_info

    out = ["cpu"]
    if torch.cuda.is_available() and build_info().get("cuda"):
        out.append("cuda")
    return out
