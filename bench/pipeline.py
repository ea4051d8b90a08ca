"""End-to-end speed of ``python -m realtime.swap`` on generated clips, with the time share of each stage.

For 720p and 1080p clips with one face (skimage's astronaut) and three faces (from insightface's t1.jpg) this runs
the same code as the CLI (embedded dlib analysis, classic swapper with its default blend and colour, libx264
veryfast, audio copy, the CLI's thread budget) and reports frames per second, the share of the processing thread's
time per stage, and the floor: the same clip decoded and re-encoded with nothing in between. Two rows run a
random-weight SimSwap-size 224 generator (modulated identity blocks, depthwise-separable convs) on a short 720p
clip, and one the same with frames kept in torch tensors (what ``--device cuda`` runs: the frame's warps, paste
and mark in torch, the next frame analysed on a thread of its own meanwhile) on the CPU. The rows marked "busy 2"
run beside two busy loops (other processes spinning on the CPU): how the run
degrades on a loaded machine. The "classic map" row maps each of the three people to a source of their own
(``--map PHOTO=SOURCE`` three times: descriptors taken to decide who each face is, three sources in one swapper);
its target is a per-frame cost within 10% of the same clip swapped with one source for all faces.

Every row runs in a fresh process (``--one``), so no thread pool or cache of one row colours the next.

Examples:
    python bench/pipeline.py               # every row, saves bench/results/pipeline-<date>.json
    python bench/pipeline.py --seconds 3 --no-save
    python bench/pipeline.py --device cuda --rows 0 3 4 9   # on a GPU (blend, generator there; tagged JSON)

Targets on the project's 2-core CPU: at least 20 fps end to end at 720p with one face; the people map within 10%.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import realtime  # noqa: F401  (first: it sets OpenMP's wait policy before torch loads, as the CLI does)
from bench.common import gpu_tag, report

STAGES = ("detect", "landmarks", "masks", "swap", "enhance", "blend", "watermark")  # FaceSwapPipeline.stage_seconds
# (label, width, height, face image, faces in it, swapper, busy loops beside, clip seconds as a share of --seconds
# on the CPU; on CUDA every clip is --seconds long)
ROWS = [
    ("720p", 1280, 720, "astronaut", 1, "classic", 0, 1.0),
    ("720p", 1280, 720, "astronaut", 1, "classic", 2, 1.0),
    ("720p", 1280, 720, "trio", 3, "classic", 0, 1.0),
    ("720p", 1280, 720, "trio", 3, "classic map", 0, 1.0),
    ("1080p", 1920, 1080, "astronaut", 1, "classic", 0, 1.0),
    ("1080p", 1920, 1080, "trio", 3, "classic", 0, 1.0),
    ("720p", 1280, 720, "astronaut", 1, "classic+enhancer", 0, 0.5),
    ("720p", 1280, 720, "astronaut", 1, "classic+masks", 0, 0.5),
    ("720p", 1280, 720, "trio", 3, "classic+masks+enhancer", 0, 0.5),
    ("720p", 1280, 720, "astronaut", 1, "simswap224", 0, 0.25),
    ("720p", 1280, 720, "astronaut", 1, "simswap224", 2, 0.25),
    ("1080p", 1920, 1080, "astronaut", 1, "simswap224", 0, 0.25),
    # frames kept in torch tensors on the CPU, analysis a frame ahead on its own thread: what --device cuda runs,
    # here beside row 9 to show why the CPU keeps host frames by default
    ("720p", 1280, 720, "astronaut", 1, "simswap224 resident", 0, 0.25),
]


def floor_fps(clip: Path, out: Path) -> float:
    """Frames per second of decode + encode alone (same encoder settings as the swap)."""
    from realtime.io.video import VideoReader, VideoWriter

    start = time.perf_counter()
    n = 0
    with VideoReader(clip) as reader, VideoWriter(out, reader.info, audio_source=clip, preset="veryfast") as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)
            n += 1
    return n / (time.perf_counter() - start)


def neural_models(root: Path) -> list[str]:
    """A random-weight 224 generator (modulated blocks, separable convs: SimSwap's size) and ArcFace r18, as
    --model/--identity-model arguments."""
    import torch

    from realtime.models import GeneratorConfig, SwapGenerator
    from realtime.models.arcface import ARCFACE_ARCHS, IResNet
    from realtime.models.checkpoint import save_generator

    torch.manual_seed(0)
    generator = save_generator(root / "g.pt", SwapGenerator(GeneratorConfig(block="modulated", conv="separable")))
    torch.save(IResNet(ARCFACE_ARCHS["r18"]).state_dict(), root / "arcface.pth")
    return ["--model", str(generator), "--identity-model", str(root / "arcface.pth")]


def chain_models(root: Path, swapper: str) -> list[str]:
    """Options for the "+enhancer" / "+masks" rows: test-built ONNX models with the real ones' inputs and outputs
    (a 512-px enhancer, a 256-px occluder, a 512-px parser; tests/processors/onnx_models.py), so the row measures
    the chain's own work (crops, warps, blending) and the model calls apart (their compute is not the real ones')."""
    from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser

    extra = []
    if "+enhancer" in swapper:
        extra += ["--enhancer", "gfpgan", "--enhancer-model", str(write_enhancer(root / "enhancer.onnx"))]
    if "+masks" in swapper:
        extra += ["--mask", "box,occlusion,region,mouth", "--occlusion-model", str(write_occluder(root / "occ.onnx")),
                  "--parser-model", str(write_parser(root / "parser.onnx"))]  # fmt: skip
    return extra


def map_options(root: Path) -> list[str]:
    """--map options giving each of the trio's three people (person_photos 0-2, left to right) a source of their
    own (person_photos 3-5)."""
    import cv2

    from realtime.samples import person_photos

    photos = []
    for k, photo in enumerate(person_photos()[:6]):
        photos.append(root / f"person{k}.jpg")
        cv2.imwrite(str(photos[-1]), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    return [arg for k in range(3) for arg in ("--map", f"{photos[k]}={photos[k + 3]}")]


def measure(clip: Path, out: Path, extra: list[str], resident: bool | None = None) -> dict[str, Any]:
    """One swap of ``clip`` as the CLI runs it with options ``extra`` (a source or a map, models), with frames kept
    on the device as ``resident`` says (None: the CLI's choice); fps, per-stage time and setup time."""
    from realtime.jobs import EncodeSettings, swap_video
    from realtime.options import make_pipeline, make_signer
    from realtime.pipeline import FaceSwapPipeline
    from realtime.swap import build_parser
    from realtime.threads import apply_threads, plan_threads

    args = build_parser().parse_args([str(clip), str(out), "--quiet", *extra])
    budget = plan_threads(args.threads)
    apply_threads(budget)
    setup_start = time.perf_counter()
    pipeline = make_pipeline(args)
    if resident is not None:  # the same parts, frames kept as asked
        options = replace(pipeline.options, resident=resident)
        parts = (pipeline.analyzer, pipeline.swapper, options, pipeline.detection, pipeline.processors)
        pipeline = FaceSwapPipeline(*parts)
    setup = time.perf_counter() - setup_start
    result = swap_video(pipeline, clip, out, EncodeSettings(preset=args.preset, crf=args.crf, threads=budget.codec),
                        decode_threads=budget.codec, signer=make_signer(args))  # fmt: skip
    stages = dict(pipeline.stage_seconds)
    chain = stages.get("masks", 0.0) + stages.get("enhance", 0.0)
    models = sum(pipeline.processors.model_seconds.values())
    faces = max(pipeline.faces_swapped, 1)
    return {
        "chain_ms_per_face": round(1000 * (chain - models) / faces, 3),
        "chain_models_ms_per_face": round(1000 * models / faces, 3),
        "frames": result.frames,
        "faces_per_frame": pipeline.faces_swapped / max(result.frames, 1),
        "fps": result.frames / result.seconds,
        "setup_s": setup,
        "resident": pipeline.resident,
        "decoder": result.decoder,
        "stage_ms_per_frame": {k: round(1000 * v / result.frames, 2) for k, v in stages.items()},
        "stage_share": {k: v / result.seconds for k, v in stages.items()},
        "other_share": max(0.0, 1 - sum(stages.values()) / result.seconds),
    }


def one_row(row: tuple[Any, ...], seconds: float, root: Path, device: str = "cpu") -> dict[str, Any]:
    """Measure one row in this process (realtime.swap's ``--device device``), with its busy loops beside it."""
    from realtime.samples import ClipSpec, make_clip, write_source_face

    label, width, height, face, faces, swapper, busy, share = row
    share = 1.0 if device == "cuda" else share  # the short clips spare CPU time; a GPU's fps needs the full length
    clip = make_clip(root / "clip.mp4", ClipSpec(width=width, height=height, seconds=seconds * share, face=face))
    if swapper == "classic map":
        extra = map_options(root)
    else:
        extra = ["--source", str(write_source_face(root / "source.jpg"))]
        extra += neural_models(root) if swapper.startswith("simswap224") else chain_models(root, swapper)
    floor = floor_fps(clip, root / "floor.mp4") if not busy else None
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0.0)
        resident = True if swapper.endswith(" resident") else None
        result = measure(clip, root / "out.mp4", [*extra, "--device", device], resident)
    finally:
        for loop in loops:
            loop.kill()
    share_of = result["stage_share"]
    return {
        "clip": f"{label} {faces} face{'s' if faces > 1 else ''}",
        "device": device,
        "resident": result["resident"],  # the frame stayed on the device from upload to download
        "decoder": result["decoder"],  # "cuda": NVDEC decoded the clip
        "swapper": swapper,
        "busy": busy,
        "swapped_per_frame": result["faces_per_frame"],
        "fps": result["fps"],
        "floor_fps": floor,
        **{f"{k}_%": 100 * share_of.get(k, 0.0) for k in STAGES},
        "other_%": 100 * result["other_share"],
        "setup_s": result["setup_s"],
        "ms_per_frame": result["stage_ms_per_frame"],
        "chain_ms_per_face": result["chain_ms_per_face"] if "+" in swapper else None,
        "chain_models_ms_per_face": result["chain_models_ms_per_face"] if "+" in swapper else None,
        "target": _target(label, faces, swapper, busy, result),
    }


def _target(label: str, faces: int, swapper: str, busy: int, result: dict[str, Any]) -> str | None:
    """The row's target and whether it was met: 20 fps for 720p one face classic; chain overhead <= 2 ms per face."""
    if (label, faces, swapper, busy) == ("720p", 1, "classic", 0):
        return "fps >= 20: " + ("met" if result["fps"] >= 20 else "MISSED")
    if "+" in swapper:
        return "chain <= 2 ms/face: " + ("met" if result["chain_ms_per_face"] <= 2.0 else "MISSED")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length (default 6 s)")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="realtime.swap's --device")
    parser.add_argument("--rows", type=int, nargs="+", metavar="K", help="only these rows (indices into ROWS)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # measure ROWS[ONE] in this process
    args = parser.parse_args(argv)
    if args.one is not None:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(one_row(ROWS[args.one], args.seconds, Path(tmp), args.device)))
        return 0
    indices = args.rows or list(range(len(ROWS)))
    if any(not 0 <= k < len(ROWS) for k in indices):
        parser.error(f"--rows: indices 0..{len(ROWS) - 1}")
    rows = []
    for index in indices:
        cmd = [sys.executable, __file__, "--one", str(index), "--seconds", str(args.seconds), "--device", args.device]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"bench/pipeline.py: row {ROWS[index]} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {rows[-1]['clip']} {rows[-1]['swapper']} busy {rows[-1]['busy']}: {rows[-1]['fps']:.1f} fps")
    single = next((r for r in rows if (r["clip"], r["swapper"], r["busy"]) == ("720p 3 faces", "classic", 0)), None)
    for row in rows:  # the map's per-frame cost against the single-source row of the same clip
        if row["swapper"] == "classic map" and single is not None:
            row["vs_single_%"] = round(100 * (single["fps"] / row["fps"] - 1), 1)
            row["target"] = "cost <= single + 10%: " + ("met" if row["vs_single_%"] <= 10 else "MISSED")
    print(
        "stage shares are of the processing thread's wall time; decode and encode run on their own threads "
        "(other_% includes waiting for them); busy = other processes spinning beside the run; resident = the frame "
        "stayed on the device from upload to download (on a GPU, stage times are host times: GPU work not yet "
        "finished is counted where the host next waits for it)"
    )
    columns = ["clip", "swapper", "resident", "busy", "swapped_per_frame", "fps", "floor_fps",
               *(f"{k}_%" for k in STAGES), "other_%", "vs_single_%", "chain_ms_per_face",
               "chain_models_ms_per_face", "setup_s", "target"]  # fmt: skip
    tag = gpu_tag() if args.device == "cuda" else None
    extra = {"seconds": args.seconds, "device": args.device}
    return report("pipeline", rows, columns, save=not args.no_save, extra=extra, tag=tag, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
