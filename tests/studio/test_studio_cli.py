"""``python -m realtime.studio``'s command line: help with examples, usage errors, a taken port, and the warning
for an address other than loopback. (Serving itself is tested in a browser: test_browser.py.)"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from realtime.studio.__main__ import is_local
from tests.cli import call_main
from tests.studio.conftest import free_port


def test_help_shows_examples() -> None:
    result = call_main("realtime.studio", "--help")
    assert result.returncode == 0
    assert "python -m realtime.studio --port 7870 --no-browser" in result.stdout
    assert "--max-upload-mb" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "0"], "--port must be in 1..65535"),
        (["--port", "70000"], "--port must be in 1..65535"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be > 0"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], says: str) -> None:
    result = call_main("realtime.studio", "--no-browser", *args)
    assert result.returncode == 2
    assert result.error_lines() == [f"python -m realtime.studio: error: {says}"]


def test_a_taken_port_is_one_line_and_a_network_address_is_warned_about() -> None:
    with socket.socket() as blocker:
        blocker.bind(("0.0.0.0", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = call_main("realtime.studio", "--no-browser", "--host", "0.0.0.0", "--port", port, "--quiet")
    assert result.returncode == 1
    lines = result.error_lines()
    assert lines[0].startswith("python -m realtime.studio: warning: serving on 0.0.0.0: anyone on the network")
    assert lines[1].startswith(f"python -m realtime.studio: error: cannot serve on 0.0.0.0:{port}")
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.20", False), ("::", False), ("myhost.example", False)],
)  # fmt: skip
def test_which_addresses_are_local(host: str, local: bool) -> None:
    assert is_local(host) is local


@pytest.mark.slow
def test_serves_until_ctrl_c_then_deletes_every_sessions_files(tmp_path: Path) -> None:
    """The real entry point: serving on loopback, the page answers, Ctrl-C stops it with status 0 and the sessions'
    folder is gone."""
    port = free_port()
    workdir = tmp_path / "sessions"
    cmd = [sys.executable, "-m", "realtime.studio", "--no-browser", "--port", str(port), "--workdir", str(workdir)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.strip() == f"python -m realtime.studio: serving on http://127.0.0.1:{port}/ (Ctrl-C stops)", line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200 and b"realtime studio" in page.read()
        ours = list(workdir.iterdir())  # the sessions' folder and Gradio's copies of uploads and results
        assert len(ours) == 2 and all(p.name.startswith("realtime_studio_") for p in ours)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    assert "stopped; every session's files were deleted" in rest
    assert workdir.is_dir() and not any(workdir.iterdir())  # its own subfolders went; the user's folder stays
