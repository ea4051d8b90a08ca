"""Running the command-line tools the way a user does: ``python -m MODULE ARGS`` in a fresh process."""

from __future__ import annotations

import subprocess
import sys


def run_module(
    module: str, *args: object, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` with stdout and stderr captured as text; never raises on a non-zero exit."""
    cmd = [sys.executable, "-m", module, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
