"""``python -m realtime.batch`` on a local Ray with 2 CPUs: a manifest of three short clips, a longer one split
into three parts and a corrupt file; every output complete with the input's frames, timestamps and audio, the
corrupt one failing alone in the summary; then a folder, Ctrl-C mid-run, and the same command finishing without
redoing what was done. (tests/batch/test_segments.py checks the seams.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtime.batch.segments import index_video
from realtime.io.video import probe
from realtime.samples import ClipSpec, make_clip, write_source_face
from realtime.verify import verify_file
from tests.cli import call_main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("batch")
    (root / "in").mkdir()
    for k in range(3):
        make_clip(root / "in" / f"short{k}.mp4", ClipSpec(width=320, height=240, seconds=1.0))
    make_clip(root / "in" / "long.mp4", ClipSpec(width=480, height=270, seconds=2.0, keyint=10))
    (root / "in" / "broken.mp4").write_bytes(b"not a video " * 200)
    write_source_face(root / "face.jpg")
    return root


def _command(root: Path, out: str, *extra: str) -> list[str]:
    return [str(root / "in"), "--out-dir", str(root / out), "--source", str(root / "face.jpg"),
            "--segment-seconds", "0.6", "--warmup", "6", "--quiet", *extra]  # fmt: skip


def _rows(stdout: str) -> dict[str, list[str]]:
    """The summary's rows by job name: [name, status, the rest of the line]."""
    return {line.split()[0]: line.split(maxsplit=2) for line in stdout.splitlines()[1:] if line.strip()}


@pytest.mark.slow
def test_a_manifest_with_a_long_clip_and_a_corrupt_one(inputs: Path) -> None:
    names = ["short0.mp4", "short1.mp4", "short2.mp4", "long.mp4", "broken.mp4"]
    rows = [{"input": f"in/{n}", "output": f"out/{n}"} for n in names]
    rows[1]["options"] = "--blend poisson --crf 20"  # a row's own options
    (inputs / "jobs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    command = ["--manifest", str(inputs / "jobs.jsonl"), "--source", str(inputs / "face.jpg"),
               "--segment-seconds", "0.6", "--warmup", "6", "--quiet"]  # fmt: skip
    result = call_main("realtime.batch", *command)
    assert result.returncode == 1, result.stderr  # the corrupt input failed; the rest did not
    rows = _rows(result.stdout)
    assert rows["broken.mp4"][1] == "failed" and "cannot read" in rows["broken.mp4"][2]
    for name in ("short0.mp4", "short1.mp4", "short2.mp4", "long.mp4"):
        assert rows[name][1] == "done", result.stdout
        source, output = inputs / "in" / name, inputs / "out" / name
        info = probe(output)
        assert info.has_audio and info.frames == probe(source).frames
        assert index_video(output).frame_pts == index_video(source).frame_pts  # the single run's timestamps
        report = verify_file(output)
        assert report.marked and report.credentials.synthetic  # marked and signed
    assert not list((inputs / "out").glob(".*.parts"))  # the long clip's parts were joined and removed
    assert json.loads((inputs / "out" / ".long.mp4.batch.json").read_text())["status"] == "done"
    again = call_main("realtime.batch", *command)
    assert {r[1] for n, r in _rows(again.stdout).items() if n != "broken.mp4"} == {"skipped"}


@pytest.mark.slow
def test_ctrl_c_then_the_same_command_finishes_the_rest(inputs: Path) -> None:
    command = [sys.executable, "-m", "realtime.batch", *_command(inputs, "out2", "--workers", "1")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        done = []
        while time.monotonic() < deadline and not done and proc.poll() is None:
            time.sleep(0.2)
            done = [p for p in (inputs / "out2").glob(".*.batch.json") if '"done"' in p.read_text()]
        assert done, "no job finished before the deadline"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stdout and "run the same command to finish" in stderr
    finished = {p.name[1 : -len(".batch.json")] for p in done}
    rerun = call_main("realtime.batch", *_command(inputs, "out2"))
    rows = _rows(rerun.stdout)
    assert all(rows[name][1] == "skipped" for name in finished), rerun.stdout
    assert all(rows[n][1] in ("done", "skipped") for n in rows if n != "broken.mp4"), rerun.stdout
    assert rerun.returncode == 1 and rows["broken.mp4"][1] == "failed"
