"""python -m training.ablate with two variants at toy size: interrupted by Ctrl-C in the second variant's training,
run again, it keeps the finished variant, continues the other from its checkpoint, and writes the research's table,
the loss curves and the previews."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.io.images import read_image
from tests.cli import call_main
from tests.training.conftest import TINY


def steps_logged(run: Path) -> list[int]:
    with (run / "log.csv").open(newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_ablate_interrupted_then_resumed_writes_the_table(dataset: Path, photos: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for k, person in enumerate((0, 2)):
        (pairs / f"{k}.jpg").write_bytes((photos / f"person_{person}" / "photo_0.jpg").read_bytes())
    out = tmp_path / "ablate"
    tiny = [a for a in TINY if a != "--quiet"]  # the notes are checked below
    args = ["--data", dataset, "--pairs", pairs, "--out", out, "--steps", "6", "--variants", "baseline,modulated",
            *tiny]  # fmt: skip
    first = subprocess.Popen([sys.executable, "-m", "training.ablate", *map(str, args)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    started = out / "modulated" / "checkpoints" / "latest"
    deadline = time.monotonic() + 240
    while not started.is_file() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C in a terminal: the ablation and its training process
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stderr
    assert "interrupted; run the same command again to resume" in stderr
    state = json.loads((out / "ablation.json").read_text())
    assert list(state["results"]) == ["baseline"]
    baseline_model = (out / "baseline" / "generator.pt").stat().st_mtime_ns
    interrupted_at = steps_logged(out / "modulated")[-1]
    assert interrupted_at < 6

    again = call_main("training.ablate", *args)
    assert again.returncode == 0, again.stderr
    assert "baseline: finished earlier, kept" in again.stderr
    assert (out / "baseline" / "generator.pt").stat().st_mtime_ns == baseline_model  # not trained again
    assert steps_logged(out / "baseline") == list(range(1, 7))
    assert steps_logged(out / "modulated") == list(range(1, 7))  # continued, no step twice
    table = (out / "ablation.md").read_text()
    assert "| variant | change | ID distance | vs baseline | landmark NME | train step | vs baseline |" in table
    rows = [line for line in table.splitlines() if line.startswith(("| baseline", "| modulated"))]
    assert len(rows) == 2 and "modulated convolution" in rows[1] and rows[1].count("%") == 3
    assert "not an independent score" in table  # no --metric-model: scored by the training network
    results = json.loads((out / "ablation.json").read_text())["results"]
    assert all(0 < r["distance"] < 2 and r["step_s"] > 0 and r["inference_s"] > 0 for r in results.values())
    curves, previews = read_image(out / "loss_curves.png"), read_image(out / "previews.png")
    assert curves.shape[1] > 1000 and curves.std() > 10
    assert previews.shape[1] == 4 * 160  # donor | recipient | baseline | modulated


def test_ablate_mistakes(dataset: Path, tmp_path: Path) -> None:
    base = ("training.ablate", "--data", dataset, "--out", tmp_path / "a", "--steps", "2")
    cases = [
        ((*base, "--pairs", tmp_path, "--variants", "baseline,bogus"), 2, "unknown variant"),
        (("training.ablate", "--data", dataset, "--pairs", tmp_path), 2, "--out DIR is required"),
        ((*base, "--pairs", tmp_path / "none"), 1, "pairs folder not found"),
    ]
    for args, code, message in cases:
        result = call_main(*args)
        assert result.returncode == code and message in result.error_lines()[-1], (args, result.stderr)
