"""python -m realtime.swap with the neural swapper: a checkpoint written by our code (tiny, random weights) and a
random-weight ArcFace run end to end on a generated clip; model-file mistakes give clear errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.demo import ClipSpec, make_clip, write_source_face
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.video import probe
from realtime.models import GeneratorConfig, SwapGenerator
from realtime.models.arcface import ARCFACE_ARCHS, IResNet
from realtime.models.checkpoint import save_generator
from realtime.verify import verify_file
from tests.media import reencoded_frames, video_frames

SPEC = ClipSpec(width=640, height=360, seconds=1.5, still=(0.5, 1.0), light=(1.0, 1.4))


def run(*args: object) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "realtime.swap", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("neural")
    torch.manual_seed(0)
    config = GeneratorConfig(resolution=224, id_blocks=2, block="modulated", conv="separable", width=8)
    generator = save_generator(root / "generator.pt", SwapGenerator(config).eval(), step=0)
    arcface = root / "backbone.pth"
    torch.save(IResNet(ARCFACE_ARCHS["r18"]).state_dict(), arcface)
    clip, source = make_clip(root / "clip.mp4", SPEC), write_source_face(root / "source.jpg")
    return {"root": root, "generator": generator, "arcface": arcface, "clip": clip, "source": source}


def test_our_checkpoint_swaps_a_clip_end_to_end(models: dict[str, Path]) -> None:
    out = models["root"] / "out.mp4"
    result = run(models["clip"], out, "--source", models["source"], "--model", models["generator"],
                 "--identity-model", models["arcface"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "swapper: simswap (224px, modulated blocks, separable convs)" in result.stderr
    assert probe(out).has_audio
    before, after = video_frames(models["clip"]), video_frames(out)
    assert len(after) == len(before) == round(SPEC.seconds * SPEC.fps)
    noise = reencoded_frames(models["clip"], models["root"] / "reencoded.mp4")
    analyzer = DlibAnalyzer()
    for i in range(0, len(before), 9):
        x0, y0, x1, y1 = max(analyzer.detect(before[i]), key=lambda f: f.score).bbox.astype(int)
        diff = np.abs(after[i].astype(int) - before[i]).mean(axis=2)
        baseline = np.abs(noise[i].astype(int) - before[i]).mean(axis=2)
        background = np.ones(diff.shape, bool)
        background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
        assert diff[max(y0, 0) : y1, max(x0, 0) : x1].mean() > 6, f"frame {i}: the face did not change"
        assert diff[background].mean() <= baseline[background].mean() + 0.3, f"frame {i}: the background moved"
    assert verify_file(out).marked


def test_model_mistakes_are_clear(models: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(models["generator"].read_bytes()[:4000])
    pickled = tmp_path / "whole.pth"
    torch.save(SwapGenerator(GeneratorConfig(width=8, id_blocks=1)), pickled)
    out = tmp_path / "out.mp4"
    base = (models["clip"], out, "--source", models["source"], "--quiet")
    cases = [
        (("--swapper", "simswap"), 2, "needs --model"),
        (("--model", models["generator"]), 2, "needs the identity model"),
        (("--swapper", "classic", "--model", models["generator"]), 2, "for neural swappers"),
        (("--model", truncated, "--identity-model", models["arcface"]), 1, "truncated"),
        (("--model", pickled, "--identity-model", models["arcface"]), 1, "pickled Python object"),
        (("--model", models["generator"], "--identity-model", models["generator"]), 1, "not an arcface_torch"),
    ]
    for extra, code, message in cases:
        result = run(*base, *extra)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == code, (extra, result.stderr)
        assert len(lines) == 1 and re.search(message, lines[0]), result.stderr
        assert not out.exists()
