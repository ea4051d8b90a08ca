"""``python -m realtime.env``: report torch, CUDA and which compiled kernels are available, for bug reports.

Examples:
    python -m realtime.env            # human-readable table
    python -m realtime.env --json     # machine-readable

Exit status: 0 when the extension is loaded, 1 when it is not (so scripts can check the install).
"""

from __future__ import annotations

import json
import platform
import sys
from typing import Any

import torch

from realtime.cli import doc_parser
from realtime.ops import _dispatch


def collect() -> dict[str, Any]:
    """Everything the report prints, as a dict of plain values (strings, bools, lists)."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda or "none (CPU build)",
        "cuda_available": torch.cuda.is_available(),
        "torch_num_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["gpus"] = [
            f"{torch.cuda.get_device_name(i)} (sm_{''.join(map(str, torch.cuda.get_device_capability(i)))})"
            for i in range(torch.cuda.device_count())
        ]
        info["torch_arch_list"] = torch.cuda.get_arch_list()
    build = _dispatch.build_info()
    info["extension_loaded"] = build["loaded"]
    if build["loaded"]:
        info["extension_kernels"] = build["kernels"].split(",")
        info["extension_devices"] = ["cpu"] + (["cuda"] if build.get("cuda") else [])
        info["extension_built_with_torch"] = build.get("torch_version", "?")
        if build.get("cuda"):
            info["extension_cuda_version"] = build.get("cuda_version", "?")
            info["extension_cuda_archs"] = build.get("cuda_arch_list", "?")
    else:
        info["extension_error"] = build["error"]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser("python -m realtime.env", __doc__ or "")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key:<{width}}  {shown}")
    return 0 if info["extension_loaded"] else 1


if __name__ == "__main__":
    sys.exit(main())
