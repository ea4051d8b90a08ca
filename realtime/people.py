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

from tqdm import tqdm

from realtime.cli import add_quiet_debug, doc_parser, notes, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.io.files import output_folder
from realtime.io.images import IMAGE_SUFFIXES
from realtime.io.video import VIDEO_SUFFIXES
from realtime.jobs import find_people
from realtime.models.store import ModelStore
from realtime.options import add_analysis_arguments, check_analysis_args, make_analyzer
from realtime.threads import apply_threads, plan_threads

PROG = "python -m realtime.people"


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
        with tqdm(unit="frame", disable=not show_progress(args.quiet)) as bar:

            def on_frame(done: int, total: int | None, faces: int) -> None:
                bar.total = total
                bar.update(1)
                bar.set_postfix(faces=faces, refresh=False)

            found = find_people(analyzer, args.input, args.out_dir, every=args.detect_every,
                                min_seconds=args.min_seconds, allow_incomplete=args.allow_truncated,
                                decode_threads=budget.codec, on_frame=on_frame)  # fmt: skip
        if not found.people:
            note(f"warning: no face found in {args.input}; people.json lists nobody")
        for person in found.people:
            note(f"person {person.id}: {person.screen_time:.1f} s on screen, frames {person.first_frame}-"
                 f"{person.last_frame}, "
                 f"{person.tracks} track(s)")  # fmt: skip
        note(f"wrote {len(found.people)} people to {args.out_dir} (people.json, people.png)")
        return 0

    return run_cli(PROG, body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
