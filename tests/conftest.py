"""Shared fixtures. Random inputs are fresh every session; the seed is printed and REALTIME_TEST_SEED replays it.

Media and models that several test modules need are built once per session here: the dlib analyzer, a source
face, a 640x360 clip and its swap through the real ``python -m realtime.swap`` entry point.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.files import file_lock
from realtime.samples import ClipSpec, make_clip, write_source_face
from tests.cli import run_module

SESSION_SEED = int(os.environ.get("REALTIME_TEST_SEED", random.SystemRandom().randrange(2**31)))
os.environ["REALTIME_TEST_SEED"] = str(SESSION_SEED)  # pytest-xdist's workers (and CLIs tests start) draw the same


def _seed_line() -> str:
    return f"realtime: random seed {SESSION_SEED} (replay with REALTIME_TEST_SEED={SESSION_SEED})"


def pytest_report_header(config: pytest.Config) -> str:
    return _seed_line()


def pytest_configure(config: pytest.Config) -> None:
    """An empty model store for the whole session (and the CLIs it starts): auto selection must not pick up the
    models of whoever runs the tests."""
    os.environ["REALTIME_HOME"] = tempfile.mkdtemp(prefix="realtime_home_")


COMPILE_CHECK = pytest.StashKey[tuple[subprocess.Popen[bytes], Path]]()


def _start_compile_check(config: pytest.Config) -> None:
    out = Path(tempfile.mkdtemp(prefix="compile_check_")) / "result.json"
    cmd = [sys.executable, "-m", "tests.compile_check", str(out)]
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    config.stash[COMPILE_CHECK] = (job, out)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start tests/compile_check.py beside the suite when its test is selected (see that module). Under
    pytest-xdist every worker collects every test but runs only some, so there the test's fixture starts it."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if any(item.name == "test_compiled_generator_matches_eager" for item in session.items):
        _start_compile_check(session.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    job = session.config.stash.get(COMPILE_CHECK, None)
    if job is not None and job[0].poll() is None:
        job[0].kill()


@pytest.fixture
def compile_check(request: pytest.FixtureRequest) -> dict[str, float]:
    """tests/compile_check.py's result, waiting for it to finish (started here when it was not at collection)."""
    if COMPILE_CHECK not in request.config.stash:
        _start_compile_check(request.config)
    job, out = request.config.stash[COMPILE_CHECK]
    _, stderr = job.communicate(timeout=900)
    assert job.returncode == 0, stderr.decode()[-3000:]
    return json.loads(out.read_text())


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


@pytest.fixture(scope="session", autouse=True)
def _dlib_models_loaded_once() -> Iterator[None]:
    """dlib's models (0.8 s to load) loaded once for every analyzer this process makes: the CLIs that tests call in
    process (tests.cli.call_main) each build an analyzer, as a fresh ``python -m`` process would (those load their
    own). The models are only read after loading, so sharing them changes no result."""
    import functools

    from realtime.faces import dlib_backend

    original = dlib_backend._load_models
    dlib_backend._load_models = functools.cache(original)
    yield
    dlib_backend._load_models = original


@pytest.fixture(scope="session")
def dlib_analyzer() -> DlibAnalyzer:
    """The embedded dlib analyzer, loaded once (its models take ~1 s to load)."""
    return DlibAnalyzer()


# A clip with motion, a still stretch (1-2 s) and a lighting ramp (2-2.8 s), and the id its swap is marked with.
CLIP_SPEC = ClipSpec(width=640, height=360, seconds=3.0, still=(1.0, 2.0), light=(2.0, 2.8))
WATERMARK_ID = 0xC0FFEE


@dataclass(frozen=True)
class SwappedClip:
    """``clip`` (:data:`CLIP_SPEC`) swapped with ``source`` (a person of t1.jpg) into ``out`` by the real entry
    point with the defaults and ``--watermark-id WATERMARK_ID`` (shared by the session's workers: read them, never
    write them); ``root`` is a folder of this worker's for derived files."""

    root: Path
    clip: Path
    source: Path
    out: Path


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test session's temporary folder that every pytest-xdist worker sees (each worker's own sits in it): for
    what a session makes once and its workers share, under a :func:`~realtime.io.files.file_lock` there."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def swapped_clip(tmp_path_factory: pytest.TempPathFactory) -> SwappedClip:
    """Swapped once per session: pytest-xdist's workers share the clip and its swap (the first to need them makes
    them, under a lock: ~11 s each worker would spend again); ``root`` is this worker's own."""
    shared = session_folder(tmp_path_factory)
    made = shared / "swapped_clip"
    clip, source, out = made / "clip.mp4", made / "source.jpg", made / "out.mp4"
    with file_lock(shared / "swapped_clip.lock"):
        if not out.is_file():
            made.mkdir(exist_ok=True)
            make_clip(clip, CLIP_SPEC)
            write_source_face(source)
            args = (clip, out, "--source", source, "--watermark-id", hex(WATERMARK_ID), "--quiet")
            result = run_module("realtime.swap", *args)
            assert result.returncode == 0, result.stderr
    return SwappedClip(tmp_path_factory.mktemp("swapped_clip"), clip, source, out)


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 64 KiB tmpfs: writing more than that fails with ENOSPC, as on a full disk. Mounting needs
    root (or CAP_SYS_ADMIN); the test is skipped where that is not available."""
    folder = tmp_path / "full"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a small filesystem")
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)]
    mounted = subprocess.run(mount, capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()[:80]})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
