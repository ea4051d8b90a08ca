"""Every example in README.md and in each command's --help runs as written.

The examples are read from the README's fenced bash blocks and from the "Examples:" paragraph of each command's
docstring (what --help prints). Each distinct ``python -m realtime.* / training.*`` command runs in one shared
workspace, in document order, through the command's ``main`` in this process, on inputs made from the package
images under the names the examples use (in.mp4, face.jpg, photo.jpg, faces/, person.mp4 ...). What cannot run here
is skipped for a stated reason, decided by :func:`skip_reason`: a model file the user brings, a camera, virtual
camera or window, a GPU cluster, a training run of minutes to days, and the README's install/demo/test blocks
(.ci/run runs those exactly as written). A command that names a file nobody made fails the test.
"""

from __future__ import annotations

import contextlib
import glob
import re
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from realtime.io.images import write_image
from realtime.models.store import load_manifest
from realtime.samples import ClipSpec, face_image, make_clip, person_photos, render_frame
from tests.cli import call_main, entry_module
from tests.provenance.certs import write_chain
from training.sample_data import write_identity_photos

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["realtime.swap", "realtime.webcam", "realtime.people", "realtime.verify", "realtime.export",
            "realtime.demo", "realtime.env", "realtime.models", "realtime.studio", "realtime.batch", "training.prepare",
            "training.cluster", "training.train", "training.evaluate", "training.sample_data",
            "training.pairs", "training.outliers", "training.report", "training.ablate"]  # fmt: skip
# Files users bring (weights of published models, packs); the tests build stand-ins elsewhere, not under these names.
USER_MODELS = ("w600k_r50.onnx", "backbone.pth", "latest_net_G.pth", "inswapper_128.onnx", "face_parsing_bisenet",
               "glint360k_r100.onnx", "~/models/", "runs/base/", "runs/first/")  # fmt: skip
MODEL_NAMES = set(load_manifest().models)
# The README's demo block makes the demo clip and face the later examples use; the workspace runs its first command
# (the same as the first example of realtime.swap --help), so that example counts as run.
PREREQUISITE = ("realtime.demo", "demo.mp4", "--source-face", "face.jpg")
CI_DEMO = {PREREQUISITE, ("realtime.swap", "demo.mp4", "swapped.mp4", "--source", "face.jpg")}


@dataclass(frozen=True)
class Example:
    """One command of an example line: where it is written, its words (after ``python -m`` for a Python module),
    and whether it is a ``python -m`` command at all."""

    where: str
    words: tuple[str, ...]
    module: bool = True

    def __str__(self) -> str:
        return f"{self.where}: {'python -m ' if self.module else ''}{shlex.join(self.words)}"


def _commands(text: str, where: str) -> list[Example]:
    """The ``python -m`` commands in shell text: continuation lines joined, comments dropped, ``&&`` chains split."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in [*words, "&&"]:
            if word != "&&":
                command.append(word)
                continue
            if command[:2] == ["python", "-m"]:
                out.append(Example(where, tuple(command[2:])))
            elif command:
                out.append(Example(where, tuple(command), module=False))  # skipped, with the reason
            command = []
    return out


def readme_examples() -> list[Example]:
    text = (ROOT / "README.md").read_text()
    examples = []
    for match in re.finditer(r"(<!-- ci:\w+ -->\n)?```bash\n(.*?)```", text, re.S):
        where = "README.md (run by .ci/run)" if match.group(1) else "README.md"
        examples += _commands(match.group(2), where)
    return examples


def help_examples() -> list[Example]:
    examples = []
    for module in COMMANDS:
        doc = entry_module(module).__doc__ or ""
        _, _, tail = doc.partition("Examples:")
        assert tail, f"{module} --help shows no examples"
        examples += _commands(tail.split("\n\n")[0], f"{module} --help")
    return examples


def skip_reason(example: Example) -> str | None:
    """Why ``example`` cannot run here, or None when it can."""
    words = example.words
    text = " ".join(words)
    if example.module and words in CI_DEMO:
        return ".ci/run runs it exactly as written (the README's demo block)"
    if example.module and words[:1] == ("training.train",) and "--dry-run" in words:
        return None  # prints the configuration; opens no model
    reasons = [
        ("run by .ci/run" in example.where, ".ci/run runs the README's install, demo and test blocks as written"),
        (not example.module or not words or words[0] not in COMMANDS,
         f"not a command of this project ({words[0] if words else ''})"),
        (any(name in text for name in USER_MODELS), "needs a model file the user brings"),
        (words[0] == "realtime.models" and words[1:2] in (("fetch",), ("import",)),
         "downloads from the internet (tests/models/test_store.py fetches from a loopback server)"),
        (words[0] != "realtime.models" and (any(word in MODEL_NAMES for word in words[1:]) or "--enhancer" in words
                                            or any("occlusion" in w or "region" in w for w in words)),
         "needs a model the user fetches (python -m realtime.models fetch)"),
        (words[0] == "realtime.webcam" and ("--input" not in words or "window" in words or "virtualcam" in words),
         "needs a camera, a virtual camera or a window"),
        (words[0] == "realtime.studio", "serves until Ctrl-C (tests/studio/ drives it in a browser)"),
        (words[0] == "realtime.batch", "starts a Ray instance (tests/batch/test_batch_cli.py runs it on a local one)"),
        (words[0] == "training.train" and "--dry-run" not in words,
         "a training run (minutes on a CPU to days on GPUs): run by hand"),
        (words[0] == "training.evaluate", "needs a trained generator"),
        (words[0] == "training.ablate", "trains several generators (tests/training/test_ablate.py runs a toy one)"),
    ]  # fmt: skip
    return next((reason for applies, reason in reasons if applies), None)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples name, made from the package images."""
    root = tmp_path_factory.mktemp("examples")
    short = ClipSpec(width=640, height=360, seconds=1.0, still=(0.3, 0.6), light=(0.6, 0.9))
    make_clip(root / "in.mp4", short)
    make_clip(root / "in.mov", short)
    face = root / "face.jpg"
    write_image(root / "photo.jpg", face_image("astronaut"))
    write_image(root / "them.jpg", face_image("astronaut"))  # the person to replace in in.mov
    (root / "faces").mkdir()  # photos of the source person of face.jpg
    for i, t in enumerate((0.0, 0.4, 0.8)):
        write_image(root / "faces" / f"{i}.jpg", render_frame(face_image("person"), t, ClipSpec(width=400, height=400)))
    make_clip(root / "person.mp4", ClipSpec(width=400, height=400, seconds=1.0, face="person"))
    # several people: a short crowd clip, the pictures it maps to new faces, and t1.jpg
    make_clip(root / "party.mp4", ClipSpec(width=800, height=400, seconds=1.0, fps=10, face="crowd", audio=False))
    photos = person_photos()
    write_image(root / "alice.jpg", photos[1])
    write_image(root / "carol.jpg", photos[5])
    (root / "bob").mkdir()
    write_image(root / "bob" / "0.jpg", photos[3])
    write_image(root / "bob" / "1.jpg", np.ascontiguousarray(photos[3][:, ::-1]))
    write_image(root / "group.jpg", face_image("group"))
    write_chain(root)  # chain.pem + key.pem: a user's own signing certificate
    # what the README's demo block (run by .ci/run) leaves for the examples after it, made as that block makes it
    with contextlib.chdir(root):
        assert call_main(*PREREQUISITE).returncode == 0
    write_identity_photos(root / "faces_by_person")
    shutil.copytree(root / "faces_by_person", root / "raw_faces")  # the same photos (they are made deterministically)
    (root / "film_frames" / "film").mkdir(parents=True)
    for i, t in enumerate((0.0, 1.0)):
        write_image(root / "film_frames" / "film" / f"{i}.jpg", render_frame(face_image("group"), t, ClipSpec()))
    (root / "film" / "film").mkdir(parents=True)
    make_clip(root / "film" / "film" / "clip.mp4", ClipSpec(width=1280, height=720, seconds=2.0, face="group"))
    (root / "outputs").mkdir()  # swaps to verify
    for name in ("a.mp4", "b.png"):
        source = root / ("in.mp4" if name.endswith(".mp4") else "photo.jpg")
        assert call_main("realtime.swap", source, root / "outputs" / name, "--source", face).returncode == 0
    shutil.copy(root / "in.mp4", root / "clip.mp4")  # make_clip of the same spec writes the same bytes
    shutil.copy(root / "in.mp4", root / "swapped.mp4")  # the demo block's swap (.ci/run runs it), as verify sees it
    return root


EXAMPLES = list(dict.fromkeys(readme_examples() + help_examples()))


def test_the_examples_are_found() -> None:
    assert len(EXAMPLES) > 40
    runnable = [e for e in EXAMPLES if skip_reason(e) is None]
    assert {e.words[0] for e in runnable} >= {"realtime.swap", "realtime.webcam", "realtime.verify", "realtime.demo",
                                               "realtime.env", "realtime.models", "training.prepare",
                                               "training.cluster", "training.sample_data", "training.pairs",
                                               "training.train"}  # fmt: skip


@pytest.mark.slow
def test_every_example_runs_as_written(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("HOME", str(workspace))
    ran, failures, timings = {PREREQUISITE}, [], []
    for example in EXAMPLES:
        if skip_reason(example) is not None or example.words in ran:
            continue
        ran.add(example.words)
        module, *args = example.words
        expanded = [m for a in args for m in (sorted(glob.glob(a)) if any(c in a for c in "*?[") else [a])]
        start = time.perf_counter()
        result = call_main(module, *expanded)
        timings.append((time.perf_counter() - start, str(example)))
        allowed = (0, 3) if module == "realtime.verify" else (0,)  # verify: 3 = read fine, not marked
        if result.returncode not in allowed:
            failures.append(f"{example}\n    exit {result.returncode}: {result.stderr.strip()[-400:]}")
    print("\n".join(f"{s:6.1f} s  {what}" for s, what in sorted(timings, reverse=True)[:8]))
    assert not failures, "\n".join(failures)
    assert len(ran) >= 20
