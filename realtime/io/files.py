"""Outputs are written to a temporary file beside the target and renamed only when complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

from realtime.io.errors import OutputError

__all__ = ["TempOutput"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class TempOutput:
    """Context manager giving a temporary path next to ``target`` with the same suffix.

    On a clean exit the temporary file is renamed onto ``target`` (atomic on one filesystem); on any exception,
    KeyboardInterrupt included, it is deleted, so ``target`` is never left half-written.
    """

    def __init__(self, target: str | os.PathLike[str]) -> None:
        self.target = Path(target)
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"output folder does not exist: {folder}")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"output folder is not writable: {folder}")
        if self.target.is_dir():
            raise OutputError(f"output is a folder: {self.target}")
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=f".partial{self.target.suffix}", dir=folder)
        os.close(fd)
        self.path = Path(name)
        # mkstemp creates 0600 files; give the output the permissions any new file of the user's would get
        os.chmod(self.path, 0o666 & ~_umask())

    def __enter__(self) -> Path:
        return self.path

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            os.replace(self.path, self.target)
        else:
            self.path.unlink(missing_ok=True)
