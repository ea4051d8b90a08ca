"""``python -m realtime.demo CLIP``: write a demo clip (and optionally a source face) from faces that ship with
installed packages, to try realtime.swap on without any media of your own (see :mod:`realtime.samples`).

Examples:
    python -m realtime.demo demo.mp4 --source-face face.jpg   # 720p, 4 s, one face, audio; and a face to swap in
    python -m realtime.demo group.mp4 --face group --seconds 2
    python -m realtime.demo odd.mp4 --size 641x359 --vfr --rotation 90
"""

from __future__ import annotations

import sys
from pathlib import Path

from realtime.cli import doc_parser, run_cli
from realtime.errors import UsageError
from realtime.io.files import TempOutput
from realtime.io.images import IMAGE_SUFFIXES
from realtime.samples import FACES, ClipSpec, make_clip, write_source_face

PROG = "python -m realtime.demo"


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("output", type=Path, help="clip to write (.mp4, .mov, .mkv)")
    parser.add_argument("--face", choices=FACES, default="astronaut", help="the package picture filmed")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--vfr", action="store_true", help="variable frame rate")
    parser.add_argument("--rotation", type=int, choices=[0, 90, 180, 270], default=0)
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--source-face", type=Path, help="also write a source face image (a person of t1.jpg) here")
    parser.add_argument("--quiet", action="store_true", help="do not print the paths written")
    args = parser.parse_args(argv)

    def body() -> int:
        try:
            width, height = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise UsageError(f"--size must be WIDTHxHEIGHT, got {args.size!r}") from None
        if width < 16 or height < 16 or args.seconds <= 0 or args.fps < 1:
            raise UsageError("--size needs sides of at least 16 px, --seconds > 0 and --fps >= 1")
        if args.output.suffix.lower() not in (".mp4", ".mov", ".mkv"):
            raise UsageError(f"the clip must be .mp4, .mov or .mkv, got {args.output.name!r}")
        if args.source_face is not None and args.source_face.suffix.lower() not in IMAGE_SUFFIXES:
            raise UsageError(f"--source-face must be an image (.jpg, .png ...), got {args.source_face.name!r}")
        spec = ClipSpec(
            width=width,
            height=height,
            seconds=args.seconds,
            fps=args.fps,
            face=args.face,
            audio=not args.no_audio,
            vfr=args.vfr,
            rotation=args.rotation,
        )
        with TempOutput(args.output) as temp:
            make_clip(temp, spec)
        written = [args.output]
        if args.source_face:
            with TempOutput(args.source_face) as temp:
                write_source_face(temp)
            written.append(args.source_face)
        if not args.quiet:
            print("\n".join(map(str, written)))
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
