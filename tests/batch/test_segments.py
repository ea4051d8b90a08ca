"""Long videos in parts: the plan (keyframe starts, warm-up, seek points) and a clip swapped in three parts and
joined without re-encoding, against the same clip swapped in one run: the same frames, timestamps and audio,
still marked, and no jump at the seams."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from realtime.batch.segments import VideoIndex, index_video, join_segments, plan_segments
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.io.video import VideoReader, probe
from realtime.jobs import EncodeSettings, FrameRange, swap_video
from realtime.options import make_pipeline, make_signer, parse_pipeline_options
from realtime.samples import ClipSpec, make_clip
from realtime.verify import verify_file
from tests.conftest import SwappedClip


def _index(frames: int, keyint: int | None, tick: int = 512) -> VideoIndex:
    pts = [i * tick for i in range(frames)]
    keys = pts[::keyint] if keyint else pts[:1]
    return VideoIndex(pts, keys, Fraction(1, 15360), 30.0)


def test_parts_start_on_keyframes_with_their_warm_up_before_them() -> None:
    parts = plan_segments(_index(180, 30), segment_seconds=2.0, warmup=8)  # keyframes every second
    assert parts == [
        FrameRange(seek_pts=0, warm_pts=0, start_pts=0, end_pts=60 * 512),
        FrameRange(seek_pts=30 * 512, warm_pts=52 * 512, start_pts=60 * 512, end_pts=120 * 512),
        FrameRange(seek_pts=90 * 512, warm_pts=112 * 512, start_pts=120 * 512, end_pts=None),
    ]
    uneven = plan_segments(_index(100, 45), segment_seconds=1.0, warmup=50)  # keyframes at 0, 45, 90
    assert [(p.start_pts // 512, p.warm_pts // 512, p.seek_pts // 512) for p in uneven] == [(0, 0, 0), (45, 0, 0),
                                                                                             (90, 40, 0)]  # fmt: skip


def test_one_part_when_there_is_nothing_to_split_at() -> None:
    assert plan_segments(_index(300, None), segment_seconds=1.0, warmup=5) == [FrameRange(0, 0, 0, None)]
    assert plan_segments(_index(20, 5), segment_seconds=10.0, warmup=5) == [FrameRange(0, 0, 0, None)]
    assert plan_segments(VideoIndex([], [], Fraction(1, 30), 30.0), 1.0, 5) == []


def _face_jitter(path: Path, analyzer: DlibAnalyzer) -> np.ndarray:
    """Per frame (but the first and last): how far the face's landmarks, found afresh in each output frame, move
    off a steady path (the norm of their second difference, pixels, mean over the landmarks; NaN without a face)."""
    with VideoReader(path) as reader:
        found = [analyzer.detect(frame.image) for frame in reader]
    # the surest detection: HOG's false hits (a patch of the background) come at the same window size, score ~0.1
    surest = [max(faces, key=lambda f: f.score) if faces else None for faces in found]
    points = [None if face is None else np.asarray(face.landmarks, float) for face in surest]
    jitter = []
    for before, now, after in zip(points, points[1:], points[2:], strict=False):
        steady = before is not None and now is not None and after is not None
        jitter.append(float(np.linalg.norm(after - 2 * now + before, axis=1).mean()) if steady else np.nan)
    return np.array(jitter)


def _timestamps(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(int(p.pts) for p in container.demux(stream) if p.pts is not None and p.size)


@pytest.mark.slow
def test_three_parts_joined_equal_one_run(tmp_path: Path, swapped_clip: SwappedClip, dlib_analyzer: DlibAnalyzer
                                          ) -> None:  # fmt: skip
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=480, height=270, seconds=2.0, keyint=10))
    index = index_video(clip)
    parts = plan_segments(index, segment_seconds=0.6, warmup=6)
    assert len(parts) == 3
    args = parse_pipeline_options(["--source", str(swapped_clip.source)])
    signer = make_signer(args)
    swap_video(make_pipeline(args), clip, tmp_path / "single.mp4", signer=signer)
    files = []
    for k, part in enumerate(parts):  # each part in a pipeline of its own, as a worker would run it
        files.append((tmp_path / f"part{k}.mp4", part))
        done = swap_video(make_pipeline(args), clip, files[-1][0], EncodeSettings(bframes=0), part=part, signer=None)
        assert done.decode is None and done.frames == 20
    assert join_segments(files, clip, tmp_path / "joined.mp4", signer, args.watermark_id) == 60

    single, joined = probe(tmp_path / "single.mp4"), probe(tmp_path / "joined.mp4")
    assert (joined.frames, joined.has_audio, joined.time_base) == (single.frames, True, single.time_base)
    assert _timestamps(tmp_path / "joined.mp4") == _timestamps(tmp_path / "single.mp4") == index.frame_pts
    joined_report = verify_file(tmp_path / "joined.mp4")
    assert joined_report.marked and joined_report.credentials.state == "valid"
    # no jump at a seam: the face moves there no more unsteadily than elsewhere (within 1.5x)
    jitter = _face_jitter(tmp_path / "joined.mp4", dlib_analyzer)  # jitter[i] is frame i + 1's
    seams = [jitter[i - 1] for start in (20, 40) for i in (start - 1, start)]
    elsewhere = np.delete(jitter, [i - 1 for start in (20, 40) for i in (start - 1, start)])
    assert np.all(np.isfinite(seams)) and np.isfinite(elsewhere).sum() > 40
    assert max(seams) <= 1.5 * float(np.nanmedian(elsewhere)), (seams, np.nanmedian(elsewhere))
