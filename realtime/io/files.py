"""Outputs are written to a temporary file beside the target and renamed only when complete."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from realtime.errors import OutputError

__all__ = [
    "TempOutput",
    "check_output_path",
    "default_home",
    "file_lock",
    "file_sha256",
    "output_folder",
    "write_failure",
]

# Write failures that are about the output's device, not the data: each is said in the user's words, naming the
# output path they asked for (not the hidden temporary file the error came from).
_DEVICE_PROBLEMS = {
    errno.ENOSPC: "no space left on the device holding {target}",
    errno.EDQUOT: "disk quota exceeded on the device holding {target}",
    errno.EFBIG: "{target} would be larger than its filesystem allows",
    errno.EROFS: "the filesystem holding {target} is read-only",
    errno.EIO: "input/output error on the device holding {target}",
}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in ``chunk``-byte pieces: memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_failure(exc: BaseException, target: Path) -> OutputError | None:
    """The one-line OutputError a failed write of ``target`` means when ``exc`` (or an exception it was raised
    from) is an OSError about the device (full disk, quota, read-only, I/O error); None otherwise."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _DEVICE_PROBLEMS:
            return OutputError(_DEVICE_PROBLEMS[seen.errno].format(target=target))
        seen = seen.__cause__ or seen.__context__
    return None


def check_output_path(target: Path) -> Path:
    """The folder ``target`` will be written in; OutputError when it is missing, not a folder or not writable, or
    when ``target`` is itself a folder. Cheap, so commands call it before any work."""
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"output folder does not exist: {folder}")
    if not folder.is_dir():
        raise OutputError(f"output folder is not a folder: {folder}")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"output folder is not writable: {folder}")
    if target.is_dir():
        raise OutputError(f"output is a folder: {target}")
    return folder


def output_folder(folder: Path) -> Path:
    """``folder``, created if missing (its parent must exist and be writable: OutputError otherwise, as for a
    file); a command writing several files into a folder calls it before any work."""
    if not folder.is_dir():
        check_output_path(folder)
        try:
            folder.mkdir()
        except OSError as exc:
            raise OutputError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc
    return folder


class TempOutput:
    """Context manager giving a temporary path next to ``target`` with the same suffix.

    On a clean exit ``finish`` (when given) is called with the complete temporary file, which it may rewrite in
    place (signing it, say), and the file is then renamed onto ``target`` (atomic on one filesystem); on any
    exception, KeyboardInterrupt and a failing ``finish`` included, it is deleted, so ``target`` is never left
    half-written or unfinished. A write that failed for the device's sake (full disk, quota, read-only, I/O error)
    becomes an OutputError naming ``target``.
    """

    def __init__(self, target: str | os.PathLike[str], finish: Callable[[Path], None] | None = None) -> None:
        self.target = Path(target)
        self.finish = finish
        folder = check_output_path(self.target)
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{self.target.stem}.", suffix=f".partial{self.target.suffix}", dir=folder
            )
        except OSError as exc:  # permissions, read-only or special filesystems (root passes os.access checks)
            raise OutputError(f"cannot create a file in {folder}: {exc.strerror or exc}") from exc
        self.path = Path(name)
        try:
            os.close(fd)
            # mkstemp creates 0600 files; give the output the permissions any new file of the user's would get
            os.chmod(self.path, 0o666 & ~_umask())
        except BaseException:  # an interrupt too: the file must not outlive this
            self.path.unlink(missing_ok=True)
            raise

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and self.finish is not None:
            try:
                self.finish(self.path)
            except BaseException as err:
                self._discard(err)
                raise
        if exc_type is None:
            try:
                os.replace(self.path, self.target)
            except OSError as err:
                self.path.unlink(missing_ok=True)
                raise OutputError(f"cannot write {self.target}: {err.strerror or err}") from err
        else:
            self._discard(exc)

    def _discard(self, exc: BaseException | None) -> None:
        """Delete the temporary file after ``exc``; an OutputError naming ``target`` when ``exc`` was the device's."""
        self.path.unlink(missing_ok=True)
        if exc is not None and not isinstance(exc, OutputError) and (failure := write_failure(exc, self.target)):
            raise failure from exc


def default_home() -> Path:
    """``$REALTIME_HOME``, else ``$XDG_CACHE_HOME/realtime``, else ``~/.cache/realtime``."""
    if os.environ.get("REALTIME_HOME"):
        return Path(os.environ["REALTIME_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "realtime"


@contextlib.contextmanager
def file_lock(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock`` (created if missing) while inside; another process waits."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
