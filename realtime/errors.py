"""Errors a user can fix, each with the exit code the command-line tools return for it, and the other exit codes
every CLI shares. Every layer raises these (ops excepted), so they live at the bottom of the package."""

from __future__ import annotations

import signal

__all__ = [
    "EXIT_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "InputError",
    "ModelsMissingError",
    "OutputError",
    "Terminated",
    "UsageError",
    "UserError",
]

EXIT_INPUT = 1  # an input could not be read or has no usable content
EXIT_USAGE = 2  # the command line is wrong (bad option, unsupported extension, ...)
EXIT_INTERNAL = 1  # an unexpected error (a bug): one line, or the traceback with --debug
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class UserError(Exception):
    """A problem the user can act on; ``str(err)`` is the one-line message and ``exit_code`` the status."""

    exit_code = EXIT_INPUT


class InputError(UserError):
    """Missing, unreadable, empty or truncated input, or input without the content we need (a video stream, a face)."""

    exit_code = EXIT_INPUT


class ModelsMissingError(UserError):
    """A backend's model files or Python packages are not installed (the message says what to install)."""

    exit_code = EXIT_INPUT


class OutputError(UserError):
    """The output cannot be written (folder missing, no permission, disk full)."""

    exit_code = EXIT_INPUT


class UsageError(UserError):
    """The command line is wrong."""

    exit_code = EXIT_USAGE


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: raised in the main thread like KeyboardInterrupt (and, like it, no Exception, so
    ``except Exception`` does not swallow it), so every ``with`` block and ``finally`` cleans up on the way out.
    ``exit_code`` is 128 + the signal number (143 for SIGTERM, 129 for SIGHUP)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum
        super().__init__(self.name)
