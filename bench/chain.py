"""The chain between swap and paste (realtime.processors) alone: its own milliseconds per face for each stage,
apart from the model calls, on a 720p frame with one face and nothing else running (no decoder or encoder
threads beside it, unlike the "+enhancer" / "+masks" rows of bench/pipeline.py, where the same work shares the
2 cores with video decoding and encoding).

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
    python bench/chain.py --no-save

Target on the project's 2-core CPU: the chain's own work (everything but the model runs) <= 2 ms per face at 720p.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import realtime  # noqa: F401  (first: it sets OpenMP's wait policy before torch loads, as the CLI does)
from bench.common import report

STAGES = {  # name -> (masks, enhancer on)
    "mouth": (("box", "mouth"), False),
    "occlusion": (("box", "occlusion"), False),
    "region": (("box", "region"), False),
    "masks": (("box", "occlusion", "region"), False),
    "enhancer": (("box",), True),
    "all": (("box", "occlusion", "region", "mouth"), True),
}


def measure(stage: str, root: Path, repeats: int) -> dict[str, Any]:
    """Per-face milliseconds of one chain configuration: total, inside the models, and the chain's own rest."""
    from realtime.faces.dlib_backend import DlibAnalyzer
    from realtime.processors.chain import FaceChain
    from realtime.processors.enhancer import FaceEnhancer
    from realtime.processors.masks import FaceParser, Occluder
    from realtime.samples import ClipSpec, face_image, render_frame
    from realtime.swappers.base import SourceSet, SwapTarget
    from realtime.swappers.classic import ClassicSwapper
    from realtime.threads import apply_threads, plan_threads
    from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser

    apply_threads(plan_threads(None))
    analyzer = DlibAnalyzer()
    frame = render_frame(face_image("astronaut"), 0.0, ClipSpec())
    source = face_image("person")
    swapper = ClassicSwapper()
    swapper.set_source(SourceSet.single(source, analyzer.detect(source)[0]))
    masks, enhance = STAGES[stage]
    chain = FaceChain(
        masks=masks,
        occluder=Occluder(write_occluder(root / "occ.onnx")) if "occlusion" in masks else None,
        parser=FaceParser(write_parser(root / "parser.onnx")) if "region" in masks else None,
        enhancer=FaceEnhancer(write_enhancer(root / "enhancer.onnx")) if enhance else None,
        enhancer_blend=0.8,
    )
    target = SwapTarget(analyzer.detect(frame)[0].landmarks)
    wrapped = _time_calls(chain)
    prepared = chain.prepare(frame, [target])
    results = swapper.swap_many(frame, prepared)
    chain.process(frame, prepared, results)  # warm-up
    runs_before, calls_before = sum(chain.model_seconds.values()), sum(wrapped.values())
    start = time.perf_counter()
    for _ in range(repeats):
        chain.process(frame, chain.prepare(frame, [target]), results)
    total = (time.perf_counter() - start) / repeats * 1000
    runs = (sum(chain.model_seconds.values()) - runs_before) / repeats * 1000
    calls = (sum(wrapped.values()) - calls_before) / repeats * 1000
    return {"stage": stage, "masks": ",".join(masks), "enhancer": enhance, "total_ms": total, "model_runs_ms": runs,
            "chain_ms": total - runs, "model_io_ms": calls - runs, "glue_ms": total - calls,
            "target": "chain <= 2 ms/face: " + ("met" if total - runs <= 2.0 else "MISSED")}  # fmt: skip


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=60, help="timed runs per stage (default 60)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(stage, Path(tmp), args.repeats) for stage in STAGES]
    columns = [
        "stage",
        "masks",
        "enhancer",
        "total_ms",
        "model_runs_ms",
        "chain_ms",
        "model_io_ms",
        "glue_ms",
        "target",
    ]
    return report("chain", rows, columns, save=not args.no_save, extra={"repeats": args.repeats}, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
