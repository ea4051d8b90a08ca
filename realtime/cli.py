"""What every command-line entry point shares: an argument parser whose help text is the module's docstring, and
one way of turning errors and signals into a one-line message and an exit status."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from realtime.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, Terminated, UserError

__all__ = [
    "add_quiet_debug",
    "doc_parser",
    "notes",
    "run_cli",
    "show_progress",
    "terminate_on_signals",
    "user_message",
]

TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")  # what service managers, `kill` and a closed terminal send


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread; the previous handlers come
    back on exit. Elsewhere than the main thread (Python delivers signals only there) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    previous = {}
    for name in TERMINATING_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:  # SIGHUP does not exist on Windows
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def doc_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` for ``prog`` whose description is ``doc`` up to its "Examples:" paragraph and whose
    epilog is that paragraph onwards (examples, exit status), both printed as written."""
    head, marker, tail = doc.partition("Examples:")
    return argparse.ArgumentParser(
        prog=prog,
        description=head.strip(),
        epilog=(marker + tail).strip() or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_quiet_debug(parser: argparse.ArgumentParser, quiet_help: str) -> None:
    """--quiet (``quiet_help`` says what it silences; errors always print) and --debug (tracebacks)."""
    parser.add_argument("--quiet", action="store_true", help=quiet_help)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")


def show_progress(quiet: bool) -> bool:
    """Whether a command shows progress bars: not with --quiet, and not when stderr is no terminal (a log file or
    a pipe would collect every redraw)."""
    return not quiet and sys.stderr.isatty()


def notes(prog: str, quiet: bool) -> Callable[[str], None]:
    """A function printing ``prog: <line>`` to stderr, or nothing when ``quiet``."""

    def note(message: str) -> None:
        if not quiet:
            print(f"{prog}: {message}", file=sys.stderr)

    return note


def user_message(err: UserError) -> str:
    """The one-line message of a UserError, also when a DataLoader worker raised it (torch re-raises it in the main
    process with the worker's whole traceback as the message; its last line is the original error)."""
    text = str(err).strip()
    if text.startswith("Caught ") and "\n" in text:
        last = text.splitlines()[-1]
        return last.split(": ", 1)[1] if ": " in last else last
    return text


def run_cli(prog: str, body: Callable[[], int], debug: bool = False, interrupted: str = "no output written") -> int:
    """Run ``body`` and return its exit status; a UserError prints ``prog: error: <one line>`` and returns its
    ``exit_code``; Ctrl-C prints ``prog: interrupted; <interrupted>`` and returns 130, SIGTERM and SIGHUP print
    ``prog: terminated by SIGTERM; <interrupted>`` and return 143 and 129 (cleanup runs as for Ctrl-C); any other
    exception prints one line and returns 1 (or propagates with ``debug``, for the traceback)."""
    try:
        with terminate_on_signals():
            return body()
    except UserError as err:
        print(f"{prog}: error: {user_message(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; {interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as stop:
        print(f"{prog}: terminated by {stop.name}; {interrupted}", file=sys.stderr)
        return stop.exit_code
    except Exception as err:
        if debug:
            raise
        print(f"{prog}: internal error: {type(err).__name__}: {err} (rerun with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL
