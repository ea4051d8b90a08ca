"""``python -m realtime.models``: list, get, import and check the model files realtime can use.

Models live in the store, ``$REALTIME_HOME/models`` (default ``~/.cache/realtime/models``); insightface packs
already in ``~/.insightface/models`` are found too. Once a model is installed, ``--model``, ``--identity-model``
and friends take its name (``--model inswapper_128``), and ``--swapper auto`` / ``--detector auto`` use the best
installed ones. Several models are licensed for non-commercial research only: ``list`` says which.

Subcommands:
    list                       every known model: kind, file, size, sha256, licence, source, installed or not
    fetch NAME... | --recommended
                               download (progress bar, resume, retries), check the sha256, install
    import FILE [--name NAME]  install a file you already have (checked against the manifest's hash)
    verify                     re-hash every installed model
    path NAME                  print an installed model's path (for scripts)

Examples:
    python -m realtime.models list
    python -m realtime.models fetch --recommended
    python -m realtime.models fetch inswapper_128 gfpgan_1.4 --mirror https://models.example.org/realtime
    python -m realtime.models import ~/Downloads/inswapper_128.onnx
    python -m realtime.models verify
    python -m realtime.swap in.mp4 out.mp4 --source face.jpg --model inswapper_128 --identity-model arcface_w600k_r50

Offline: fetch says so in one line; get the file some other way and `import` it (or serve the files from a mirror
with the same names: --mirror URL or REALTIME_MODELS_MIRROR).

Exit status: 0 done, 1 a download, file or hash problem (verify: some file does not match), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.models.download import DownloadFailed
from realtime.models.store import KINDS, ModelEntry, ModelStore

PROG = "python -m realtime.models"


def _size(entry: ModelEntry, path: Path | None) -> str:
    size = path.stat().st_size if path is not None else entry.size
    return f"{size / 1e6:.1f} MB" if size is not None else "size ?"


def _list(store: ModelStore, as_json: bool) -> int:
    rows = []
    for entry in store.entries():
        path = store.find(entry)
        expected = store.expected_hash(entry)
        rows.append((entry, path, expected))
    if as_json:
        out = [
            {
                "name": e.name,
                "kind": e.kind,
                "file": e.file,
                "size": p.stat().st_size if p is not None else e.size,
                "sha256": x,
                "pinned": e.sha256 is not None and e.member is None,
                "licence": e.licence,
                "url": e.url,
                "source": e.source,
                "installed": p is not None,
                "path": str(p) if p is not None else None,
            }
            for e, p, x in rows
        ]
        print(json.dumps(out, indent=2))
        return 0
    print(f"store: {store.root}")
    for entry, path, expected in rows:
        sha = f"sha256 {expected[:16]}…" if expected else "unpinned"
        where = f"installed: {path}" if path is not None else "not installed"
        print(f"{entry.name:<20} {entry.kind:<10} {entry.file:<30} {_size(entry, path):>9}  {sha}  {where}")
        print(f"{'':<20} {entry.licence}; {entry.url or entry.source}")
    return 0


def _progress_bar(name: str, enabled: bool):  # type: ignore[no-untyped-def]
    bar = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled, dynamic_ncols=True)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return bar, update


def _fetch(store: ModelStore, args: argparse.Namespace) -> int:
    if args.recommended == bool(args.names):
        raise UsageError("fetch needs model names or --recommended (not both)")
    if args.retries < 0 or args.timeout <= 0:
        raise UsageError("--retries must be >= 0 and --timeout > 0")
    names = list(store.manifest.recommended) if args.recommended else args.names
    entries = [store.entry(n) for n in names]  # every name checked before any download
    note = notes(PROG, args.quiet)
    for entry in entries:
        found = store.find(entry)
        if found is not None:
            note(f"{entry.name}: already installed at {found}")
            continue
        bar, update = _progress_bar(entry.name, show_progress(args.quiet))
        try:
            with bar:
                path = store.fetch(
                    entry, args.mirror, args.timeout, args.retries, args.backoff, progress=update, note=note
                )
        except DownloadFailed as err:
            where = store.root / entry.file
            hint = f"get {Path(entry.file).name} some other way and run: {PROG} import FILE --name {entry.name}"
            state = "offline or unreachable" if err.offline else "download failed"
            raise InputError(f"{entry.name}: {state}: {err}; {hint} (it goes to {where})") from err
        note(f"{entry.name}: installed at {path} ({entry.licence})")
    return 0


def _import(store: ModelStore, args: argparse.Namespace) -> int:
    entry, path, warning = store.import_file(args.file, args.name, args.kind)
    note = notes(PROG, args.quiet)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    note(f"{entry.name}: installed at {path}")
    return 0


def _verify(store: ModelStore, args: argparse.Namespace) -> int:
    results = store.verify()
    if not results:
        print(f"no models installed in {store.root}")
        return 0
    bad = 0
    for entry, path, status in results:
        bad += status.startswith("mismatch")
        print(f"{entry.name:<20} {status:<12} {path}")
    if bad:
        print(f"{PROG}: error: {bad} file(s) do not match their hash: delete and fetch them again", file=sys.stderr)
        return 1
    return 0


def _path(store: ModelStore, args: argparse.Namespace) -> int:
    entry = store.entry(args.name)
    print(store.resolve(entry.name))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line: subcommands list, fetch, import, verify, path."""
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument(
        "--home", type=Path, help="the store's home folder (default: $REALTIME_HOME or ~/.cache/realtime)"
    )
    add_quiet_debug(parser, "print only errors and results")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="every known model and whether it is installed")
    listing.add_argument("--json", action="store_true", help="one JSON list, for scripts")
    fetch = commands.add_parser("fetch", help="download and install models")
    fetch.add_argument("names", nargs="*", metavar="NAME")
    fetch.add_argument(
        "--recommended",
        action="store_true",
        help="the recommended set (a swapper, its identity "
        "model, insightface analysis, an enhancer, occlusion and parsing)",
    )
    fetch.add_argument("--mirror", help="base URL serving the same file names (default: $REALTIME_MODELS_MIRROR)")
    fetch.add_argument("--timeout", type=float, default=30.0, help="seconds a connection may stall (default 30)")
    fetch.add_argument("--retries", type=int, default=4, help="further attempts after a failure (default 4)")
    fetch.add_argument("--backoff", type=float, default=1.0, help=argparse.SUPPRESS)
    imp = commands.add_parser("import", help="install a model file you already have")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="the manifest name it is, or a name for a file the manifest does not know")
    imp.add_argument("--kind", choices=KINDS, help="what a file the manifest does not know is")
    commands.add_parser("verify", help="re-hash every installed model")
    path = commands.add_parser("path", help="print an installed model's path")
    path.add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        store = ModelStore(args.home)
        handler = {
            "list": lambda: _list(store, args.json),
            "fetch": lambda: _fetch(store, args),
            "import": lambda: _import(store, args),
            "verify": lambda: _verify(store, args),
            "path": lambda: _path(store, args),
        }[args.command]
        return handler()

    return run_cli(PROG, body, debug=args.debug, interrupted="partial downloads are kept and resumed next time")


if __name__ == "__main__":
    sys.exit(main())
