"""``python -m realtime.studio``: the whole job in a local web app: sources and a target, the target's people and
who becomes whom, a before/after preview, Run with progress, the result with its provenance; the live camera; the
model store.

It serves on 127.0.0.1 (this machine only) and opens a browser tab. Nothing leaves the machine: Gradio's
analytics and share links are off, and the page uses system fonts.

Examples:
    python -m realtime.studio
    python -m realtime.studio --port 7870 --no-browser
    python -m realtime.studio --host 0.0.0.0          # reachable from the network: anyone there can use it
    python -m realtime.studio --max-upload-mb 512

Exit status: 0 stopped with Ctrl-C, 1 the port is taken or the app could not start, 2 a usage error, 143/129
ended by SIGTERM/SIGHUP. Every session's files are deleted on the way out.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli
from realtime.errors import InputError, OutputError, UsageError

PROG = "python -m realtime.studio"


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    parser.add_argument("--max-upload-mb", type=float, default=4096, help="largest upload accepted (default 4096)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="a folder to keep sessions' files in (in a new subfolder, deleted on exit; default: the temp folder)",
    )
    add_quiet_debug(parser, "print only errors")
    return parser


def is_local(host: str) -> bool:
    """Whether ``host`` serves this machine only (a loopback address or "localhost")."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_args(args: argparse.Namespace) -> None:
    """UsageError for values that cannot work."""
    if not 0 < args.port < 65536:
        raise UsageError("--port must be in 1..65535")
    if args.max_upload_mb <= 0:
        raise UsageError("--max-upload-mb must be > 0")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        check_args(args)
        note = notes(PROG, args.quiet)
        if not is_local(args.host):
            print(f"{PROG}: warning: serving on {args.host}: anyone on the network who can reach this machine can "
                  "use the app, its uploads and its results (there is no login)", file=sys.stderr)  # fmt: skip
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no version check
        if args.workdir is not None:
            try:
                args.workdir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise OutputError(f"cannot use --workdir {args.workdir}: {err.strerror or err}") from None
        # Gradio keeps its own copies of uploads and results; in a folder of this run's, deleted on the way out
        gradio_files = Path(tempfile.mkdtemp(prefix="realtime_studio_gradio_", dir=args.workdir))
        os.environ["GRADIO_TEMP_DIR"] = str(gradio_files)
        from realtime.studio.app import build_app

        studio = build_app(args.max_upload_mb, args.workdir)
        try:
            try:
                url = studio.launch(args.host, args.port, args.max_upload_mb, open_browser=not args.no_browser)
            except OSError as err:
                raise InputError(f"cannot serve on {args.host}:{args.port}: {err}") from None
            note(f"serving on {url} (Ctrl-C stops)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:  # the way to stop it: not an error
                note("stopped; every session's files were deleted")
                return 0
        finally:
            studio.close()
            shutil.rmtree(gradio_files, ignore_errors=True)

    return run_cli(PROG, body, debug=args.debug, interrupted="stopped; every session's files were deleted")


if __name__ == "__main__":
    sys.exit(main())
