"""``python -m realtime.demo CLIP``: write a demo clip (and optionally a source face) from faces that ship with
installed packages, to try realtime.swap on without any media of your own (see :mod:`realtime.samples`).

Examples:
    python -m realtime.demo demo.mp4                      # 720p, 4 s, one face, with audio
    python -m realtime.demo demo.mp4 --source-face face.jpg   # also write a source face (a person of t1.jpg)
    python -m realtime.demo group.mp4 --face group --seconds 2
    python -m realtime.demo odd.mp4 --size 641x359 --vfr --rotation 90
"""

from __future__ import annotations

import sys
from pathlib import Path

from realtime.cli import doc_parser
from realtime.samples import ClipSpec, make_clip, write_source_face


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser("python -m realtime.demo", __doc__ or "")
    parser.add_argument("output", help="clip to write (.mp4, .mov, .mkv)")
    parser.add_argument("--face", choices=["astronaut", "group", "trio"], default="astronaut")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--vfr", action="store_true", help="variable frame rate")
    parser.add_argument("--rotation", type=int, choices=[0, 90, 180, 270], default=0)
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--source-face", type=Path, help="also write a source face image (a person of t1.jpg) here")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"python -m realtime.demo: --size must be WIDTHxHEIGHT, got {args.size!r}", file=sys.stderr)
        return 2
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
    print(make_clip(args.output, spec))
    if args.source_face:
        print(write_source_face(args.source_face))
    return 0


if __name__ == "__main__":
    sys.exit(main())
