"""Where cleaned-out crops go, and the log of every face a dataset was made from. Nothing is ever deleted.

- ``DATA/<identity>/rejected/``: crops a rule dropped or the outlier pass moved, with their landmarks (and parsing
  masks) in the folder's own ``landmarks.npz``/``masks.npz`` and ``reasons.csv`` (file, reason, value, note). The
  training loader reads only the images directly in an identity folder, so a rejected crop is out of training;
  moving it back (with its npz entries) restores it.
- ``DATA/faces.csv``: one row per face (or per image without one) that ``training.prepare`` looked at, with the
  rules' measurements and what became of it. ``training.report`` reads both.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from realtime.io.files import TempOutput
from realtime.io.images import write_image
from training.data import LANDMARKS_FILE
from training.parsing import MASKS_FILE

__all__ = ["FACES_FILE", "REASONS_FILE", "REJECTED", "Rejection", "mark_faces", "move_to_rejected", "read_faces",
           "read_reasons",
           "update_npz", "write_faces", "write_rejected"]  # fmt: skip

REJECTED = "rejected"
REASONS_FILE = "reasons.csv"
FACES_FILE = "faces.csv"
FACE_FIELDS = ["identity", "file", "source", "status", "roll", "yaw", "pitch", "coverage", "sharpness",
               "landmark_problem", "visible", "hair"]  # fmt: skip
REASON_FIELDS = ["file", "reason", "value", "note"]
Rejection = tuple[str, str, float, str]  # file name, reason, the measured value, a note


def update_npz(path: Path, add: dict[str, np.ndarray], remove: Iterable[str] = ()) -> None:
    """Rewrite ``path`` with ``add`` merged in and ``remove`` left out (deleted when it ends up empty)."""
    arrays: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
    for name in remove:
        arrays.pop(name, None)
    arrays.update(add)
    if not arrays:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with TempOutput(path) as temp, open(temp, "wb") as f:
        np.savez_compressed(f, **arrays)


def read_reasons(folder: Path) -> dict[str, tuple[str, float, str]]:
    """file name -> (reason, value, note) of the crops in ``folder/rejected/`` (empty when there are none)."""
    path = folder / REJECTED / REASONS_FILE
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {r["file"]: (r["reason"], float(r["value"] or "nan"), r["note"]) for r in csv.DictReader(f)}


def _add_reasons(folder: Path, rows: list[Rejection]) -> None:
    merged = read_reasons(folder)
    for name, reason, value, note in rows:
        merged[name] = (reason, value, note)
    with TempOutput(folder / REJECTED / REASONS_FILE) as temp, open(temp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REASON_FIELDS)
        for name, (reason, value, note) in sorted(merged.items()):
            writer.writerow([name, reason, "" if np.isnan(value) else f"{value:.4g}", note])


def write_rejected(folder: Path, crops: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, Rejection]]) -> None:
    """Write dropped crops into ``folder/rejected/``: (crop [S,S,3] RGB uint8, its [68,2] landmarks, its parsing
    mask or None, (name, reason, value, note)) each."""
    if not crops:
        return
    target = folder / REJECTED
    target.mkdir(parents=True, exist_ok=True)
    for crop, _, _, (name, *_rest) in crops:
        write_image(target / name, crop)
    update_npz(target / LANDMARKS_FILE, {c[3][0]: c[1].astype(np.float32) for c in crops})
    update_npz(target / MASKS_FILE, {c[3][0]: c[2] for c in crops if c[2] is not None})
    _add_reasons(folder, [c[3] for c in crops])


def move_to_rejected(folder: Path, rows: list[Rejection]) -> None:
    """Move crops of ``folder`` (by name) into ``folder/rejected/`` with their landmarks and masks entries."""
    if not rows:
        return
    target = folder / REJECTED
    target.mkdir(parents=True, exist_ok=True)
    names = [r[0] for r in rows]
    for sidecar in (LANDMARKS_FILE, MASKS_FILE):
        if not (folder / sidecar).is_file():
            continue
        with np.load(folder / sidecar) as archive:
            moving = {n: archive[n] for n in names if n in archive.files}
        update_npz(target / sidecar, moving)
        update_npz(folder / sidecar, {}, remove=moving)
    for name in names:
        shutil.move(folder / name, target / name)
    _add_reasons(folder, rows)


def read_faces(root: Path) -> list[dict[str, str]]:
    """The rows of ``root/faces.csv`` (empty when the dataset was not made by training.prepare)."""
    path = root / FACES_FILE
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def mark_faces(root: Path, statuses: dict[tuple[str, str], str]) -> None:
    """Set the status of crops in ``root/faces.csv`` (when there is one): ``statuses`` maps (identity, file name)
    to the new status."""
    rows = read_faces(root)
    for row in rows:
        row["status"] = statuses.get((row.get("identity", ""), row.get("file", "")), row.get("status", ""))
    if rows:
        _write_faces(root, rows)


def write_faces(root: Path, rows: list[dict[str, str]]) -> None:
    """Merge ``rows`` into ``root/faces.csv``: rows of the same (identity, source, file) are replaced, so running
    prepare again over the same photos does not count them twice."""
    key = ("identity", "source", "file")
    merged = {tuple(r.get(k, "") for k in key): r for r in read_faces(root)}
    merged.update({tuple(r.get(k, "") for k in key): r for r in rows})
    _write_faces(root, sorted(merged.values(), key=lambda r: tuple(r.get(k, "") for k in key)))


def _write_faces(root: Path, rows: list[dict[str, str]]) -> None:
    with TempOutput(root / FACES_FILE) as temp, open(temp, "w", newline="") as f:
        writer = csv.DictWriter(f, FACE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
