"""``python -m realtime.people VIDEO_OR_IMAGE OUT_DIR``: who is in a video or image, for ``--map`` to use.

Faces are tracked through the video, the tracks grouped into people by their descriptors (ArcFace with an
insightface pack, the embedded dlib descriptor otherwise), and OUT_DIR gets:
  person-01.jpg, person-02.jpg, ...  the clearest view of each person, most screen time first
  people.json                        id, screen time, first/last frame, tracks, descriptor, backend
  people.png                         a contact sheet: each face with its id under it

Examples:
    python -m realtime.people party.mp4 people/
    python -m realtime.swap party.mp4 out.mp4 --people people/people.json --map 1=alice.jpg --map 3=bob/
    python -m realtime.people group.jpg group_people/ --min-seconds 0

Exit status: 0 done (also when no face is found: people.json lists nobody, with a warning), 1 an input or output
problem, 2 a usage error, 130 interrupted. Each file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.faces.people import FoundPerson, PeopleScan
from realtime.faces.tracker import SceneCutDetector
from realtime.faces.types import FaceAnalyzer
from realtime.io.files import output_folder
from realtime.io.images import IMAGE_SUFFIXES, read_image, write_image
from realtime.io.people import PeopleFile, PersonRecord, write_people
from realtime.io.video import VIDEO_SUFFIXES, VideoReader
from realtime.models.store import ModelStore
from realtime.options import add_analysis_arguments, check_analysis_args, make_analyzer
from realtime.threads import ThreadBudget, apply_threads, plan_threads

PROG = "python -m realtime.people"
SHEET_FACE = 160  # contact sheet tile side, pixels


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("input", type=Path, help="video (.mp4 .mov .mkv .webm .avi) or image (.jpg .png ...)")
    parser.add_argument("out_dir", type=Path, help="folder for the crops, people.json and people.png (created)")
    add_analysis_arguments(parser)
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=0.5,
        help="leave out faces on screen for less than this in a video (false detections, glimpses; default 0.5)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads (default: the cores this process may use)"
    )
    parser.add_argument("--allow-truncated", action="store_true", help="read a damaged video as far as it decodes")
    add_quiet_debug(parser, "no progress bar or notes (errors still print)")
    return parser


def _scan_video(
    args: argparse.Namespace, analyzer: FaceAnalyzer, budget: ThreadBudget
) -> tuple[list[FoundPerson], float]:
    """The people of a video (decoded with ``budget.codec`` threads), and its frame rate."""
    with VideoReader(args.input, allow_incomplete=args.allow_truncated, threads=budget.codec) as reader:
        fps = float(reader.info.fps)
        scan = PeopleScan(analyzer, every=args.detect_every)
        cuts = SceneCutDetector()
        with tqdm(total=reader.info.frames or None, unit="frame", disable=not show_progress(args.quiet)) as bar:
            for frame in reader:
                faces = scan.add(frame.image, frame.index, frame.time, cuts(frame.image))
                bar.update(1)
                bar.set_postfix(faces=faces, refresh=False)
    return scan.people(min_frames=max(1, round(args.min_seconds * fps))), fps


def _scan_image(args: argparse.Namespace, analyzer: FaceAnalyzer) -> list[FoundPerson]:
    scan = PeopleScan(analyzer, min_score=0.0)  # one frame: every face the analyzer returns counts
    scan.add(read_image(args.input), 0, 0.0)
    return scan.people()


def contact_sheet(people: list[FoundPerson], ids: list[int]) -> np.ndarray:
    """RGB uint8 sheet: each person's view in a SHEET_FACE tile, "id" under it, up to 6 a row."""
    columns = max(1, min(6, len(people)))
    rows = max(1, -(-len(people) // columns))
    label = 34
    sheet = np.full((rows * (SHEET_FACE + label), columns * SHEET_FACE, 3), 255, np.uint8)
    for k, (person, person_id) in enumerate(zip(people, ids, strict=True)):
        top, left = (k // columns) * (SHEET_FACE + label), (k % columns) * SHEET_FACE
        tile = cv2.resize(person.view, (SHEET_FACE, SHEET_FACE), interpolation=cv2.INTER_AREA)
        sheet[top : top + SHEET_FACE, left : left + SHEET_FACE] = tile
        text = str(person_id)
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)
        origin = (left + (SHEET_FACE - w) // 2, top + SHEET_FACE + label - 8)
        cv2.putText(sheet, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2, cv2.LINE_AA)
    return sheet


def _write(out_dir: Path, input_path: Path, backend: str, people: list[FoundPerson], fps: float) -> None:
    ids = list(range(1, len(people) + 1))
    records = []
    for person_id, person in zip(ids, people, strict=True):
        crop = f"person-{person_id:02d}.jpg"
        write_image(out_dir / crop, person.view)
        records.append(PersonRecord(person_id, round(person.frames / fps, 3), person.first, person.last,
                                    person.tracks, crop, person.embedding))  # fmt: skip
    written = {r.crop for r in records}
    for stale in out_dir.glob("person-*.jpg"):  # a previous run's people beyond this run's count
        if stale.name not in written:
            stale.unlink()
    write_image(out_dir / "people.png", contact_sheet(people, ids))
    write_people(out_dir / "people.json", PeopleFile(str(input_path), backend, records))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        note = notes(PROG, args.quiet)
        suffix = args.input.suffix.lower()
        if suffix not in VIDEO_SUFFIXES and suffix not in IMAGE_SUFFIXES:
            raise UsageError(f"unsupported input extension {suffix or '(none)'!r}")
        check_analysis_args(args)
        if args.min_seconds < 0:
            raise UsageError("--min-seconds must be >= 0")
        if args.threads is not None and args.threads < 1:
            raise UsageError("--threads must be >= 1")
        if not args.input.exists():
            raise InputError(f"input not found: {args.input}")
        output_folder(args.out_dir)
        budget = plan_threads(args.threads)
        apply_threads(budget)
        analyzer = make_analyzer(args, "cpu", ModelStore(), note)
        if suffix in VIDEO_SUFFIXES:
            people, fps = _scan_video(args, analyzer, budget)
        else:
            people, fps = _scan_image(args, analyzer), 1.0
        _write(args.out_dir, args.input, analyzer.name, people, fps)
        if not people:
            note(f"warning: no face found in {args.input}; people.json lists nobody")
        for k, person in enumerate(people, 1):
            note(f"person {k}: {person.frames / fps:.1f} s on screen, frames {person.first}-{person.last}, "
                 f"{person.tracks} track(s)")  # fmt: skip
        note(f"wrote {len(people)} people to {args.out_dir} (people.json, people.png)")
        return 0

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
