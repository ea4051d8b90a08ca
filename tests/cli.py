"""Running the command-line tools the way a user does.

:func:`run_module` starts ``python -m MODULE ARGS`` in a fresh process: the real entry point, kept for one test per
CLI and for what needs a process of its own (signals, torchrun). :func:`call_main` runs the same ``main(argv)``
in this process, with stdout and stderr captured: for error tables and other many-call tests, where a fresh
process (importing torch, loading dlib's models) would cost seconds per row.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
from dataclasses import dataclass


def run_module(
    module: str, *args: object, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m module args...`` with stdout and stderr captured as text; never raises on a non-zero exit."""
    cmd = [sys.executable, "-m", module, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def entry_module(module: str):  # type: ignore[no-untyped-def]
    """The module ``python -m module`` runs: ``module`` itself, or a package's ``__main__``."""
    imported = importlib.import_module(module)
    if hasattr(imported, "__path__"):  # a package
        return importlib.import_module(f"{module}.__main__")
    return imported


@dataclass
class CliResult:
    """What :func:`call_main` saw: the exit status and everything written to stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str

    def error_lines(self) -> list[str]:
        """The non-blank lines of stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]


def call_main(module: str, *args: object) -> CliResult:
    """``module.main([str(arg), ...])`` in this process, stdout and stderr captured; argparse's exits (usage
    errors, ``--help``) become the return code, as they would be for ``python -m module``. Process-wide settings a
    CLI may change for its own process (thread counts, signal handlers) are restored afterwards."""
    import signal

    import cv2
    import torch

    main = entry_module(module).main
    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        torch.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return CliResult(int(code or 0), out.getvalue(), err.getvalue())
