"""A full disk is one line naming the output the user asked for (not a hidden temporary file), exit status 1, and
nothing left behind: for a video and an image from realtime.swap, and for any file written through TempOutput (a
training checkpoint here)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.errors import OutputError
from realtime.models import GeneratorConfig, SwapGenerator
from realtime.models.checkpoint import save_generator
from tests.cli import call_main
from tests.conftest import SwappedClip


def test_a_full_disk_ends_a_swap_with_one_line_and_nothing_left(
    swapped_clip: SwappedClip, full_folder: Path, tmp_path: Path
) -> None:
    noise = tmp_path / "noise.png"  # incompressible: its PNG cannot fit in 64 KiB
    cv2.imwrite(str(noise), np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8))
    for source, out in ((swapped_clip.clip, full_folder / "out.mp4"), (noise, full_folder / "out.png")):
        result = call_main("realtime.swap", source, out, "--source", swapped_clip.source, "--quiet")
        assert result.returncode == 1, result.stderr
        assert result.error_lines() == [f"python -m realtime.swap: error: no space left on the device holding {out}"]
        assert os.listdir(full_folder) == []


def test_a_full_disk_while_saving_a_checkpoint_names_the_checkpoint(full_folder: Path) -> None:
    target = full_folder / "generator.pt"
    with pytest.raises(OutputError, match=f"^no space left on the device holding {target}$"):
        save_generator(target, SwapGenerator(GeneratorConfig(width=8, id_blocks=1)))
    assert os.listdir(full_folder) == []
