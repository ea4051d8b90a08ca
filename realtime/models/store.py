"""The model store: the models this toolkit knows (``manifest.json``, a data file beside this module), where they
are on this machine, and how they get there (fetched and hash-checked, or imported from a file the user has).

Layout: ``$REALTIME_HOME/models`` (default ``$XDG_CACHE_HOME/realtime/models``, i.e. ``~/.cache/realtime/models``)
holds each model at its manifest ``file`` path (insightface's detector, landmarks and ArcFace under ``buffalo_l/``,
so that folder is also a model pack for ``--detector insightface``); ``records.json`` keeps the hashes recorded for
unpinned models and the files imported under names of the user's choosing; ``.partial/`` holds downloads in
progress (resumed by the next fetch); ``.locks/`` the lock files that keep two fetches of one file apart. Files in
insightface's own folder (``~/.insightface/models``) are found too.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from realtime.errors import InputError, ModelsMissingError, UsageError
from realtime.io.files import TempOutput, default_home, file_lock, file_sha256
from realtime.models.download import download

__all__ = [
    "KINDS",
    "Manifest",
    "ModelEntry",
    "ModelStore",
    "default_home",
    "load_manifest",
]

KINDS = ("detector", "landmarks", "identity", "swapper", "enhancer", "occlusion", "parser")
MIRROR_ENV = "REALTIME_MODELS_MIRROR"


@dataclass(frozen=True)
class ModelEntry:
    """One model: ``file`` is its path inside the store; ``sha256`` None means unpinned; ``member`` names the file
    to take out of a zip download; ``identity`` is the identity model a swapper was trained with; ``pickled``: the
    file is a pickled Python object (loading it runs code from it: only with --trust-pickle)."""

    name: str
    kind: str
    file: str
    url: str | None
    sha256: str | None
    size: int | None
    licence: str
    source: str
    member: str | None = None
    identity: str | None = None
    pickled: bool = False


@dataclass(frozen=True)
class Manifest:
    """The known models by name, and the names ``fetch --recommended`` gets."""

    models: dict[str, ModelEntry]
    recommended: tuple[str, ...]


def load_manifest(path: str | os.PathLike[str] | None = None) -> Manifest:
    """The manifest at ``path`` (default: the package's ``manifest.json``)."""
    if path is None:
        text = resources.files("realtime.models").joinpath("manifest.json").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)
    models = {m["name"]: ModelEntry(**m) for m in data["models"]}
    return Manifest(models, tuple(data.get("recommended", ())))


def _mirrored(url: str, mirror: str) -> str:
    """The same file name under another base URL."""
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[-1]


class ModelStore:
    """The store under ``home`` (see the module notes) for the models of ``manifest``.

    Args:
        home: default :func:`default_home`.
        manifest: default :func:`load_manifest`.
        insightface_root: insightface's model folder, searched too (default ``~/.insightface/models``).
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        manifest: Manifest | None = None,
        insightface_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.root = Path(home if home is not None else default_home()).expanduser() / "models"
        self.manifest = manifest or load_manifest()
        self.insightface_root = (
            Path(insightface_root).expanduser() if insightface_root else Path.home() / ".insightface" / "models"
        )

    # records ----------------------------------------------------------------------------------------------------

    def _records(self) -> dict[str, dict]:
        path = self.root / "records.json"
        if not path.exists():
            return {"hashes": {}, "imported": {}}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"the model store's record {path} is damaged ({exc}); delete it and re-import") from exc

    def _record(self, section: str, key: str, value: object) -> None:
        """Set ``records.json[section][key]`` (``hashes`` or ``imported``), under the records lock, atomically."""
        with file_lock(self.root / ".locks" / "records.lock"):
            records = self._records()
            records[section][key] = value
            with TempOutput(self.root / "records.json") as tmp:
                tmp.write_text(json.dumps(records, indent=2, sort_keys=True), encoding="utf-8")

    # lookup -----------------------------------------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        """Every model the store knows: the manifest's, then those imported under a name."""
        imported = [ModelEntry(**e) for e in self._records()["imported"].values()]
        return [*self.manifest.models.values(), *imported]

    def entry(self, name: str) -> ModelEntry:
        """The model called ``name``; UsageError naming the known ones when there is none."""
        for entry in self.entries():
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.entries())
        raise UsageError(f"unknown model {name!r}; known models: {known}")

    def expected_hash(self, entry: ModelEntry) -> str | None:
        """The sha256 an installed file must have: the manifest's (for a file taken from an archive, the one
        recorded when it was extracted), else the one recorded at its first download or import; None if none."""
        recorded = self._records()["hashes"].get(entry.file)
        if entry.member is not None:
            return recorded
        return entry.sha256 or recorded

    def find(self, entry: ModelEntry) -> Path | None:
        """Where ``entry`` is installed: in the store, else in insightface's folder (its packs and the files
        beside them); None when it is nowhere."""
        candidates = [self.root / entry.file]
        relative = Path(entry.file)
        candidates += [self.insightface_root / relative, self.insightface_root / relative.name]
        return next((p for p in candidates if p.is_file()), None)

    def resolve(self, value: str | os.PathLike[str]) -> Path:
        """A model path from what a user typed: an existing file, or the name of an installed model.
        ModelsMissingError for a known model that is not installed; InputError for neither."""
        path = Path(value).expanduser()
        if path.exists():
            return path
        names = {e.name: e for e in self.entries()}
        if str(value) in names:
            found = self.find(names[str(value)])
            if found is None:
                raise ModelsMissingError(
                    f"model {value} is not installed: python -m realtime.models fetch {value} "
                    "(or import a copy: python -m realtime.models import FILE)"
                )
            return found
        raise InputError(f"model file not found: {value} (nor is it a model name: python -m realtime.models list)")

    def installed(self, kind: str) -> list[tuple[ModelEntry, Path]]:
        """The installed models of ``kind``, in manifest order."""
        found = [(e, self.find(e)) for e in self.entries() if e.kind == kind]
        return [(e, p) for e, p in found if p is not None]

    def analysis_pack(self) -> Path | None:
        """The store's insightface pack folder when its detector, landmarks and identity models are all installed
        there (a folder with only some of them is no pack: the detector would fail on it); else None."""
        kinds = {"detector", "landmarks", "identity"}
        files = [self.root / e.file for e in self.manifest.models.values() if e.kind in kinds and "/" in e.file]
        folders = {f.parent for f in files if f.is_file()}
        for folder in folders:
            present = {e.kind for e in self.manifest.models.values() if (self.root / e.file).parent == folder
                       and (self.root / e.file).is_file()}  # fmt: skip
            if present >= kinds:
                return folder
        return None

    # fetch ------------------------------------------------------------------------------------------------------

    def fetch(
        self,
        entry: ModelEntry,
        mirror: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 1.0,
        progress: Callable[[int, int | None], None] = lambda done, total: None,
        note: Callable[[str], None] = lambda _: None,
    ) -> Path:
        """Download ``entry`` into the store unless it is already there, and return its path.

        The bytes go to ``.partial/`` (a later call resumes them); the sha256 is checked before the file is moved
        into place, so a failed or mismatched download leaves no model file. An unpinned model's hash is recorded
        and passed to ``note``. Two processes fetching the same file take turns (a lock file); the second finds it
        installed. ``mirror`` (default: ``$REALTIME_MODELS_MIRROR``) replaces the URL's base.

        Raises:
            DownloadFailed: unreachable or refused (see :func:`~realtime.models.download.download`).
            InputError: hash mismatch, or the archive lacks the file.
        """
        if entry.url is None:
            raise UsageError(f"{entry.name} was imported from a file and has no download address")
        mirror = mirror or os.environ.get(MIRROR_ENV) or None
        url = _mirrored(entry.url, mirror) if mirror else entry.url
        target = self.root / entry.file
        partial = self.root / ".partial" / (entry.file.replace("/", "__") + ".part")
        with file_lock(self.root / ".locks" / (entry.file.replace("/", "__") + ".lock")):
            if target.is_file():
                return target
            partial.parent.mkdir(parents=True, exist_ok=True)
            download(url, partial, timeout=timeout, retries=retries, backoff=backoff, progress=progress)
            digest = file_sha256(partial)
            if entry.sha256 is not None and digest != entry.sha256:
                partial.unlink()
                raise InputError(
                    f"{entry.name}: the download from {url} has sha256 {digest}, not the expected {entry.sha256}; "
                    "nothing was installed"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.member is not None:
                digest = self._extract(partial, entry, target)
                partial.unlink()
            else:
                os.replace(partial, target)
            if entry.sha256 is None or entry.member is not None:
                self._record("hashes", entry.file, digest)
                note(f"{entry.name} is unpinned: recorded sha256 {digest} (verify checks against it from now on)")
        return target

    def _extract(self, archive: Path, entry: ModelEntry, target: Path) -> str:
        """Take ``entry.member`` out of the zip ``archive`` into ``target`` (atomically); its sha256."""
        assert entry.member is not None
        try:
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if n == entry.member or n.endswith("/" + entry.member)]
                if not names:
                    raise InputError(f"{entry.name}: the archive from {entry.url} has no {entry.member}")
                with TempOutput(target) as tmp, open(tmp, "wb") as out, zf.open(names[0]) as member:
                    shutil.copyfileobj(member, out, 1 << 20)
        except zipfile.BadZipFile as exc:
            archive.unlink()
            raise InputError(f"{entry.name}: the download from {entry.url} is not a zip archive") from exc
        return file_sha256(target)

    # import and verify ------------------------------------------------------------------------------------------

    def import_file(
        self, path: str | os.PathLike[str], name: str | None = None, kind: str | None = None
    ) -> tuple[ModelEntry, Path, str | None]:
        """Copy a model file the user already has into the store. A file whose sha256 is a manifest model's is
        that model; ``name`` must then agree. A known but unpinned (or archive-extracted) model takes the file and
        records its hash. A file the manifest does not know is registered under ``name`` (default: its stem),
        with ``kind``. Returns the entry, its installed path and a warning (or None).

        InputError for a missing file or one whose hash contradicts ``name``'s pin; UsageError for a bad kind."""
        source = Path(path).expanduser()
        if not source.is_file():
            raise InputError(f"file not found: {source}")
        if kind is not None and kind not in KINDS:
            raise UsageError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        digest = file_sha256(source)
        by_hash = [e for e in self.manifest.models.values() if e.sha256 == digest and e.member is None]
        warning = None
        if name is not None and name in self.manifest.models:
            entry = self.manifest.models[name]
            if entry.sha256 is not None and entry.member is None and entry.sha256 != digest:
                raise InputError(f"{source} is not {name}: its sha256 is {digest}, {name}'s is {entry.sha256}")
            if entry.sha256 is None or entry.member is not None:
                warning = f"{name} is unpinned: recorded this file's sha256 {digest}"
        elif by_hash:
            entry = by_hash[0]
            if name is not None:
                raise InputError(f"{source} is the known model {entry.name} (by its sha256), not {name!r}")
        else:
            label = name or source.stem
            entry = ModelEntry(
                label, kind or "unknown", f"imported/{source.name}", None, digest, None, "?", str(source)
            )
            warning = f"{source.name} is not in the manifest: registered as {label} ({entry.kind}), unverified"
        target = self.root / entry.file
        target.parent.mkdir(parents=True, exist_ok=True)
        with TempOutput(target) as tmp:
            shutil.copyfile(source, tmp)
        if entry.name not in self.manifest.models:
            self._record("imported", entry.name, asdict(entry))
        elif entry.sha256 is None or entry.member is not None:
            self._record("hashes", entry.file, digest)
        return entry, target, warning

    def verify(self) -> list[tuple[ModelEntry, Path, str]]:
        """Re-hash every installed model: (entry, path, "ok" | "mismatch: ..." | "unpinned, no hash recorded")."""
        results = []
        for entry in self.entries():
            path = self.find(entry)
            if path is None:
                continue
            expected, digest = self.expected_hash(entry), file_sha256(path)
            if expected is None:
                status = "unpinned, no hash recorded"
            elif digest == expected:
                status = "ok"
            else:
                status = f"mismatch: sha256 {digest}, expected {expected}"
            results.append((entry, path, status))
        return results
