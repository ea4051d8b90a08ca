"""python -m realtime.export: generators written by our code become ONNX graphs that onnxruntime runs with the
same results as torch, at any batch size; mistakes exit cleanly."""

from __future__ import annotations

from pathlib import Path
from subprocess import CompletedProcess

import numpy as np
import pytest
import torch

from realtime.models import GeneratorConfig, SwapGenerator, set_ops_impl
from realtime.models.checkpoint import save_generator
from tests.cli import CliResult, call_main, run_module


def run(*args: object, subprocess: bool = False) -> CliResult | CompletedProcess[str]:
    """realtime.export's main in this process, or ``python -m realtime.export`` with ``subprocess``."""
    return run_module("realtime.export", *args) if subprocess else call_main("realtime.export", *args)


@pytest.mark.parametrize(
    "config",
    [GeneratorConfig(resolution=224, id_blocks=2, width=8),
     GeneratorConfig(resolution=256, id_blocks=2, width=8, block="modulated", conv="separable")],
    ids=["adain-standard-224", "modulated-separable-256"],
)  # fmt: skip
def test_export_matches_torch_at_any_batch(tmp_path: Path, config: GeneratorConfig, gen: torch.Generator) -> None:
    import onnxruntime

    model = SwapGenerator(config).eval()
    checkpoint = save_generator(tmp_path / "g.pt", model)
    out = tmp_path / "g.onnx"
    result = run(checkpoint, out, subprocess=config.block == "adain")  # the real entry point, once
    assert result.returncode == 0, result.stderr
    assert "onnxruntime vs torch max |diff|" in result.stdout
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    r = config.resolution
    for batch in (1, 3):
        target = torch.rand(batch, 3, r, r, generator=gen)
        identity = torch.nn.functional.normalize(torch.randn(batch, 512, generator=gen), dim=1)
        with torch.no_grad():
            expected = set_ops_impl(model, "ref")(target, identity).numpy()
        got = session.run(None, {"target": target.numpy(), "identity": identity.numpy()})[0]
        assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-4


def test_export_mistakes(tmp_path: Path) -> None:
    checkpoint = save_generator(tmp_path / "g.pt", SwapGenerator(GeneratorConfig(id_blocks=1, width=8)))
    cases = [
        ((checkpoint, tmp_path / "g.pt2"), 2, "must end in .onnx"),
        ((tmp_path / "missing.pt", tmp_path / "g.onnx"), 1, "not found"),
        ((checkpoint, tmp_path / "no" / "g.onnx"), 1, "output folder does not exist"),
    ]
    for args, code, message in cases:
        result = run(*args)
        assert result.returncode == code and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "g.onnx").exists()
