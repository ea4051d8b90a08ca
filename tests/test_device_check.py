"""bench/device_check.py --dry-run, as CI runs it: every step listed with its command, the CPU-side ones run (the
environment report and the train step's data), one JSON written; without a GPU a real run refuses in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench import device_check

STEPS = ["gpu", "build", "env", "ops-tests", "ops-bench", "generator", "overhead", "pipeline", "train-data", "train",
         "pipeline-tests", "chain"]  # fmt: skip


@pytest.mark.slow
def test_dry_run_lists_every_step_and_runs_the_cpu_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "check.json"
    assert device_check.main(["--dry-run", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and [s["name"] for s in report["steps"]] == STEPS
    status = {s["name"]: s for s in report["steps"]}
    for name in ("env", "train-data"):
        assert status[name]["status"] == "ok", status[name]["output_tail"]
    assert "extension_loaded" in status["env"]["output_tail"]
    assert "train data:" in status["train-data"]["output_tail"]
    for name in set(STEPS) - {"env", "train-data"}:
        assert status[name]["status"] == "listed" and status[name]["command"]
    assert "--amp bf16" in status["train"]["command"] and "FORCE_CUDA=1" in status["build"]["command"]
    assert "saved" in capsys.readouterr().out


def test_unknown_steps_and_a_missing_gpu_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        device_check.main(["--dry-run", "--skip", "bogus"])
    assert "unknown steps ['bogus']" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert device_check.main([]) == 1
        assert "no GPU is visible" in capsys.readouterr().err


def test_a_second_half_keeps_the_first_and_collects_its_results(tmp_path: Path) -> None:
    """The lent machine runs the check in two calls (bench/device_kit.py): --merge keeps what the first recorded,
    --collect copies the JSON and every result file still there into the call's $OUT."""
    result = tmp_path / "ops-bench-result.json"
    result.write_text("{}\n")
    out = tmp_path / "check.json"
    first = {"name": "ops-bench", "command": "bench/ops.py", "status": "ok", "seconds": 12.5, "returncode": 0,
             "output_tail": "", "result_files": [str(result)]}  # fmt: skip
    out.write_text(json.dumps({"steps": [first]}))
    collected = tmp_path / "OUT"
    code = device_check.main(["--dry-run", "--steps", "gpu", "--out", str(out), "--merge", "--collect", str(collected)])
    assert code == 0
    status = {s["name"]: s for s in json.loads(out.read_text())["steps"]}
    assert status["ops-bench"] == first and status["gpu"]["status"] == "listed"
    assert {s["status"] for name, s in status.items() if name not in ("ops-bench", "gpu")} == {"skipped"}
    names = sorted(p.name for p in collected.iterdir())
    assert names[0].startswith("device-check-") and names[1:] == ["ops-bench-result.json"]
    with pytest.raises(SystemExit):
        device_check.main(["--dry-run", "--merge"])  # nothing to merge with
