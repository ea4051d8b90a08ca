"""python -m realtime.swap with the insightface backend, on a pack the test builds (tests/faces/insightface_pack.py).

The pack's detector and landmark networks report one planted face: the astronaut's in a still clip. The source is
another person warped to the same place, so the same pack finds both. Identity is judged with dlib's descriptor,
independent of the backend under test."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.images import read_image, write_image
from realtime.io.video import probe
from realtime.samples import ClipSpec, face_image, make_clip, render_frame
from realtime.watermark import Watermarker, embed_compat
from tests.cli import CliResult, call_main
from tests.faces.insightface_pack import build_pack, plant, source_aligned_to
from tests.measure import IDENTITY_MARGIN, identity_shift
from tests.media import reencoded_frames, video_frames

# a square still clip (the camera never moves) with a lighting change and audio
SPEC = ClipSpec(width=512, height=512, seconds=1.5, still=(0.0, 99.0), light=(0.5, 1.2))


def run(*args: object, quiet: bool = True) -> CliResult:
    return call_main("realtime.swap", *args, *(["--quiet"] if quiet else []))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, dlib_analyzer: DlibAnalyzer) -> dict[str, object]:
    root = tmp_path_factory.mktemp("insightface_swap")
    dlib = dlib_analyzer
    frame = render_frame(face_image("astronaut"), 0.0, SPEC)
    planted = plant(frame, dlib)
    source = root / "source.png"
    write_image(source, source_aligned_to(planted, dlib))
    still = root / "still.png"
    write_image(still, frame)
    return {
        "root": root,
        "dlib": dlib,
        "planted": planted,
        "pack": build_pack(root / "models" / "buffalo_l", planted),
        "source": source,
        "still": still,
        "clip": make_clip(root / "clip.mp4", SPEC),
    }


def _face_and_background(planted, before: np.ndarray, after: np.ndarray) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    x0, y0, x1, y1 = planted.bbox.astype(int)
    diff = np.abs(after.astype(int) - before.astype(int)).mean(axis=2)
    background = np.ones(diff.shape, bool)
    background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
    return float(diff[y0:y1, x0:x1].mean()), float(diff[background].mean())


def test_image_swap_with_a_named_pack(scene) -> None:  # type: ignore[no-untyped-def]
    out = scene["root"] / "swapped.png"
    result = run(scene["still"], out, "--source", scene["source"], "--detector", "insightface",
                 "--models-dir", scene["pack"], quiet=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "face analysis: insightface pack buffalo_l" in result.stderr
    before, after = read_image(scene["still"]), read_image(out)
    inside, _ = _face_and_background(scene["planted"], before, after)
    # lossless PNG: outside the face only the two watermarks (ours, then invisible-watermark's) change pixels, so
    # the output is much nearer the marked input than the marks are to the input (they differ a little: the
    # marks adapt to the whole picture, swapped face included)
    marked = embed_compat(Watermarker(0).embed(before), 0)
    _, background = _face_and_background(scene["planted"], marked, after)
    _, marks_alone = _face_and_background(scene["planted"], before, marked)
    assert inside > 6 and background < 0.5 * marks_alone, (inside, background, marks_alone)
    assert identity_shift(scene["dlib"], read_image(scene["source"]), before, after) >= IDENTITY_MARGIN


def test_video_swap_with_the_pack_found_automatically(scene, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """No --detector: the pack under ~/.insightface/models is picked up, and the run says so."""
    home = scene["root"] / "home"
    shutil.copytree(scene["pack"], home / ".insightface" / "models" / "buffalo_l")
    monkeypatch.setenv("HOME", str(home))
    out = scene["root"] / "swapped.mp4"
    result = run(scene["clip"], out, "--source", scene["source"], quiet=False)
    assert result.returncode == 0, result.stderr
    assert "face analysis: insightface pack buffalo_l" in result.stderr
    info_in, info_out = probe(scene["clip"]), probe(out)
    assert info_out.has_audio and abs(info_out.duration - info_in.duration) < 0.1
    pairs = list(zip(video_frames(scene["clip"]), video_frames(out), strict=True))
    assert len(pairs) == round(SPEC.seconds * SPEC.fps)
    noise = reencoded_frames(scene["clip"], scene["root"] / "reencoded.mp4")
    for i, (before, after) in enumerate(pairs):
        inside, background = _face_and_background(scene["planted"], before, after)
        _, encoding_noise = _face_and_background(scene["planted"], before, noise[i])
        assert inside > 6, f"frame {i}: face barely changed ({inside:.1f})"
        assert background <= encoding_noise + 0.3, f"frame {i}: background {background:.2f} vs {encoding_noise:.2f}"
    source = read_image(scene["source"])
    shifts = [identity_shift(scene["dlib"], source, *pairs[i]) for i in (0, len(pairs) // 2, len(pairs) - 1)]
    assert min(shifts) >= IDENTITY_MARGIN, shifts


def test_model_errors_exit_cleanly(scene, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken"
    shutil.copytree(scene["pack"], broken)
    (broken / "landmarks.onnx").write_bytes(b"not an onnx file")
    out = tmp_path / "out.png"
    cases = [
        (("--detector", "insightface", "--models-dir", tmp_path / "none"), 1, "no insightface model pack"),
        (("--models-dir", broken), 1, r"cannot load model .*landmarks\.onnx"),
        (("--detector", "dlib", "--models-dir", scene["pack"]), 2, "cannot be used with --detector dlib"),
    ]
    for extra, code, message in cases:
        result = run(scene["still"], out, "--source", scene["source"], *extra)
        lines = result.error_lines()
        assert result.returncode == code, (extra, result.stderr)
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert not out.exists()
        assert re.search(message, lines[0]), (message, lines[0])


def test_people_and_map_with_arcface_descriptors(scene, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """realtime.people groups by the pack's ArcFace (512-d, unit length) and says so; --map reads it back."""
    pack = ("--detector", "insightface", "--models-dir", scene["pack"])
    found = call_main("realtime.people", scene["still"], tmp_path / "people", "--quiet", *pack)
    assert found.returncode == 0, found.stderr
    data = json.loads((tmp_path / "people" / "people.json").read_text())
    assert data["backend"] != "dlib" and len(data["people"]) == 1
    assert np.linalg.norm(data["people"][0]["embedding"]) == pytest.approx(1.0, abs=1e-3)
    assert len(data["people"][0]["embedding"]) == 512
    out = tmp_path / "mapped.png"
    result = run(scene["still"], out, "--people", tmp_path / "people" / "people.json", "--map", f"1={scene['source']}",
                 *pack)  # fmt: skip
    assert result.returncode == 0, result.stderr
    inside, _ = _face_and_background(scene["planted"], read_image(scene["still"]), read_image(out))
    assert inside > 6
    # a people.json of another backend's descriptors is refused, naming both
    mismatch = run(scene["still"], out, "--people", tmp_path / "people" / "people.json", "--map",
                   f"1={scene['source']}", "--detector", "dlib")  # fmt: skip
    assert mismatch.returncode == 2 and "descriptors but this run analyses faces with dlib" in mismatch.stderr
