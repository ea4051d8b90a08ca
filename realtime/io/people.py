"""``people.json``: the people ``python -m realtime.people`` found in a video or image, which ``--people`` and
``--map ID=SOURCE`` read back. One record per person, ids 1, 2, ... by screen time, each with a representative
descriptor in the analyzer's space (so a file is only usable with the backend that wrote it, which it names)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from realtime.errors import InputError
from realtime.io.files import TempOutput

__all__ = ["PeopleFile", "PersonRecord", "read_people", "write_people"]

FORMAT = "realtime.people/1"


@dataclass
class PersonRecord:
    """One person: ``id`` (1 = most screen time), seconds on screen, first and last frame index seen, how many
    tracks were grouped into them, their crop's file name (beside the JSON) and ``embedding``, the mean descriptor
    of their tracks (float32 [D]; L2-normalised for ArcFace)."""

    id: int
    screen_time: float
    first_frame: int
    last_frame: int
    tracks: int
    crop: str
    embedding: np.ndarray


@dataclass
class PeopleFile:
    """What one ``people.json`` holds: the input it describes, the face-analysis ``backend`` (its name, e.g.
    "dlib") and descriptor length, and the people."""

    input: str
    backend: str
    people: list[PersonRecord]

    def find(self, person_id: int) -> PersonRecord | None:
        """The record with this id, or None."""
        return next((p for p in self.people if p.id == person_id), None)


def write_people(path: Path, people: PeopleFile) -> None:
    """Write ``people`` as JSON at ``path`` (through a temporary file, renamed when complete)."""
    records = [{**asdict(p), "embedding": [round(float(v), 6) for v in p.embedding]} for p in people.people]
    text = json.dumps({"format": FORMAT, "input": people.input, "backend": people.backend, "people": records}, indent=1)
    with TempOutput(path) as tmp:
        tmp.write_text(text + "\n")


def read_people(path: Path) -> PeopleFile:
    """Read a ``people.json``; InputError naming the file when it is missing or not one."""
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        people = [PersonRecord(**{**p, "embedding": np.asarray(p["embedding"], np.float32)}) for p in data["people"]]
        return PeopleFile(str(data["input"]), str(data["backend"]), people)
    except FileNotFoundError:
        raise InputError(f"people file not found: {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a people.json written by python -m realtime.people ({exc})") from None
