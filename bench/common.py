"""Benchmark helpers shared by every script in bench/: timing, a printed table, dated JSON under bench/results/."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def gpu_tag() -> str:
    """The visible GPU's name as result files are tagged with it ("NVIDIA_H200"); call only with a GPU visible."""
    return torch.cuda.get_device_name(0).replace(" ", "_")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(
    fn: Callable[[], object], device: str = "cpu", *, warmup: int = 3, repeats: int = 15, min_seconds: float = 0.5
) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` calls; at least ``repeats`` timed calls and
    at least ``min_seconds`` of timing."""
    for _ in range(warmup):
        fn()
    sync(device)
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1000.0)
        if len(samples) >= 1000:
            break
    return statistics.median(samples)


def machine() -> dict[str, Any]:
    """Where the numbers were taken: CPU model and count, torch, and the GPU when one is used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows (dicts) as an aligned text table with the given columns."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return "" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def save_results(
    name: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None, tag: str | None = None
) -> Path:
    """Write {machine, rows, ...} to bench/results/<name>-<YYYY-MM-DD>[-tag].json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc)
    suffix = f"-{tag}" if tag else ""
    path = RESULTS_DIR / f"{name}-{stamp:%Y-%m-%d}{suffix}.json"
    payload = {"benchmark": name, "utc": stamp.isoformat(timespec="seconds"), "machine": machine(), "rows": rows}
    payload.update(extra or {})
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def report(
    name: str,
    rows: list[dict[str, Any]],
    columns: list[str],
    *,
    save: bool,
    extra: dict[str, Any] | None = None,
    tag: str | None = None,
    cuda_note: str | None = "CUDA: not measured (no GPU visible to this run)",
) -> int:
    """How every benchmark ends: the table, a line saying CUDA was not measured when no GPU is visible (``cuda_note``,
    None for none), and with ``save`` the dated JSON (:func:`save_results`); returns 0, the script's exit status."""
    print_table(rows, columns)
    if cuda_note and not torch.cuda.is_available():
        print(cuda_note)
    if save:
        print(f"saved {save_results(name, rows, extra=extra, tag=tag)}")
    return 0
