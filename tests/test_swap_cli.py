"""python -m realtime.swap end to end, as a user runs it, on clips generated from package faces."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.video import probe
from realtime.samples import ClipSpec, face_image, make_clip, write_source_face
from tests.media import reencoded_frames, write_audio_only
from tests.media import video_frames as frames

SPEC = ClipSpec(width=640, height=360, seconds=3.0, still=(1.0, 2.0), light=(2.0, 2.8))


def run_swap(*args: object) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "realtime.swap", *map(str, args), "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("swap")
    clip = make_clip(root / "clip.mp4", SPEC)
    source = write_source_face(root / "source.jpg")  # one person of t1.jpg
    out = root / "out.mp4"
    result = run_swap(clip, out, "--source", source)
    assert result.returncode == 0, result.stderr
    return {"root": root, "clip": clip, "source": source, "out": out}


def test_output_keeps_frames_duration_and_audio(work: dict[str, Path]) -> None:
    info_in, info_out = probe(work["clip"]), probe(work["out"])
    assert len(frames(work["out"])) == len(frames(work["clip"])) == round(SPEC.seconds * SPEC.fps)
    assert abs(info_out.duration - info_in.duration) < 0.1
    assert info_out.has_audio
    with av.open(str(work["out"])) as c:
        assert any(s.type == "audio" for s in c.streams)


def test_faces_change_and_background_does_not(work: dict[str, Path]) -> None:
    """Every frame's face changes; outside it the output differs from the input no more than a plain re-encode
    at the same settings does (the encoding noise)."""
    analyzer = DlibAnalyzer()
    before, after = frames(work["clip"]), frames(work["out"])
    noise = reencoded_frames(work["clip"], work["root"] / "reencoded.mp4")
    for i in range(0, len(before), 10):
        faces = analyzer.detect(before[i])
        assert faces, f"frame {i}: the clip should show a face"
        x0, y0, x1, y1 = max(faces, key=lambda f: f.score).bbox.astype(int)  # HOG may also flag the suit's badge
        diff = np.abs(after[i].astype(int) - before[i].astype(int)).mean(axis=2)
        baseline = np.abs(noise[i].astype(int) - before[i].astype(int)).mean(axis=2)
        inside = diff[max(y0, 0) : y1, max(x0, 0) : x1].mean()
        background = np.ones(diff.shape, bool)
        background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
        assert inside > 6, f"frame {i}: face barely changed ({inside:.1f})"
        changed, encoding_noise = diff[background].mean(), baseline[background].mean()
        assert changed <= encoding_noise + 0.3, (
            f"frame {i}: background {changed:.2f} vs encoding noise {encoding_noise:.2f}"
        )


def test_identity_moves_toward_the_source(work: dict[str, Path]) -> None:
    analyzer = DlibAnalyzer()
    source_img = face_image("group")[150:450, 350:650].copy()
    source = analyzer.embed(source_img, analyzer.detect(source_img)[0])
    before, after = frames(work["clip"]), frames(work["out"])
    closer = 0
    checked = range(0, len(before), 15)
    for i in checked:
        target = analyzer.embed(before[i], max(analyzer.detect(before[i]), key=lambda f: f.score))
        swapped = analyzer.embed(after[i], max(analyzer.detect(after[i]), key=lambda f: f.score))
        closer += analyzer.distance(swapped, source) < analyzer.distance(target, source)
    assert closer == len(checked)


def test_still_stretch_does_not_jitter(work: dict[str, Path]) -> None:
    """While the camera holds still, frame-to-frame change in the face region is at most 1.5x the input's."""
    before, after = frames(work["clip"]), frames(work["out"])
    first, last = round(SPEC.still[0] * SPEC.fps) + 2, round(SPEC.still[1] * SPEC.fps) - 1
    face = max(DlibAnalyzer().detect(before[first]), key=lambda f: f.score)
    x0, y0, x1, y1 = face.bbox.astype(int)

    def change(seq: list[np.ndarray]) -> float:
        crops = [f[y0:y1, x0:x1].astype(np.float32) for f in seq[first:last]]
        return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(crops)]))

    assert change(after) <= 1.5 * change(before) + 0.05, (change(after), change(before))


def test_image_mode(work: dict[str, Path]) -> None:
    image = work["root"] / "astronaut.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(face_image("astronaut"), cv2.COLOR_RGB2BGR))
    out = work["root"] / "swapped.png"
    result = run_swap(image, out, "--source", work["source"], "--blend", "feather")
    assert result.returncode == 0, result.stderr
    swapped = cv2.imread(str(out))
    assert swapped.shape == (512, 512, 3)
    assert np.abs(swapped.astype(int) - cv2.imread(str(image)).astype(int)).mean() > 0.5


def test_no_face_in_target_is_not_an_error(work: dict[str, Path], tmp_path: Path) -> None:
    blank = tmp_path / "blank.mp4"
    with av.open(str(blank), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for i in range(15):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 90 + i, np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    out = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "realtime.swap", str(blank), str(out), "--source", str(work["source"])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no face found in the input" in result.stderr
    assert len(frames(out)) == 15


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in: a read-only one, or /proc when running as root (root ignores modes)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    return Path("/proc")


def test_bad_inputs_exit_cleanly_and_leave_no_output(work: dict[str, Path], tmp_path: Path) -> None:
    clip, source = work["clip"], work["source"]
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[:1500])
    audio_only = write_audio_only(tmp_path / "tone.mp4")
    no_face = tmp_path / "wall.jpg"
    cv2.imwrite(str(no_face), np.full((200, 200, 3), 128, np.uint8))
    out = tmp_path / "out.mp4"
    cases = [
        ((tmp_path / "missing.mp4", out, "--source", source), 1, "input not found"),
        ((empty, out, "--source", source), 1, "empty"),
        ((truncated, out, "--source", source), 1, "cannot read|no decodable"),
        ((audio_only, out, "--source", source), 1, "no video stream"),
        ((clip, tmp_path / "out.xyz", "--source", source), 2, "unsupported output extension"),
        ((tmp_path / "in.txt", out, "--source", source), 2, "unsupported input extension"),
        ((clip, out, "--source", no_face), 1, "no face found in the source"),
        ((clip, out, "--source", tmp_path / "nobody.jpg"), 1, "not found"),
        ((clip, tmp_path / "no" / "dir" / "out.mp4", "--source", source), 1, "output folder does not exist"),
        ((clip, source / "out.mp4", "--source", source), 1, "output folder is not a folder"),
        ((clip, unwritable_folder(tmp_path) / "out.mp4", "--source", source), 1, "not writable|cannot create a file"),
        ((clip, out, "--source", source, "--target-face", "reference"), 2, "needs --reference"),
    ]
    for args, code, message in cases:
        result = run_swap(*args)
        lines = [line for line in result.stderr.strip().splitlines() if line]
        assert result.returncode == code, (args, result.stderr)
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert re.search(message, lines[0]), (message, lines[0])
        assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
