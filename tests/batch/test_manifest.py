"""Batch inputs: folders and globs with the command line's options, JSONL and CSV manifests with their own
sources, maps and options, and the one-line errors of malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtime.batch.manifest import BatchJob, jobs_from_inputs, read_manifest
from realtime.errors import InputError, UsageError


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_folders_and_globs_become_one_job_each(tmp_path: Path) -> None:
    _touch(tmp_path / "in" / "b.mp4", tmp_path / "in" / "a.mov", tmp_path / "in" / "notes.txt", tmp_path / "c.jpg")
    jobs = jobs_from_inputs([str(tmp_path / "in"), str(tmp_path / "*.jpg"), str(tmp_path / "in" / "a.mov")],
                            tmp_path / "out", ["--source", "face.jpg"])  # fmt: skip
    assert [(j.input.name, j.output) for j in jobs] == [
        ("a.mov", tmp_path / "out" / "a.mov"),
        ("b.mp4", tmp_path / "out" / "b.mp4"),
        ("c.jpg", tmp_path / "out" / "c.jpg"),
    ]
    assert all(j.options == ("--source", "face.jpg") for j in jobs)
    assert jobs_from_inputs([str(tmp_path / "in" / "b.mp4")], tmp_path, [], ".mkv")[0].output == tmp_path / "b.mkv"
    with pytest.raises(UsageError, match="no videos or images"):
        jobs_from_inputs([str(tmp_path / "*.png")], tmp_path, [])
    _touch(tmp_path / "other" / "b.mp4")
    with pytest.raises(UsageError, match="would both write"):
        jobs_from_inputs([str(tmp_path / "in" / "b.mp4"), str(tmp_path / "other" / "b.mp4")], tmp_path, [])


def test_jsonl_and_csv_manifests(tmp_path: Path) -> None:
    rows = [
        {"input": "clips/a.mp4", "output": "out/a.mp4", "source": "alice.jpg"},
        {"input": "/abs/b.mp4", "output": "out/b.mp4", "map": {"1": "alice.jpg", "2": "bob/"},
         "options": "--blend poisson"},
    ]  # fmt: skip
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    jobs = read_manifest(tmp_path / "jobs.jsonl", ["--detect-every", "3"])
    assert jobs == [
        BatchJob(tmp_path / "clips/a.mp4", tmp_path / "out/a.mp4",
                 ("--detect-every", "3", "--source", str(tmp_path / "alice.jpg"))),
        BatchJob(Path("/abs/b.mp4"), tmp_path / "out/b.mp4",
                 ("--detect-every", "3", "--map", "1=alice.jpg", "--map", "2=bob/", "--blend", "poisson")),
    ]  # fmt: skip
    (tmp_path / "jobs.csv").write_text(
        "input,output,source,map,options\n"
        "clips/a.mp4,out/a.mp4,alice.jpg,,\n"
        "b.mp4,out/b.mp4,,1=x.jpg;2=y.jpg,--smoothing 2\n"
    )
    csv_jobs = read_manifest(tmp_path / "jobs.csv", [])
    assert csv_jobs[0].options == ("--source", str(tmp_path / "alice.jpg"))
    assert csv_jobs[1].options == ("--map", "1=x.jpg", "--map", "2=y.jpg", "--smoothing", "2")


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("m.jsonl", '{"input": "a.mp4"}\n', r"m\.jsonl:1: every row needs an input and an output"),
        ("m.jsonl", '{"input": "a.mp4", "output": "b.mp4"}\n[1, 2]\n', r"m\.jsonl:2: each line must be a JSON object"),
        ("m.jsonl", "{nope\n", r"m\.jsonl:1: not JSON"),
        ("m.jsonl", "\n", r"lists no jobs"),
        ("m.csv", "input,output,map\na.mp4,b.mp4,1-alice.jpg\n", r"m\.csv:2: map must be TARGET=SOURCE"),
        ("m.jsonl", '{"input": "a.mp4", "output": "b.mp4", "options": "--blend \'x"}\n', r"m\.jsonl:1: options:"),
    ],
)
def test_malformed_manifests_are_one_line(tmp_path: Path, name: str, text: str, says: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=says):
        read_manifest(tmp_path / name, [])


def test_a_manifest_of_another_kind_or_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"a manifest is \.jsonl or \.csv"):
        (tmp_path / "m.txt").write_text("x")
        read_manifest(tmp_path / "m.txt", [])
    with pytest.raises(InputError, match="cannot read the manifest"):
        read_manifest(tmp_path / "none.jsonl", [])
