"""realtime.io.video: timestamps, rotation, odd sizes and audio survive a decode/encode round trip; bad input fails
with a clear error and no output file."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from realtime.errors import InputError, OutputError, UsageError
from realtime.io.video import VideoReader, VideoWriter, probe
from realtime.samples import ClipSpec, face_image, make_clip, render_frame
from tests.media import cut, faststart_copy, write_audio_only


def _read_all(path: Path) -> list:  # type: ignore[type-arg]
    with VideoReader(path) as reader:
        return list(reader)


def _roundtrip(src: Path, dst: Path) -> None:
    with VideoReader(src) as reader, VideoWriter(dst, reader.info, audio_source=src, crf=12) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        (a,) = [s for s in c.streams if s.type == "audio"]
        return sum(p.duration or 0 for p in c.demux(a)) * float(a.time_base)


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("plain.mp4", ClipSpec(width=320, height=240, seconds=1.5)),
        ("odd_vfr_rotated.mkv", ClipSpec(width=161, height=97, seconds=1.0, vfr=True, rotation=90)),
        ("rotated_180.mov", ClipSpec(width=240, height=160, seconds=1.0, rotation=180)),
    ],
)
def test_roundtrip_keeps_frames_timestamps_rotation_and_audio(tmp_path: Path, name: str, spec: ClipSpec) -> None:
    src = make_clip(tmp_path / f"src_{name}", spec)
    out = tmp_path / f"out_{name}"
    _roundtrip(src, out)
    info_in, info_out = probe(src), probe(out)
    assert (info_out.width, info_out.height, info_out.rotation) == (spec.width, spec.height, spec.rotation)
    assert info_out.fps == info_in.fps
    frames_in, frames_out = _read_all(src), _read_all(out)
    assert len(frames_out) == len(frames_in) == round(spec.seconds * spec.fps)
    times_in = np.array([f.time for f in frames_in])
    times_out = np.array([f.time for f in frames_out])
    assert np.abs(times_out - times_in).max() < 1e-3  # variable frame rate included
    expected = render_frame(face_image(spec.face), frames_in[3].time, spec)
    error = np.abs(frames_out[3].image.astype(int) - expected.astype(int)).mean()
    flipped = np.abs(frames_out[3].image[::-1, ::-1].astype(int) - expected.astype(int)).mean()
    assert error < 8 and error < flipped / 3, (error, flipped)  # same content, upright (two lossy generations)
    assert info_out.has_audio
    assert abs(_audio_seconds(out) - _audio_seconds(src)) < 0.05
    assert not list(tmp_path.glob(".*partial*"))


def test_audio_is_transcoded_when_the_container_cannot_take_it(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", ClipSpec(width=160, height=120, seconds=1.0))  # AAC audio
    out = tmp_path / "out.avi"  # AVI takes MP3, AC-3 or PCM, not AAC
    _roundtrip(src, out)
    with av.open(str(out)) as c:
        assert [s.codec_context.name for s in c.streams if s.type == "audio"] in (["mp3"], ["mp3float"])
    assert abs(_audio_seconds(out) - _audio_seconds(src)) < 0.1
    assert len(_read_all(out)) == 30


def test_truncated_empty_missing_and_audio_only_inputs(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", ClipSpec(width=160, height=120, seconds=1.0))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(src.read_bytes()[:1500])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    audio_only = write_audio_only(tmp_path / "tone.m4a")
    cases = [
        (tmp_path / "missing.mp4", "not found"),
        (empty, "empty"),
        (truncated, "cannot read|no decodable"),
        (audio_only, "no video stream"),
        (tmp_path, "folder"),
    ]
    for path, message in cases:
        with pytest.raises(InputError, match=message):
            probe(path)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_cut_short_file_is_reported_not_silently_shortened(tmp_path: Path, suffix: str) -> None:
    """An MP4 with its index first (or a Matroska file, whose header keeps the track's duration) cut in half still
    opens; the reader yields what decodes, then raises, unless told to accept it, and its report says how much."""
    spec = ClipSpec(width=320, height=240, seconds=3.0)
    src = make_clip(tmp_path / f"src{suffix}", spec)
    whole = faststart_copy(src, tmp_path / "whole.mp4") if suffix == ".mp4" else src
    half = cut(whole, tmp_path / f"half{suffix}", 0.5)
    with VideoReader(whole) as reader:
        assert len(list(reader)) == 90 and reader.report is not None and reader.report.complete
    with VideoReader(half) as reader:
        decoded = []
        with pytest.raises(InputError, match=r"truncated or damaged: decoded \d+ .*--allow-truncated"):
            decoded.extend(reader)
    assert 20 < len(decoded) < 70
    with VideoReader(half, allow_incomplete=True) as reader:
        assert len(list(reader)) == len(decoded)
        report = reader.report
    assert report is not None and not report.complete and report.decoded == len(decoded)
    assert report.expected == 90 if suffix == ".mp4" else report.duration == pytest.approx(3.0, abs=0.05)


def test_damage_in_the_middle_is_counted(tmp_path: Path) -> None:
    """Bytes overwritten in the middle of the stream: every frame may still come out (FFmpeg conceals errors), but
    the frames and packets it flags as damaged are counted, and the reader says so."""
    src = faststart_copy(make_clip(tmp_path / "src.mp4", ClipSpec(width=320, height=240, seconds=3.0, audio=False)),
                         tmp_path / "whole.mp4")  # fmt: skip
    data = bytearray(src.read_bytes())
    for offset in range(len(data) // 3, len(data) // 3 + 20000, 997):
        data[offset : offset + 50] = bytes(50)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with VideoReader(damaged, allow_incomplete=True) as reader:
        frames = list(reader)
    assert reader.report is not None and not reader.report.complete
    assert reader.report.corrupt_frames + reader.report.corrupt_packets + reader.report.decode_errors > 0
    assert "corrupt" in reader.report.describe() or "undecodable" in reader.report.describe()
    assert len(frames) <= 90
    with VideoReader(damaged) as reader, pytest.raises(InputError, match="truncated or damaged"):
        list(reader)


def test_writer_errors_and_abort_leave_nothing_behind(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "src.mp4", ClipSpec(width=160, height=120, seconds=0.5, audio=False))
    info = probe(src)
    with pytest.raises(UsageError, match="unsupported output video extension"):
        VideoWriter(tmp_path / "out.gif", info)
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", info)
    target = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt), VideoWriter(target, info) as writer:
        writer.write(np.zeros((120, 160, 3), np.uint8), 0)
        raise KeyboardInterrupt
    assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["src.mp4"]


def test_outputs_get_normal_file_permissions(tmp_path: Path) -> None:
    from realtime.io.files import TempOutput

    target = tmp_path / "out.bin"
    with TempOutput(target) as temp:
        temp.write_bytes(b"x")
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_semi_planar_frames_give_the_cpu_decoders_rgb(tmp_path: Path) -> None:
    """What a device decoder downloads (semi-planar nv12, the same samples as the CPU decoder's yuv420p) converts to
    the CPU decoder's RGB byte for byte; swscale's own semi-planar path would not (what an H200's NVDEC showed)."""
    from realtime.io.video import frame_to_rgb

    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=320, height=180, seconds=0.2))
    plain = [f.image for f in _read_all(clip)]
    with av.open(str(clip)) as container:
        semi_planar = [f.reformat(format="nv12") for f in container.decode(video=0)]
    assert len(semi_planar) == len(plain) > 0
    for frame, image in zip(semi_planar, plain, strict=True):
        assert frame.format.name == "nv12" and np.array_equal(frame_to_rgb(frame), image)
        assert np.abs(frame.to_ndarray(format="rgb24").astype(int) - image).max() > 8  # the path it avoids
