"""``python -m realtime.people`` on a long 720p clip: wall time against the clip's own duration.

The clip is the crowd scene of realtime.samples (three people, two crossing) at 1280x720, 30 fps, rendered once;
the scan runs in a fresh process (the real entry point), timed from start to exit, models loading included.

Examples:
    python bench/people.py                  # a 120 s clip, saves bench/results/people-<date>.json
    python bench/people.py --seconds 20 --no-save

Target on the project's 2-core CPU: a 2-minute 720p clip scanned in about its own duration or less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="clip length (default 120 s)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    from realtime.samples import ClipSpec, make_clip

    with tempfile.TemporaryDirectory() as tmp:
        spec = ClipSpec(width=1280, height=720, seconds=args.seconds, fps=30, face="crowd")
        clip = make_clip(Path(tmp) / "crowd.mp4", spec)
        start = time.perf_counter()
        command = [sys.executable, "-m", "realtime.people", str(clip), str(Path(tmp) / "people"), "--quiet"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"bench/people.py: realtime.people failed:\n{done.stderr[-3000:]}")
        people = json.loads((Path(tmp) / "people" / "people.json").read_text())["people"]
    ratio = wall / args.seconds
    row = {
        "clip": f"{spec.width}x{spec.height} {spec.fps} fps",
        "clip_s": args.seconds,
        "wall_s": wall,
        "wall_per_clip_s": ratio,
        "fps": spec.fps * args.seconds / wall,
        "people": len(people),
        "target": "wall <= clip duration: " + ("met" if ratio <= 1.0 else "MISSED"),
    }
    columns = ["clip", "clip_s", "wall_s", "wall_per_clip_s", "fps", "people", "target"]
    return report("people", [row], columns, save=not args.no_save, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
