"""What a batch run is asked to do: one :class:`BatchJob` per input, from a folder or glob of videos and images
with the command line's options, or from a manifest file (JSONL or CSV) whose rows may each bring their own
source, map and options.

A manifest row has ``input`` and ``output`` (relative paths are read from the manifest's folder) and optionally
``source`` (an image, folder or video), ``map`` (``{"TARGET": "SOURCE"}`` in JSONL, ``"1=a.jpg;2=b/"`` in CSV) and
``options`` (further ``realtime.swap`` options as one string, e.g. ``"--blend poisson --crf 20"``). The command
line's options apply to every row; a row's own come after them and win.
"""

from __future__ import annotations

import csv
import glob
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from realtime.errors import InputError, UsageError
from realtime.io.images import IMAGE_SUFFIXES
from realtime.io.video import VIDEO_SUFFIXES

__all__ = ["MEDIA_SUFFIXES", "BatchJob", "jobs_from_inputs", "read_manifest"]

MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES


@dataclass(frozen=True)
class BatchJob:
    """One input to swap into one output, with its pipeline options (``realtime.swap``'s, as argv words)."""

    input: Path
    output: Path
    options: tuple[str, ...]

    @property
    def name(self) -> str:
        """How the summary and progress name it: the input's file name."""
        return self.input.name


def _expand(inputs: list[str]) -> list[Path]:
    """Files of the given folders (media only, sorted), globs and plain paths, each once, in order."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
        elif any(c in item for c in "*?["):
            found += sorted(Path(p) for p in glob.glob(item) if Path(p).suffix.lower() in MEDIA_SUFFIXES)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def jobs_from_inputs(inputs: list[str], out_dir: Path, options: list[str], suffix: str | None = None) -> list[BatchJob]:
    """A job per input file (folders and globs expanded), written to ``out_dir`` under the input's name (with
    ``suffix`` instead of its own, when given). UsageError when nothing matches or two inputs would write one
    output."""
    files = _expand(inputs)
    if not files:
        raise UsageError(f"no videos or images in {' '.join(inputs)}")
    jobs = [BatchJob(f, out_dir / (f.stem + (suffix or f.suffix)), tuple(options)) for f in files]
    _check_unique(jobs)
    return jobs


def _check_unique(jobs: list[BatchJob]) -> None:
    seen: dict[Path, Path] = {}
    for job in jobs:
        key = job.output.resolve()
        if key in seen:
            raise UsageError(f"{seen[key]} and {job.input} would both write {job.output}")
        seen[key] = job.input


def _map_words(value: object, where: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, str):
        pairs = [tuple(part.split("=", 1)) for part in value.split(";") if part.strip()]  # type: ignore[misc]
        if any(len(p) != 2 for p in pairs):
            raise InputError(f"{where}: map must be TARGET=SOURCE;TARGET=SOURCE, got {value!r}")
    else:
        raise InputError(f"{where}: map must be an object or a string, got {type(value).__name__}")
    return [w for target, source in pairs for w in ("--map", f"{target.strip()}={source.strip()}")]


def _row_job(row: dict[str, object], folder: Path, options: list[str], where: str) -> BatchJob:
    def path(key: str) -> Path | None:
        value = row.get(key)
        if value in (None, ""):
            return None
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else folder / p

    source_in, output = path("input"), path("output")
    if source_in is None or output is None:
        raise InputError(f"{where}: every row needs an input and an output")
    words = list(options)
    source = path("source")
    if source is not None:
        words += ["--source", str(source)]
    words += _map_words(row.get("map"), where)
    extra = row.get("options") or ""
    if not isinstance(extra, str):
        raise InputError(f"{where}: options must be one string of realtime.swap options")
    try:
        words += shlex.split(extra)
    except ValueError as exc:
        raise InputError(f"{where}: options: {exc}") from None
    return BatchJob(source_in, output, tuple(words))


def read_manifest(path: Path, options: list[str]) -> list[BatchJob]:
    """The jobs of a JSONL (one object per line) or CSV (a header row) manifest; InputError naming the line of
    the first malformed row."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read the manifest {path}: {exc.strerror or exc}") from None
    folder = path.parent
    jobs: list[BatchJob] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: each line must be a JSON object")
            jobs.append(_row_job(row, folder, options, f"{path}:{number}"))
    elif path.suffix.lower() == ".csv":
        for number, row in enumerate(csv.DictReader(text.splitlines()), 2):
            jobs.append(_row_job(dict(row), folder, options, f"{path}:{number}"))
    else:
        raise UsageError(f"a manifest is .jsonl or .csv, got {path.name}")
    if not jobs:
        raise InputError(f"the manifest {path} lists no jobs")
    _check_unique(jobs)
    return jobs
