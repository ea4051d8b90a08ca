"""Batch state files: what a re-run may skip (done, same input and options, the output reads back marked) and
what it must redo."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from realtime.batch.manifest import BatchJob
from realtime.batch.state import is_complete, load_state, save_state, state_path
from realtime.io.video import probe
from tests.conftest import SwappedClip


def test_state_survives_a_rerun_only_for_the_same_input_and_options(tmp_path: Path) -> None:
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"x" * 10)
    job = BatchJob(clip, tmp_path / "out" / "in.mp4", ("--source", "a.jpg"))
    state = load_state(job)
    assert (state.status, state.attempts) == ("pending", 0)
    state.status, state.attempts, state.parts_done = "failed", 1, ["part-000.mp4"]
    save_state(job, state)
    assert state_path(job) == tmp_path / "out" / ".in.mp4.batch.json"
    assert load_state(job) == state
    assert load_state(BatchJob(clip, job.output, ("--source", "b.jpg"))).attempts == 0  # other options
    os.utime(clip, ns=(1, 1))  # the input changed
    assert load_state(job).attempts == 0
    state_path(job).write_text("{broken")
    assert load_state(job).status == "pending"


def test_complete_means_done_read_back_and_marked(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    job = BatchJob(swapped_clip.clip, tmp_path / "out.mp4", ())
    state = load_state(job)
    state.status, state.frames = "done", probe(swapped_clip.out).frames
    assert not is_complete(job, state)  # no output yet
    shutil.copyfile(swapped_clip.out, job.output)
    assert is_complete(job, state)
    state.frames += 1
    assert not is_complete(job, state)  # not the frames the run wrote
    state.frames -= 1
    shutil.copyfile(swapped_clip.clip, job.output)  # the right frames, but no watermark: not ours
    assert not is_complete(job, state)
    job.output.write_bytes(b"cut off")
    assert not is_complete(job, state)
