"""Who becomes whom: ``--map TARGET=SOURCE`` (and ``--map-file``), resolved into the descriptors that recognise
each target person and the source each one gets.

A TARGET is a people id from a ``people.json`` (``--people``, written by ``python -m realtime.people``), or an
image, folder or video of that person; a SOURCE is an image, folder or video of the new face (as ``--source``).
A map file is a JSON object ``{"TARGET": "SOURCE", ...}``; its relative paths are read from the file's folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.errors import InputError, UsageError
from realtime.faces.types import FaceAnalyzer
from realtime.io.people import PeopleFile, read_people
from realtime.source import EMBEDDED, SourceIdentity, load_source

__all__ = ["MapEntry", "PeopleMap", "build_map", "parse_map_entry", "read_map_file"]

_PERSON_ID = re.compile(r"^(?:person-)?0*(\d+)$")


@dataclass(frozen=True)
class MapEntry:
    """One ``TARGET=SOURCE`` as given (a people id or a path, and a path)."""

    target: str
    source: Path


@dataclass
class PeopleMap:
    """A resolved map: per mapped person, its name as given, its reference descriptors (float32 [K,D]) and its
    source; and the source of everyone else (None: they are left as they are)."""

    names: list[str]
    people: list[np.ndarray]
    sources: list[SourceIdentity]
    unmapped: SourceIdentity | None


def parse_map_entry(text: str) -> MapEntry:
    """``TARGET=SOURCE`` -> MapEntry; ValueError (argparse says it in one line) when either side is missing."""
    target, sep, source = text.partition("=")
    if not sep or not target.strip() or not source.strip():
        raise ValueError(f"expected TARGET=SOURCE, got {text!r}")
    return MapEntry(target.strip(), Path(source.strip()))


def read_map_file(path: Path) -> list[MapEntry]:
    """The entries of a map file (see the module notes); InputError when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"map file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the map file {path}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise InputError(f'map file {path} must be a JSON object {{"TARGET": "SOURCE", ...}} of strings')
    folder = Path(path).parent

    def near(text: str) -> str:
        return text if _PERSON_ID.match(text) or Path(text).is_absolute() else str(folder / text)

    return [MapEntry(near(target), Path(near(source))) for target, source in data.items()]


def _person_id(target: str) -> int | None:
    match = _PERSON_ID.match(target)
    return int(match.group(1)) if match and not Path(target).exists() else None


def _people_file(path: Path | None, analyzer: FaceAnalyzer, first_id: str) -> PeopleFile:
    if path is None:
        raise UsageError(f"--map {first_id}=...: a people id needs --people people.json (python -m realtime.people)")
    people = read_people(path)
    if people.backend != analyzer.name:
        raise UsageError(
            f"{path} holds {people.backend} descriptors but this run analyses faces with {analyzer.name}: "
            f"run python -m realtime.people with the same --detector"
        )
    return people


def build_map(
    entries: list[MapEntry],
    analyzer: FaceAnalyzer,
    people_path: Path | None = None,
    unmapped: Path | None = None,
    max_faces: int = 64,
    allow_incomplete: bool = False,
) -> PeopleMap:
    """Resolve ``entries`` with ``analyzer``'s detector and descriptors: UsageError for an unknown people id (the
    message lists the known ones), a person mapped twice (the same id, or targets the descriptors call the same
    person); InputError for a target or source with no face."""
    threshold = analyzer.same_person_distance
    names: list[str] = []
    people: list[np.ndarray] = []
    from_pictures: list[bool] = []
    people_file: PeopleFile | None = None
    for entry in entries:
        person_id = _person_id(entry.target)
        if person_id is not None:
            people_file = people_file or _people_file(people_path, analyzer, entry.target)
            record = people_file.find(person_id)
            if record is None:
                known = ", ".join(str(p.id) for p in people_file.people) or "none"
                raise UsageError(f"person {person_id} is not in {people_path} (known ids: {known})")
            name, descriptor = f"person {person_id}", record.embedding
        else:
            path = Path(entry.target)
            found = load_source(path, analyzer, EMBEDDED, allow_incomplete, role="--map target")
            name, descriptor = str(path), found.embedding
        for other, other_descriptor, pictures in zip(names, people, from_pictures, strict=True):
            if other == name:
                raise UsageError(f"{name} is mapped twice")
            distance = analyzer.distance(descriptor, other_descriptor[0])
            if (pictures or person_id is None) and distance < threshold:
                raise UsageError(
                    f"{other} and {name} are the same person (descriptor distance {distance:.2f} < "
                    f"{threshold:.2f}): map each person once"
                )
        names.append(name)
        people.append(np.asarray(descriptor, np.float32)[None])
        from_pictures.append(person_id is None)
    sources = [load_source(e.source, analyzer, max_faces, allow_incomplete, role="--map source") for e in entries]
    rest = (
        None if unmapped is None else load_source(unmapped, analyzer, max_faces, allow_incomplete, "--unmapped source")
    )
    return PeopleMap(names, people, sources, rest)
