"""Swap generator speed per face: SimSwap's reference setup (AdaIN blocks, standard convs) against the research
variants (modulated-conv identity blocks, depthwise-separable convs), with the custom ops compiled (ext) and as
their PyTorch references (ref), plus parameters and GFLOPs per face, at 224 and 512.

Examples:
    python bench/generator.py                 # saves bench/results/generator-<date>.json
    python bench/generator.py --sizes 224 --no-save
    python bench/generator.py --compile       # adds torch.compile'd timings (ext ops), minutes more

CPU in float32; on CUDA (when visible) also float16 and bfloat16 with channels_last.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import gpu_tag, median_ms, report
from realtime.models import GeneratorConfig, SwapGenerator, set_ops_impl

VARIANTS = [("adain", "standard"), ("modulated", "standard"), ("adain", "separable"), ("modulated", "separable")]


def gflops(model: SwapGenerator) -> float:
    """Multiply-adds x 2 of one face, counted on the reference ops (which FlopCounterMode understands)."""
    r = model.config.resolution
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        set_ops_impl(model, "ref")(torch.rand(1, 3, r, r), torch.randn(1, 512))
    return counter.get_total_flops() / 1e9


def time_forward(
    model: SwapGenerator, device: str, dtype: torch.dtype, impl: str, repeats: int, compile: bool = False
) -> float:
    """Median ms of one face's forward pass (after a warm-up, which is also when torch.compile compiles)."""
    r = model.config.resolution
    fmt = torch.channels_last if dtype in (torch.float16, torch.bfloat16) else torch.contiguous_format
    model = set_ops_impl(model, impl).to(device, dtype, memory_format=fmt)
    forward = torch.compile(model, fullgraph=True) if compile else model
    target = torch.rand(1, 3, r, r, device=device, dtype=dtype).contiguous(memory_format=fmt)
    identity = torch.nn.functional.normalize(torch.randn(1, 512, device=device), dim=1).to(dtype)

    def step() -> None:
        with torch.no_grad():
            forward(target, identity)

    if device == "cuda":  # milliseconds per call: enough calls for a stable median, past cuDNN's first choices
        return median_ms(step, device, warmup=5, repeats=max(repeats, 20), min_seconds=0.5)
    return median_ms(step, device, warmup=1, repeats=repeats, min_seconds=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(fullgraph=True), ext ops")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    targets = [("cpu", torch.float32)]
    if torch.cuda.is_available():
        targets += [("cuda", torch.float32), ("cuda", torch.float16), ("cuda", torch.bfloat16)]
    rows: list[dict[str, Any]] = []
    for size in args.sizes:
        for block, conv in VARIANTS:
            model = SwapGenerator(GeneratorConfig(resolution=size, block=block, conv=conv)).eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            flops = gflops(model)
            custom = not (block == "adain" and conv == "standard")  # the reference setup has no custom op
            for device, dtype in targets:
                row = {"size": size, "block": block, "conv": conv, "params_M": params, "gflops": flops,
                       "device": device, "dtype": str(dtype).removeprefix("torch.")}  # fmt: skip
                row["ext_ms"] = time_forward(model, device, dtype, "ext", args.repeats) if custom else None
                row["ref_ms"] = time_forward(model, device, dtype, "ref", args.repeats)
                if args.compile:
                    row["compiled_ms"] = time_forward(model, device, dtype, "auto", args.repeats, compile=True)
                rows.append(row)
                print(
                    f"  {size} {block}/{conv} {device} {row['dtype']}: ext {row['ext_ms']} ref {row['ref_ms']:.1f} "
                    f"compiled {row.get('compiled_ms')} ms"
                )
    columns = ["size", "block", "conv", "params_M", "gflops", "device", "dtype", "ext_ms", "ref_ms"]
    tag = gpu_tag() if torch.cuda.is_available() else None
    columns += ["compiled_ms"] if args.compile else []
    return report("generator", rows, columns, save=not args.no_save, tag=tag)


if __name__ == "__main__":
    sys.exit(main())
