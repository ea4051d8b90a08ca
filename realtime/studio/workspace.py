"""Per-session files and state. Each browser session (Gradio's session hash) gets a folder under the app's temp
root and a :class:`Session`; uploads are copied in under sanitised names, so no name a browser sends can point
outside that folder. The folder is deleted when the session ends (the tab closes) and when the app stops."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.errors import InputError
from realtime.io.people import PeopleFile

__all__ = ["Session", "Workspace", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, fallback: str = "upload") -> str:
    """A file name made of ``name``'s last path component with only ``[A-Za-z0-9._-]`` (accents dropped, runs of
    anything else as one "_"), no leading dots and at most 100 characters; ``fallback`` when nothing is left.
    ``"../../etc/passwd"`` -> ``"passwd"``, ``"C:\\x\\ä b.jpg"`` -> ``"a_b.jpg"``."""
    last = re.split(r"[\\/]", name)[-1]
    ascii_name = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_name).lstrip("._")
    if len(cleaned) > 100:
        stem, dot, suffix = cleaned.rpartition(".")
        cleaned = (stem[: 99 - len(suffix)] + dot + suffix) if dot and len(suffix) <= 10 else cleaned[:100]
    return cleaned or fallback


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MB" if n >= 2**17 else f"{n:,} bytes"


@dataclass
class Session:
    """One browser session: its ``folder`` and what it has chosen so far. ``sources``: the uploaded source files;
    ``one_person``: they show one person (a folder source) rather than one person each; ``target``; ``people``:
    the target's people (``people_dir`` holds people.json and the crops); ``mapping``: person id -> index into
    ``sources``; ``unmapped``: the source index everyone else gets (None: kept); ``cache``: whatever a tab keeps
    between events (a preview pipeline)."""

    folder: Path
    sources: list[Path] = field(default_factory=list)
    one_person: bool = False
    target: Path | None = None
    people: PeopleFile | None = None
    mapping: dict[int, int] = field(default_factory=dict)
    unmapped: int | None = None
    outputs: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def people_dir(self) -> Path:
        return self.folder / "people"

    def take_upload(self, upload: str | Path, kind: str, max_bytes: int) -> Path:
        """Copy an uploaded file (Gradio's temp copy at ``upload``) into ``folder/kind/`` under its
        :func:`safe_name` (numbered when taken); InputError when it is missing or over ``max_bytes``."""
        upload = Path(upload)
        if not upload.is_file():
            raise InputError(f"upload not found: {upload.name}")
        size = upload.stat().st_size
        if size > max_bytes:
            raise InputError(f"{upload.name} is {_size(size)}, over the upload limit of {_size(max_bytes)}")
        folder = self.folder / kind
        folder.mkdir(parents=True, exist_ok=True)
        name = safe_name(upload.name)
        target = folder / name
        stem, suffix = target.stem, target.suffix
        n = 1
        while target.exists():
            n += 1
            target = folder / f"{stem}-{n}{suffix}"
        if target.resolve().parent != folder.resolve():  # safe_name makes this impossible; keep it so
            raise InputError(f"refused upload name {upload.name!r}")
        shutil.copyfile(upload, target)
        return target

    def next_output(self, suffix: str) -> Path:
        """A new path for a job's result in this session's folder (``outputs/swapped-N.ext``)."""
        self.outputs += 1
        out = self.folder / "outputs"
        out.mkdir(parents=True, exist_ok=True)
        return out / f"swapped-{self.outputs}{suffix}"

    def source_argument(self, index: int | None = None) -> Path:
        """What ``--source`` (or a map's SOURCE) gets for source ``index``: that file, or with ``one_person`` the
        folder holding every source file."""
        if not self.sources:
            raise InputError("upload a source face first")
        if self.one_person:
            return self.sources[0].parent
        return self.sources[0 if index is None else index]


class Workspace:
    """Every session of one app, each in a folder under :attr:`root`: a new folder made inside ``parent`` (default:
    the system's temp folder), so deleting it on the way out never touches anything of the user's."""

    def __init__(self, parent: Path | None = None) -> None:
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="realtime_studio_", dir=parent))
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def session(self, key: str | None) -> Session:
        """The session of Gradio's session hash ``key`` (created on first use)."""
        name = safe_name(key or "anonymous", "anonymous")
        with self._lock:
            found = self._sessions.get(name)
            if found is None:
                folder = self.root / name
                folder.mkdir(parents=True, exist_ok=True)
                found = self._sessions[name] = Session(folder)
            return found

    def end(self, key: str | None) -> None:
        """Forget a session and delete its folder (the tab was closed)."""
        name = safe_name(key or "anonymous", "anonymous")
        with self._lock:
            session = self._sessions.pop(name, None)
        if session is not None:
            session.cache.clear()
            shutil.rmtree(session.folder, ignore_errors=True)

    def close(self) -> None:
        """Delete every session's folder and the root (the app stops)."""
        with self._lock:
            self._sessions.clear()
        shutil.rmtree(self.root, ignore_errors=True)
