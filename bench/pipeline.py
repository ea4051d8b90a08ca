"""End-to-end speed of ``python -m realtime.swap`` on generated clips, with the time share of each stage.

For 720p and 1080p clips with one face (skimage's astronaut) and three faces (from insightface's t1.jpg) this runs
the same code as the CLI (embedded dlib analysis, classic swapper, Poisson blend, libx264 veryfast, audio copy)
and reports frames per second, the share of the processing thread's time per stage, and the floor: the same
clip decoded and re-encoded with nothing in between.

Examples:
    python bench/pipeline.py               # all four clips, saves bench/results/pipeline-<date>.json
    python bench/pipeline.py --seconds 3 --no-save

Target on the project's 2-core CPU: at least 20 fps end to end at 720p with one face.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report
from realtime.io.video import VideoReader, VideoWriter
from realtime.jobs import EncodeSettings, swap_video
from realtime.options import make_pipeline
from realtime.samples import ClipSpec, make_clip, write_source_face
from realtime.swap import build_parser

STAGES = ("detect", "landmarks", "swap", "blend", "watermark")  # FaceSwapPipeline.stage_seconds keys
CLIPS = [
    ("720p", 1280, 720, "astronaut", 1),
    ("720p", 1280, 720, "trio", 3),
    ("1080p", 1920, 1080, "astronaut", 1),
    ("1080p", 1920, 1080, "trio", 3),
]


def floor_fps(clip: Path, out: Path) -> float:
    """Frames per second of decode + encode alone (same encoder settings as the swap)."""
    start = time.perf_counter()
    n = 0
    with VideoReader(clip) as reader, VideoWriter(out, reader.info, audio_source=clip, preset="veryfast") as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
            n += 1
    return n / (time.perf_counter() - start)


def swap_run(clip: Path, source: Path, out: Path) -> dict[str, Any]:
    args = build_parser().parse_args([str(clip), str(out), "--source", str(source), "--quiet"])
    setup_start = time.perf_counter()
    pipeline = make_pipeline(args)
    setup = time.perf_counter() - setup_start
    start = time.perf_counter()
    swap_video(pipeline, clip, out, EncodeSettings(preset=args.preset, crf=args.crf))
    wall = time.perf_counter() - start
    with VideoReader(out) as reader:
        frames = sum(1 for _ in reader)
    stages = dict(pipeline.stage_seconds)
    busy = sum(stages.values())
    return {
        "frames": frames,
        "faces_per_frame": pipeline.faces_swapped / max(frames, 1),
        "fps": frames / wall,
        "setup_s": setup,
        "wall_s": wall,
        "stage_ms_per_frame": {k: 1000 * v / frames for k, v in stages.items()},
        "stage_share": {k: v / wall for k, v in stages.items()},
        "other_share": max(0.0, 1 - busy / wall),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length (default 6 s)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = write_source_face(root / "source.jpg")
        for label, width, height, face, faces in CLIPS:
            clip = make_clip(
                root / f"{label}_{face}.mp4", ClipSpec(width=width, height=height, seconds=args.seconds, face=face)
            )
            floor = floor_fps(clip, root / "floor.mp4")
            result = swap_run(clip, source, root / "out.mp4")
            share = result["stage_share"]
            rows.append(
                {
                    "clip": f"{label} {faces} face{'s' if faces > 1 else ''}",
                    "swapped_per_frame": result["faces_per_frame"],
                    "fps": result["fps"],
                    "floor_fps": floor,
                    **{f"{k}_%": 100 * share.get(k, 0.0) for k in STAGES},
                    "other_%": 100 * result["other_share"],
                    "setup_s": result["setup_s"],
                    "ms_per_frame": {k: round(v, 2) for k, v in result["stage_ms_per_frame"].items()},
                    "target": ("fps >= 20: " + ("met" if result["fps"] >= 20 else "MISSED"))
                    if (label, faces) == ("720p", 1)
                    else None,
                }
            )
    print(
        "stage shares are of the processing thread's wall time; decode and encode run on their own threads "
        "(other_% includes waiting for them)"
    )
    columns = ["clip", "swapped_per_frame", "fps", "floor_fps", *(f"{k}_%" for k in STAGES), "other_%", "setup_s",
               "target"]  # fmt: skip
    return report("pipeline", rows, columns, save=not args.no_save, extra={"seconds": args.seconds}, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
