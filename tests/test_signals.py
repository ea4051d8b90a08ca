"""Ctrl-C, SIGTERM and SIGHUP end a run cleanly: one line, the documented exit status (130, 143, 129), no partial
file at the output path (realtime.swap) and a finished recording (realtime.webcam).

Ctrl-C goes to a real ``python -m realtime.swap`` process. SIGTERM and SIGHUP are sent to this test process while
the CLI's ``main`` runs in it (the handlers the CLI installs turn them into an exception in the main thread); a
guard handler catches a signal that would land after the CLI restored the previous handlers, so a slow machine
cannot kill the test run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.verify import verify_file
from tests.cli import call_main
from tests.conftest import SwappedClip
from tests.media import video_frames


def wait_for(pattern: str, folder: Path, timeout: float = 120.0) -> bool:
    """Wait until a file matching ``pattern`` exists in ``folder``; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(folder.glob(pattern)):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def signal_guard() -> Iterator[list[int]]:
    """Late signals (after the CLI returned) are recorded here instead of ending the test process."""
    late: list[int] = []
    names = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda signum, _frame: late.append(signum)) for sig in names}
    yield late
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def send_when(sig: signal.Signals, pattern: str, folder: Path, delay: float = 0.0) -> threading.Thread:
    """A thread that sends ``sig`` to this process once a file matching ``pattern`` appears in ``folder``."""

    def run() -> None:
        if wait_for(pattern, folder):
            time.sleep(delay)
            os.kill(os.getpid(), sig)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_ctrl_c_leaves_no_output(swapped_clip: SwappedClip, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtime.swap", str(swapped_clip.clip), str(out), "--source", str(swapped_clip.source)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert wait_for(".out.*partial*", tmp_path) or proc.poll() is not None
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, f"the swap ended before the signal came, or did not stop: {stderr}"
    assert stderr.strip().splitlines()[-1] == "python -m realtime.swap: interrupted; no output written"
    assert "Traceback" not in stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_end_a_swap_like_ctrl_c(
    swapped_clip: SwappedClip, tmp_path: Path, signal_guard: list[int], sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "out.mp4"
    sender = send_when(sig, ".out.*partial*", tmp_path)
    result = call_main("realtime.swap", swapped_clip.clip, out, "--source", swapped_clip.source)
    sender.join(timeout=10)
    assert not signal_guard, "the swap finished before the signal came; the test needs a longer clip"
    assert result.returncode == code, result.stderr
    assert result.error_lines()[-1] == f"python -m realtime.swap: terminated by {sig.name}; no output written"
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


@pytest.mark.slow
def test_sigterm_ends_a_live_session_with_its_recording_finished(
    swapped_clip: SwappedClip, tmp_path: Path, signal_guard: list[int]
) -> None:
    record = tmp_path / "session.mp4"
    sender = send_when(signal.SIGTERM, ".session.*partial*", tmp_path, delay=1.0)
    result = call_main("realtime.webcam", "--source", swapped_clip.source, "--input", swapped_clip.clip, "--sink",
                       "null", "--record", record, "--quiet")  # fmt: skip
    sender.join(timeout=10)
    assert not signal_guard, "the session ended before the signal came"
    assert result.returncode == 143, result.stderr
    (line,) = result.error_lines()
    assert line.startswith("python -m realtime.webcam: ") and "terminated by SIGTERM" in line
    assert line.endswith(f"recording kept: {record}")
    frames = video_frames(record)  # a complete, readable file with what was shown
    assert 10 <= len(frames) < 90 and verify_file(record).marked
    assert not list(tmp_path.glob(".session.*"))
