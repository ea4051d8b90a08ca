"""python -m realtime.swap end to end, as a user runs it, on clips generated from package faces.

The clip's swap runs once per session through the real entry point (``swapped_clip`` in conftest); image mode,
the no-face case and the error table call ``realtime.swap.main`` in this process.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import av
import cv2
import numpy as np

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.images import read_image
from realtime.io.video import probe
from realtime.samples import face_image
from tests.cli import CliResult, call_main
from tests.conftest import CLIP_SPEC, WATERMARK_ID, SwappedClip
from tests.measure import IDENTITY_MARGIN, identity_shift
from tests.media import cut, faststart_copy, reencoded_frames, write_audio_only
from tests.media import video_frames as frames


def swap(*args: object) -> CliResult:
    return call_main("realtime.swap", *args, "--quiet")


def best_face_box(analyzer: DlibAnalyzer, image: np.ndarray) -> tuple[int, int, int, int]:
    """The box of the most confident face (HOG may also flag the astronaut suit's badge)."""
    x0, y0, x1, y1 = max(analyzer.detect(image), key=lambda f: f.score).bbox.astype(int)
    return max(x0, 0), max(y0, 0), x1, y1


def test_output_keeps_frames_duration_and_audio(swapped_clip: SwappedClip) -> None:
    info_in, info_out = probe(swapped_clip.clip), probe(swapped_clip.out)
    assert len(frames(swapped_clip.out)) == len(frames(swapped_clip.clip)) == round(CLIP_SPEC.seconds * CLIP_SPEC.fps)
    assert abs(info_out.duration - info_in.duration) < 0.1
    assert info_out.has_audio
    with av.open(str(swapped_clip.out)) as c:
        assert any(s.type == "audio" for s in c.streams)


def test_faces_change_and_background_does_not(swapped_clip: SwappedClip, dlib_analyzer: DlibAnalyzer) -> None:
    """Every frame's face changes; outside it the output differs from the input no more than a plain re-encode
    at the same settings (mark included) does: the encoding noise."""
    before, after = frames(swapped_clip.clip), frames(swapped_clip.out)
    noise = reencoded_frames(swapped_clip.clip, swapped_clip.root / "reencoded.mp4", watermark_id=WATERMARK_ID)
    for i in range(0, len(before), 10):
        x0, y0, x1, y1 = best_face_box(dlib_analyzer, before[i])
        diff = np.abs(after[i].astype(int) - before[i].astype(int)).mean(axis=2)
        baseline = np.abs(noise[i].astype(int) - before[i].astype(int)).mean(axis=2)
        inside = diff[y0:y1, x0:x1].mean()
        background = np.ones(diff.shape, bool)
        background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
        assert inside > 6, f"frame {i}: face barely changed ({inside:.1f})"
        changed, encoding_noise = diff[background].mean(), baseline[background].mean()
        assert changed <= encoding_noise + 0.3, (
            f"frame {i}: background {changed:.2f} vs encoding noise {encoding_noise:.2f}"
        )


def test_identity_moves_toward_the_source(swapped_clip: SwappedClip, dlib_analyzer: DlibAnalyzer) -> None:
    source = read_image(swapped_clip.source)
    before, after = frames(swapped_clip.clip), frames(swapped_clip.out)
    checked = range(0, len(before), 15)
    shifts = [identity_shift(dlib_analyzer, source, before[i], after[i]) for i in checked]
    assert min(shifts) >= IDENTITY_MARGIN, shifts


def test_still_stretch_does_not_jitter(swapped_clip: SwappedClip, dlib_analyzer: DlibAnalyzer) -> None:
    """While the camera holds still, frame-to-frame change in the face region is at most 1.5x the input's."""
    before, after = frames(swapped_clip.clip), frames(swapped_clip.out)
    first, last = round(CLIP_SPEC.still[0] * CLIP_SPEC.fps) + 2, round(CLIP_SPEC.still[1] * CLIP_SPEC.fps) - 1
    x0, y0, x1, y1 = best_face_box(dlib_analyzer, before[first])

    def change(seq: list[np.ndarray]) -> float:
        crops = [f[y0:y1, x0:x1].astype(np.float32) for f in seq[first:last]]
        return float(np.mean([np.abs(a - b).mean() for a, b in itertools.pairwise(crops)]))

    assert change(after) <= 1.5 * change(before) + 0.05, (change(after), change(before))


def test_image_mode(swapped_clip: SwappedClip, dlib_analyzer: DlibAnalyzer, tmp_path: Path) -> None:
    """An image is swapped (the astronaut takes on the source's identity), the rest of it stays."""
    image = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(face_image("astronaut"), cv2.COLOR_RGB2BGR))
    out = tmp_path / "swapped.png"
    result = swap(image, out, "--source", swapped_clip.source, "--blend", "feather")
    assert result.returncode == 0, result.stderr
    before, after = read_image(image), read_image(out)
    assert after.shape == before.shape == (512, 512, 3)
    assert identity_shift(dlib_analyzer, read_image(swapped_clip.source), before, after) >= IDENTITY_MARGIN
    x0, y0, x1, y1 = best_face_box(dlib_analyzer, before)
    diff = np.abs(after.astype(int) - before.astype(int)).mean(axis=2)
    background = np.ones(diff.shape, bool)
    background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
    assert diff[y0:y1, x0:x1].mean() > 3 * diff[background].mean()  # the change is the face, not the mark (~2.5)


def test_no_face_in_target_is_not_an_error(swapped_clip: SwappedClip, tmp_path: Path) -> None:
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
    result = call_main("realtime.swap", blank, out, "--source", swapped_clip.source)
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


def test_bad_inputs_exit_cleanly_and_leave_no_output(swapped_clip: SwappedClip, tmp_path: Path) -> None:
    clip, source = swapped_clip.clip, swapped_clip.source
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
        ((clip, out), 2, "--source is required"),
        ((clip, tmp_path / "out.png", "--source", source), 2, "input is a video but output is an image"),
    ]
    for args, code, message in cases:
        result = swap(*args)
        lines = result.error_lines()
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr and re.search(message, lines[-1]), (message, result.stderr)
        assert len(lines) == 1 or lines[0].startswith("usage:"), result.stderr  # argparse prints its usage first
        assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))


def test_a_truncated_input_fails_unless_allowed(swapped_clip: SwappedClip, tmp_path: Path) -> None:
    """A web-ready MP4 (index first) cut short still opens and announces all its frames: the swap fails with one
    line and writes nothing; with --allow-truncated it swaps what decodes and says how much that was."""
    half = cut(faststart_copy(swapped_clip.clip, tmp_path / "whole.mp4"), tmp_path / "half.mp4", 0.5)
    out = tmp_path / "out.mp4"
    result = swap(half, out, "--source", swapped_clip.source)
    assert result.returncode == 1, result.stderr
    (line,) = result.error_lines()
    assert re.search(r"half\.mp4 is truncated or damaged: decoded \d+ of 90 frames", line), line
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    result = call_main("realtime.swap", half, out, "--source", swapped_clip.source, "--allow-truncated")
    assert result.returncode == 0, result.stderr
    decoded = int(re.search(r"decoded (\d+) of 90 frames", result.stderr).group(1))  # type: ignore[union-attr]
    assert 20 < decoded < 70 and f"the output holds the {decoded} frames that decoded" in result.stderr
    assert len(frames(out)) == decoded
