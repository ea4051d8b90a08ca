"""Benchmark the custom ops: extension vs PyTorch reference (and vs cv2.seamlessClone for the blend).

Examples:
    python bench/ops.py                 # CPU (and CUDA when a GPU is visible), prints a table, saves JSON
    python bench/ops.py --device cuda   # one device only
    python bench/ops.py --quick         # fewer shapes, for a smoke run
    python bench/ops.py --write-auto    # also rewrite realtime/ops/auto_impl.json for the devices measured

Targets (this project's 2-core CPU): seamless_blend faster than cv2.seamlessClone for a 256x320 face on a 720p
frame; depthwise extension no slower than torch's own conv at [1,256,56,56] k=3; modulated conv extension no slower
than its reference. The table's last column says whether each target row is met. Results go to
bench/results/ops-<date>[-<gpu>].json.

``--write-auto`` turns the rows into the table ``impl="auto"`` reads (realtime/ops/auto_impl.json): per op,
device, layout and dtype, the custom kernel when its geometric-mean speed over the measured shapes is at least the
reference's, else the reference (ATen's own ops); forward rows decide inference, forward+backward rows the
``<op>:train`` entries used for calls with gradients. Rows of other devices already in the table are kept. The CPU
is measured in float32 (NCHW for the modulated conv); CUDA also in float16 and bfloat16, and the modulated conv in
channels_last too, the forms the generator takes there.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("REALTIME_REQUIRE_EXT", "1")  # never time a silent fallback

import numpy as np
import torch

from bench.common import gpu_tag, median_ms, report
from realtime.ops import depthwise_conv2d, modulated_conv2d, seamless_blend
from realtime.ops._dispatch import AUTO_TABLE, TRAIN_SUFFIX


def _bench_pair(
    op: str,
    shape: str,
    device: str,
    ext_fn,
    ref_fn,
    target: str | None = None,  # type: ignore[no-untyped-def]
    anchor_ms: float | None = None,
    anchor_name: str | None = None,
    layout: str = "contiguous",
    dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    ext = median_ms(ext_fn, device)
    ref = median_ms(ref_fn, device)
    row: dict[str, Any] = {
        "op": op,
        "shape": shape,
        "device": device,
        "layout": layout,
        "dtype": str(dtype).removeprefix("torch."),
        "ext_ms": ext,
        "ref_ms": ref,
        "speedup_vs_ref": ref / ext,
    }
    if anchor_ms is not None:
        row["anchor"] = anchor_name
        row["anchor_ms"] = anchor_ms
        row["speedup_vs_anchor"] = anchor_ms / ext
    if target == "ref":
        row["target"] = "ext <= ref: " + ("met" if ext <= ref * 1.02 else "MISSED")
    elif target == "anchor" and anchor_ms is not None:
        row["target"] = f"ext < {anchor_name}: " + ("met" if ext < anchor_ms else "MISSED")
    return row


def _warm_torch_depthwise(x: torch.Tensor, weight: torch.Tensor, stride: int, pad: int) -> None:
    """Put torch's own depthwise conv on its fast path before timing it (fair to the reference).

    Measured here: in a fresh process torch's batch-1 NCHW depthwise conv runs ~10x slower (3.9 ms vs 0.35 ms at
    [1,256,56,56]) until some call with batch > 1 or with autograd has run; then it stays fast.
    """
    groups = x.shape[1]
    torch.nn.functional.conv2d(torch.cat([x, x]), weight, stride=stride, padding=pad, groups=groups)
    xg = x.clone().requires_grad_()
    torch.nn.functional.conv2d(xg, weight, stride=stride, padding=pad, groups=groups).sum().backward()


def layout_name(layout: torch.memory_format) -> str:
    """The auto table's name of a memory layout ("contiguous" or "channels_last")."""
    return "channels_last" if layout == torch.channels_last else "contiguous"


def dtypes_for(device: str) -> list[torch.dtype]:
    """The dtypes the ops are measured in: float32 on the CPU; on CUDA also the generator's float16 (inference)
    and bfloat16 (training with --amp bf16), so impl="auto" has a measured choice for each."""
    return [torch.float32] + ([torch.float16, torch.bfloat16] if device == "cuda" else [])


def bench_depthwise(device: str, quick: bool) -> list[dict[str, Any]]:
    rows = []
    shapes = [
        ((1, 256, 56, 56), 3, 1, 1, True),
        ((8, 64, 56, 56), 3, 1, 1, False),
        ((1, 128, 112, 112), 7, 2, 3, False),
    ]
    for (n, c, h, w), k, stride, pad, is_target in shapes[: 1 if quick else None]:
        for layout, dtype in itertools.product((torch.contiguous_format, torch.channels_last), dtypes_for(device)):
            x = torch.randn(n, c, h, w, device=device, dtype=dtype).contiguous(memory_format=layout)
            weight = torch.randn(c, 1, k, k, device=device, dtype=dtype)
            _warm_torch_depthwise(x, weight, stride, pad)
            named = layout_name(layout)
            shape = f"[{n},{c},{h},{w}]{' ' + named if layout == torch.channels_last else ''} k={k} s={stride}"
            rows.append(
                _bench_pair(
                    "depthwise_conv2d fwd",
                    shape,
                    device,
                    lambda x=x, w=weight, s=stride, p=pad: depthwise_conv2d(x, w, stride=s, padding=p, impl="ext"),
                    lambda x=x, w=weight, s=stride, p=pad: depthwise_conv2d(x, w, stride=s, padding=p, impl="ref"),
                    target="ref" if is_target and named == "contiguous" and dtype == torch.float32 else None,
                    layout=named,
                    dtype=dtype,
                )
            )
            xg, wg = x.clone().requires_grad_(), weight.clone().requires_grad_()

            def fwd_bwd(impl: str, xg=xg, wg=wg, s=stride, p=pad) -> None:  # type: ignore[no-untyped-def]
                depthwise_conv2d(xg, wg, stride=s, padding=p, impl=impl).sum().backward()

            rows.append(
                _bench_pair(
                    "depthwise_conv2d fwd+bwd",
                    shape,
                    device,
                    lambda: fwd_bwd("ext"),
                    lambda: fwd_bwd("ref"),
                    layout=named,
                    dtype=dtype,
                )
            )
    return rows


def bench_modulated(device: str, quick: bool) -> list[dict[str, Any]]:
    rows = []
    shapes = [(4, 256, 256, 32, 3), (1, 512, 512, 28, 3), (8, 128, 128, 64, 3)]
    # channels_last on CUDA only: the generator runs so there (float16); on the CPU it stays NCHW
    layouts = [torch.contiguous_format] + ([torch.channels_last] if device == "cuda" else [])
    for (n, c, o, size, k), layout, dtype in itertools.product(
        shapes[: 1 if quick else None], layouts, dtypes_for(device)
    ):
        x = torch.randn(n, c, size, size, device=device, dtype=dtype).contiguous(memory_format=layout)
        weight = torch.randn(o, c, k, k, device=device, dtype=dtype)
        styles = torch.randn(n, c, device=device, dtype=dtype) + 1
        named = layout_name(layout)
        shape = f"[{n},{c},{size},{size}]{' ' + named if layout == torch.channels_last else ''}->{o} k={k}"
        is_target = named == "contiguous" and dtype == torch.float32
        rows.append(
            _bench_pair(
                "modulated_conv2d fwd",
                shape,
                device,
                lambda x=x, w=weight, s=styles: modulated_conv2d(x, w, s, padding=1, impl="ext"),
                lambda x=x, w=weight, s=styles: modulated_conv2d(x, w, s, padding=1, impl="ref"),
                target="ref" if is_target else None,
                layout=named,
                dtype=dtype,
            )
        )
        xg, wg, sg = x.clone().requires_grad_(), weight.clone().requires_grad_(), styles.clone().requires_grad_()

        def fwd_bwd(impl: str, xg=xg, wg=wg, sg=sg) -> None:  # type: ignore[no-untyped-def]
            modulated_conv2d(xg, wg, sg, padding=1, impl=impl).sum().backward()

        rows.append(
            _bench_pair(
                "modulated_conv2d fwd+bwd",
                shape,
                device,
                lambda: fwd_bwd("ext"),
                lambda: fwd_bwd("ref"),
                target="ref" if is_target else None,
                layout=named,
                dtype=dtype,
            )
        )
    return rows


def _face_frame(height: int, width: int, face_h: int, face_w: int, device: str):  # type: ignore[no-untyped-def]
    """A natural 720p/1080p frame (skimage astronaut), a horizontally flipped source, and an elliptic face mask."""
    from skimage import data

    img = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float()[None] / 255
    dst = torch.nn.functional.interpolate(img, size=(height, width), mode="bilinear", align_corners=False)
    src = torch.flip(dst, dims=[3]).contiguous()
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    cy, cx = height / 2, width / 2
    mask = (((yy - cy) / (face_h / 2)) ** 2 + ((xx - cx) / (face_w / 2)) ** 2 < 1)[None, None].to(torch.uint8)
    return dst.to(device), src.to(device), mask.to(device)


def bench_blend(device: str, quick: bool) -> list[dict[str, Any]]:
    import cv2

    rows = []
    faces = [(320, 256, True), (160, 128, False), (640, 512, False)]
    for face_h, face_w, is_target in faces[: 1 if quick else None]:
        dst, src, mask = _face_frame(720, 1280, face_h, face_w, device)
        anchor = None
        if device == "cpu":
            d8 = (dst[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            s8 = (src[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
            m8 = mask[0, 0].numpy() * 255
            anchor = median_ms(lambda d8=d8, s8=s8, m8=m8: cv2.seamlessClone(s8, d8, m8, (640, 360), cv2.NORMAL_CLONE))
        rows.append(
            _bench_pair(
                "seamless_blend",
                f"{face_w}x{face_h} face on 720p",
                device,
                lambda d=dst, s=src, m=mask: seamless_blend(d, s, m, impl="ext"),
                lambda d=dst, s=src, m=mask: seamless_blend(d, s, m, impl="ref"),
                target="anchor" if is_target and anchor is not None else None,
                anchor_ms=anchor,
                anchor_name="cv2.seamlessClone" if anchor is not None else None,
            )
        )
    return rows


def write_auto_table(rows: list[dict[str, Any]], path: Path = AUTO_TABLE) -> dict[str, dict[str, Any]]:
    """Rewrite the auto table at ``path`` from the forward rows of ``rows`` (see the module notes); returns the
    choices written for the devices measured."""
    import datetime as dt
    import json

    from bench.common import machine

    speedups: dict[str, list[float]] = {}
    for row in rows:  # forward rows decide inference, forward+backward rows training (the <op>:train entries)
        op = row["op"].removesuffix(" fwd").replace(" fwd+bwd", TRAIN_SUFFIX)
        key = f"{op}|{row['device']}|{row['layout']}|{row['dtype']}"
        speedups.setdefault(key, []).append(row["speedup_vs_ref"])
    fresh = {}
    for key, values in sorted(speedups.items()):
        mean = float(np.exp(np.mean(np.log(values))))
        fresh[key] = {"impl": "ext" if mean >= 1.0 else "ref", "ext_speedup": round(mean, 3), "shapes": len(values)}
    table = json.loads(path.read_text()) if path.exists() else {"choices": {}, "measured": {}}
    devices = {row["device"] for row in rows}
    table["choices"] = {k: v for k, v in table["choices"].items() if k.split("|")[1] not in devices} | fresh
    stamp = dt.datetime.now(dt.timezone.utc).date().isoformat()
    for device in devices:
        where = torch.cuda.get_device_name(0) if device == "cuda" else machine()["cpu"]
        table["measured"][device] = {"on": f"{where} ({machine()['cpu_count']} cores)", "date": stamp}
    table["choices"] = dict(sorted(table["choices"].items()))
    path.write_text(json.dumps(table, indent=1) + "\n")
    return fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--quick", action="store_true", help="one shape per op")
    parser.add_argument("--no-save", action="store_true", help="print only, write no JSON")
    parser.add_argument("--write-auto", action="store_true", help="rewrite impl='auto''s table for these devices")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    if args.device == "cuda" and not devices:
        print("bench/ops.py: --device cuda but no GPU is visible", file=sys.stderr)
        return 1
    rows: list[dict[str, Any]] = []
    for device in devices:
        rows += (
            bench_depthwise(device, args.quick) + bench_modulated(device, args.quick) + bench_blend(device, args.quick)
        )
    tag = gpu_tag() if "cuda" in devices else None
    if args.write_auto:
        for key, entry in write_auto_table(rows).items():
            print(f"auto: {key} -> {entry['impl']} (custom kernel {entry['ext_speedup']:.2f}x the reference)")
    columns = ["op", "shape", "device", "layout", "dtype", "ext_ms", "ref_ms", "speedup_vs_ref", "anchor_ms", "target"]
    return report("ops", rows, columns, save=not args.no_save, tag=tag)


if __name__ == "__main__":
    sys.exit(main())
