"""The torch.compile check of the neural swap tests, run as ``python -m tests.compile_check OUT.json`` in a process
of its own while the rest of the suite runs: compiling the generator costs ~35 s of mostly waiting on the C++
compiler on a 2-core CPU, and other tests can use that time. It writes the largest difference between the compiled
and the eager generator, for one face and for a frame of three; inductor's on-disk cache then makes the test's own
end-to-end ``--compile`` run quick. ``tests/test_swap_neural.py`` starts it (see conftest) and asserts on it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from realtime.models import GeneratorConfig, SwapGenerator


def small_generator() -> SwapGenerator:
    """The small generator the neural swap tests use (seeded: every process builds the same weights)."""
    torch.manual_seed(0)
    return SwapGenerator(GeneratorConfig(resolution=224, id_blocks=2, block="modulated", conv="separable", width=8))


def compiled_vs_eager() -> dict[str, float]:
    """Largest |compiled - eager| (0-255 scale) at batch 1 and 3, and how long compiling took."""
    from realtime.swappers.neural import GeneratorEngine

    generator = small_generator().eval()
    eager, compiled = GeneratorEngine(generator), GeneratorEngine(generator, compile=True)
    identity = np.random.default_rng(1).standard_normal(512).astype(np.float32)
    identities = eager.identity(identity / np.linalg.norm(identity))[None]
    crops = np.random.default_rng(2).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    start = time.perf_counter()
    result = {}
    for batch in (crops[:1], crops):
        ids = identities.repeat(len(batch), 0)
        result[f"batch{len(batch)}"] = float(np.abs(compiled.run(batch, ids) - eager.run(batch, ids)).max())
    result["seconds"] = time.perf_counter() - start
    return result


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(compiled_vs_eager()))
