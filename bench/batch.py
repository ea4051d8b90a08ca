"""``python -m realtime.batch`` on this machine: frames per second with 1 and 2 workers on a folder of clips, the
speed-up of splitting one long clip into parts, and what starting a local Ray instance costs.

Every row is a fresh ``python -m realtime.batch`` process (the real entry point), timed from start to exit, so the
Ray start-up and each worker's model loading are included, as a user sees them; the Ray row times ``ray.init`` and
``ray.shutdown`` alone in a process of their own. Clips are the astronaut scene of realtime.samples at 640x360,
30 fps, keyframes every second; the source is the package's face.

Examples:
    python bench/batch.py                       # saves bench/results/batch-<date>.json
    python bench/batch.py --clips 2 --long-seconds 10 --no-save
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report

RAY_START = """
import time
start = time.perf_counter()
import ray
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
joined = time.perf_counter()
ray.shutdown()
print(joined - start, time.perf_counter() - joined)
"""


def _batch(inputs: Path, out: Path, face: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "realtime.batch", str(inputs), "--out-dir", str(out), "--source", str(face),
               "--quiet", *extra]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench/batch.py: {' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4, help="short clips in the folder (default 4)")
    parser.add_argument("--clip-seconds", type=float, default=4.0, help="each short clip's length (default 4)")
    parser.add_argument("--long-seconds", type=float, default=16.0, help="the long clip's length (default 16)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    from realtime.samples import ClipSpec, make_clip, write_source_face

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        face = write_source_face(root / "face.jpg")
        spec = ClipSpec(width=640, height=360, seconds=args.clip_seconds, keyint=30)
        (root / "clips").mkdir()
        for k in range(args.clips):
            make_clip(root / "clips" / f"clip{k}.mp4", spec)
        frames = args.clips * round(args.clip_seconds * 30)
        for workers in (1, 2):
            wall = _batch(root / "clips", root / f"out{workers}", face, "--workers", str(workers))
            rows.append({"case": f"{args.clips} clips of {args.clip_seconds:g} s, {workers} worker(s)",
                         "frames": frames, "wall_s": wall, "fps": frames / wall})  # fmt: skip
        (root / "long").mkdir()
        make_clip(root / "long" / "long.mp4", ClipSpec(width=640, height=360, seconds=args.long_seconds, keyint=30))
        long_frames = round(args.long_seconds * 30)
        whole = _batch(root / "long", root / "whole", face, "--workers", "1", "--segment-seconds", "100000")
        split = _batch(root / "long", root / "split", face, "--workers", "2",
                       "--segment-seconds", f"{args.long_seconds / 2:g}")  # fmt: skip
        rows.append({"case": f"one {args.long_seconds:g} s clip, whole, 1 worker", "frames": long_frames,
                     "wall_s": whole, "fps": long_frames / whole})  # fmt: skip
        rows.append({"case": f"one {args.long_seconds:g} s clip, 2 parts, 2 workers", "frames": long_frames,
                     "wall_s": split, "fps": long_frames / split, "speedup": whole / split})  # fmt: skip
    timing = subprocess.run([sys.executable, "-c", RAY_START], capture_output=True, text=True, check=True)
    init_s, shutdown_s = (float(x) for x in timing.stdout.split())
    rows.append({"case": "local Ray: import + init (2 CPUs), then shutdown", "wall_s": init_s + shutdown_s,
                 "init_s": init_s, "shutdown_s": shutdown_s})  # fmt: skip
    columns = ["case", "frames", "wall_s", "fps", "speedup", "init_s", "shutdown_s"]
    return report("batch", rows, columns, save=not args.no_save)


if __name__ == "__main__":
    sys.exit(main())
