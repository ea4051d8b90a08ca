"""Where a CUDA call's time goes: launches or device work. For the calls whose GPU targets the first H200 run missed
(issue 16: the blend of a 256x320 face on a 720p frame, 10 ms against 1 ms; the 224 generator at batch 1 in
float16, 9-13 ms against 2 ms), this measures per call:

  wall_ms     median host time of one call, synchronised (bench.common.median_ms)
  device_ms   time the GPU spent in kernels and copies per call (torch.profiler, over ``--calls`` calls)
  launches    kernels and copies per call
  graph_ms    median time of the call replayed from a CUDA Graph as the product replays the generator
              (realtime/models/cuda_graph.py: inputs copied in, then the replay), where it can be captured (a call
              that waits on the device inside, as the blend's convergence checks do, cannot: the reason is
              recorded instead)

wall_ms far above device_ms with many launches means the call is bound by launching (host overhead), which graph
replay or fewer, fused kernels remove; wall_ms near device_ms means the kernels themselves must get faster.

Examples:
    python bench/gpu_overhead.py    # on a GPU: the table, and bench/results/gpu-overhead-<date>-<GPU>.json
    python bench/gpu_overhead.py --calls 50 --no-save
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import gpu_tag, median_ms, report
from bench.ops import _face_frame
from realtime.models import GeneratorConfig, SwapGenerator, set_ops_impl
from realtime.models.cuda_graph import GraphCaptureError, GraphedForward
from realtime.ops import seamless_blend

Call = tuple[str, Callable[..., object], tuple[torch.Tensor, ...]]  # name, function, its CUDA tensor inputs


def device_profile(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(device ms, kernels and copies) per call of ``fn``, from torch.profiler's CUDA events over ``calls`` calls."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    on_device = [e for e in prof.events() if e.device_type == DeviceType.CUDA]
    busy_us = sum(e.time_range.elapsed_us() for e in on_device)
    return busy_us / 1000.0 / calls, len(on_device) / calls


def graph_replay_ms(fn: Callable[..., object], inputs: tuple[torch.Tensor, ...]) -> tuple[float | None, str | None]:
    """Median ms of one call of ``fn(*inputs)`` replayed from a CUDA Graph as the product replays the generator
    (realtime.models.cuda_graph.GraphedForward: the inputs copied in, then the replay), or (None, why it could not
    be captured)."""
    graphed = GraphedForward(fn)  # type: ignore[arg-type]
    try:
        graphed(*inputs)
    except GraphCaptureError as exc:  # a call that waits on the device cannot be captured
        return None, str(exc)[:200]
    return median_ms(lambda: graphed(*inputs), "cuda", warmup=3, repeats=50, min_seconds=0.5), None


def measure(name: str, fn: Callable[..., object], inputs: tuple[torch.Tensor, ...], calls: int) -> dict[str, Any]:
    """One row: wall, device time, launches and graph replay of ``fn(*inputs)``."""
    wall = median_ms(lambda: fn(*inputs), "cuda", warmup=5, repeats=30, min_seconds=0.5)
    device_ms, launches = device_profile(lambda: fn(*inputs), calls)
    graph_ms, why = graph_replay_ms(fn, inputs)
    print(f"  {name}: wall {wall:.3f} ms, device {device_ms:.3f} ms, {launches:.0f} launches, graph {graph_ms}")
    return {"call": name, "wall_ms": wall, "device_ms": device_ms, "launches": launches, "graph_ms": graph_ms,
            "graph_error": why}  # fmt: skip


def cases() -> list[Call]:
    """The calls measured: the 224 generator's variants at batch 1 (auto's ops), and the blend at the target's size."""
    found: list[Call] = []
    for block, conv in [("adain", "standard"), ("modulated", "standard"), ("modulated", "separable")]:
        for dtype in (torch.float16, torch.bfloat16):
            model = SwapGenerator(GeneratorConfig(resolution=224, block=block, conv=conv)).eval()
            model = set_ops_impl(model, "auto").to("cuda", dtype, memory_format=torch.channels_last)
            target = torch.rand(1, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
            identity = torch.nn.functional.normalize(torch.randn(1, 512, device="cuda"), dim=1).to(dtype)
            name = f"generator 224 {block}/{conv} batch 1 {str(dtype).removeprefix('torch.')}"
            found.append((name, model, (target, identity)))
    # last: a capture that fails (the blend waits on its convergence checks) must not disturb the rows before it
    blend = "seamless_blend ext 256x320 face on 720p float32"
    found.append((blend, lambda d, s, m: seamless_blend(d, s, m, impl="ext"), _face_frame(720, 1280, 320, 256, "cuda")))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="calls profiled per row (default 20)")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench/gpu_overhead.py: no GPU is visible (it measures CUDA calls only)", file=sys.stderr)
        return 2
    rows = []
    for name, fn, inputs in cases():
        try:
            with torch.no_grad():
                rows.append(measure(name, fn, inputs, args.calls))
        except RuntimeError as exc:  # recorded and printed: the other rows still run
            print(f"  {name}: failed: {exc}", file=sys.stderr)
            rows.append({"call": name, "error": " ".join(str(exc).split())[:300]})
    tag = gpu_tag()
    columns = ["call", "wall_ms", "device_ms", "launches", "graph_ms", "graph_error", "error"]
    return report("gpu-overhead", rows, columns, save=not args.no_save, tag=tag, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
