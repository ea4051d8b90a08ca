"""The chain between swap and paste (realtime.processors) alone: its own milliseconds per face for each stage,
apart from the model calls, on a 720p frame with one face and nothing else running (no decoder or encoder
threads beside it, unlike the "+enhancer" / "+masks" rows of bench/pipeline.py, where the same work shares the
2 cores with video decoding and encoding).

Each stage runs on two paths: ``host`` (FaceChain.process: numpy results, cv2 warps) and ``device``
(FaceChain.process_on_device, what the GPU-resident pipeline runs: torch results on ``--device``, the enhancer's
crop cut and its output warped back and blended there, its crop through the host for onnxruntime). On the CPU the
device path runs the same torch code as a GPU, on the CPU; bench/device_check.py runs it with ``--device cuda``.

The models are test-built ONNX files with the real ones' inputs and outputs (tests/processors/onnx_models.py: a
512-px enhancer, a 256-px occluder, a 512-px parser), so the model column is not the real models' cost. The
chain column is everything else, what the chain itself does around the models' runs (onnxruntime's
``session.run``), split in two:
- model I/O: each model's input made from its crop (normalised, channels first) and its output read (the
  parser's 19 class scores reduced to a byte map, the enhancer's output turned into pixels);
- glue: crops of the frame at the models' sizes, the byte maps warped back into the face's box, the swapped face
  pasted into the enhancer's crop and the result blended back.

Examples:
    python bench/chain.py               # saves bench/results/chain-<date>.json
    python bench/chain.py --no-save --paths host
    python bench/chain.py --device cuda # saves bench/results/chain-<date>-<GPU>.json

Each path is timed in a process of its own; within it each stage in blocks of runs, the stages' blocks interleaved;
the table shows each stage's median block.

Target on the project's 2-core CPU: the chain's own work (everything but the model runs) <= 2 ms per face at 720p,
on the host path (the device path has none: its figure is for the GPU).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import realtime  # noqa: F401  (first: it sets OpenMP's wait policy before torch loads, as the CLI does)
from bench.common import gpu_tag, report

STAGES = {  # name -> (masks, enhancer on)
    "mouth": (("box", "mouth"), False),
    "occlusion": (("box", "occlusion"), False),
    "region": (("box", "region"), False),
    "masks": (("box", "occlusion", "region"), False),
    "enhancer": (("box",), True),
    "all": (("box", "occlusion", "region", "mouth"), True),
}


class Stage:
    """One chain configuration on the astronaut's 720p frame and one path (``device`` None: the host path), ready to
    be timed in blocks."""

    def __init__(self, name: str, root: Path, device: str | None = None) -> None:
        import torch

        from realtime.faces.dlib_backend import DlibAnalyzer
        from realtime.processors.chain import FaceChain
        from realtime.processors.enhancer import FaceEnhancer
        from realtime.processors.masks import FaceParser, Occluder
        from realtime.samples import ClipSpec, face_image, render_frame
        from realtime.swappers.base import DeviceSwapResult, SourceSet, SwapTarget
        from realtime.swappers.classic import ClassicSwapper
        from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser

        analyzer = DlibAnalyzer()
        self.frame = render_frame(face_image("astronaut"), 0.0, ClipSpec())
        source = face_image("person")
        swapper = ClassicSwapper()
        swapper.set_source(SourceSet.single(source, analyzer.detect(source)[0]))
        self.name, self.device = name, device
        self.masks, self.enhance = STAGES[name]
        self.chain = FaceChain(
            masks=self.masks,
            occluder=Occluder(write_occluder(root / "occ.onnx")) if "occlusion" in self.masks else None,
            parser=FaceParser(write_parser(root / "parser.onnx")) if "region" in self.masks else None,
            enhancer=FaceEnhancer(write_enhancer(root / "enhancer.onnx")) if self.enhance else None,
            enhancer_blend=0.8,
        )
        self.target = SwapTarget(analyzer.detect(self.frame)[0].landmarks)
        self.calls = _time_calls(self.chain)
        prepared = self.chain.prepare(self.frame, [self.target])
        self.results = swapper.swap_many(self.frame, prepared)
        if device is not None:
            self.frame_on_device = torch.from_numpy(self.frame).to(device)
            self.results_on_device = [None if r is None else DeviceSwapResult.upload(r, device) for r in self.results]
        self.run_once()  # warm-up
        self.blocks: list[tuple[float, float, float]] = []  # per-face ms: total, model runs, model calls

    def run_once(self) -> None:
        """The chain once on this stage's path: the masks read from the host frame, then the results processed."""
        targets = self.chain.prepare(self.frame, [self.target])
        if self.device is None:
            self.chain.process(self.frame, targets, self.results)
        else:
            self.chain.process_on_device(self.frame_on_device, targets, self.results_on_device)

    def time_block(self, repeats: int) -> None:
        """Run the chain ``repeats`` times on the frame and keep the block's per-face means."""
        import torch

        chain = self.chain
        runs_before, calls_before = sum(chain.model_seconds.values()), sum(self.calls.values())
        start = time.perf_counter()
        for _ in range(repeats):
            self.run_once()
        if self.device is not None and self.device.startswith("cuda"):
            torch.cuda.synchronize()  # the device path's last warps and blends are queued, not yet done
        total = time.perf_counter() - start
        runs = sum(chain.model_seconds.values()) - runs_before
        calls = sum(self.calls.values()) - calls_before
        self.blocks.append((1000 * total / repeats, 1000 * runs / repeats, 1000 * calls / repeats))

    def row(self) -> dict[str, Any]:
        """The median block (by total) as a table row."""
        total, runs, calls = sorted(self.blocks)[len(self.blocks) // 2]
        target = "none (device path)"
        if self.device is None:
            target = f"chain <= 2 ms/face: {'met' if total - runs <= 2.0 else 'MISSED'}"
        return {"stage": self.name, "path": "host" if self.device is None else f"device ({self.device})",
                "masks": ",".join(self.masks), "enhancer": self.enhance, "total_ms": total, "model_runs_ms": runs,
                "chain_ms": total - runs, "model_io_ms": calls - runs, "glue_ms": total - calls,
                "target": target}  # fmt: skip


def _time_calls(chain: Any) -> dict[str, float]:
    """Wrap the chain's model objects' public calls (input made, model run, output read) to add up their seconds."""
    seconds: dict[str, float] = {}

    def timed(name: str, call: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - begin

        return run

    for model, method in ((chain.occluder, "visible"), (chain.parser, "regions"), (chain.enhancer, "enhance")):
        if model is not None:
            seconds[method] = 0.0
            setattr(model, method, timed(method, getattr(model, method)))
    return seconds


def time_path(device: str | None, repeats: int, blocks: int) -> list[dict[str, Any]]:
    """Every stage on one path (``device`` None: the host path), timed in ``blocks`` interleaved blocks of
    ``repeats`` runs: the rows of the table."""
    from realtime.threads import apply_threads, plan_threads

    apply_threads(plan_threads(None))
    with tempfile.TemporaryDirectory() as tmp:
        stages = [Stage(name, Path(tmp), device) for name in STAGES]
        for _ in range(blocks):  # interleaved, so a slow spell of the machine touches every stage alike
            for stage in stages:
                stage.time_block(repeats)
        return [stage.row() for stage in stages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="runs per timed block (default 20)")
    parser.add_argument("--blocks", type=int, default=7, help="blocks per stage, interleaved (default 7)")
    parser.add_argument("--device", default="cpu", help="where the device path keeps its results (default cpu)")
    parser.add_argument("--paths", default="host,device", help="which paths to time: host, device or both")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--one-path", choices=["host", "device"], help=argparse.SUPPRESS)  # time it in this process
    args = parser.parse_args(argv)
    if args.one_path is not None:
        print(json.dumps(time_path(None if args.one_path == "host" else args.device, args.repeats, args.blocks)))
        return 0
    paths = args.paths.split(",")
    if not paths or set(paths) - {"host", "device"}:
        parser.error(f"--paths takes host, device or host,device, got {args.paths!r}")
    rows = []
    for path in paths:  # each in a clean process: torch's threads after the device path's warps slow the host's
        cmd = [sys.executable, __file__, "--one-path", path, "--device", args.device, "--repeats", str(args.repeats),
               "--blocks", str(args.blocks)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"bench/chain.py: the {path} path failed:\n{done.stderr[-3000:]}")
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    columns = [
        "stage",
        "path",
        "masks",
        "enhancer",
        "total_ms",
        "model_runs_ms",
        "chain_ms",
        "model_io_ms",
        "glue_ms",
        "target",
    ]
    tag = gpu_tag() if args.device.startswith("cuda") and "device" in paths else None
    extra = {"repeats": args.repeats, "blocks": args.blocks, "statistic": "median block", "device": args.device}
    return report("chain", rows, columns, save=not args.no_save, extra=extra, tag=tag, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
