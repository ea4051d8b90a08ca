"""The provenance mark: payload coding, visibility, robustness of realtime.swap's outputs to re-encoding, scaling
and chroma subsampling (from 2-second windows) and to the edits of a repost (mirror, letterbox, brightness,
contrast; JPEG re-save and resize of images), no false positives on clean media, invisible-watermark's decoder on
images, container/image metadata, and realtime.verify's exit codes. bench/watermark.py runs the whole matrix."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bench.attacks import brightness, clean_clip, clean_images, contrast, crop, flip, h264, jpeg, pad_to, resize
from realtime.io.images import read_image, write_image
from realtime.io.metadata import read_provenance
from realtime.samples import ClipSpec, face_image, make_clip, render_frame
from realtime.verify import verify_file
from realtime.watermark import WatermarkDetector, Watermarker, decode_payload, encode_payload
from realtime.watermark.coding import CODED_BITS, conv_encode, viterbi_decode
from realtime.watermark.grid import carrier_for
from tests.cli import call_main, run_module
from tests.conftest import WATERMARK_ID, SwappedClip
from tests.media import cut, faststart_copy, video_frames


def encode(frames: list[np.ndarray], path: Path, crf: int, scale: float = 1.0) -> Path:
    """Re-encode frames with libx264 (4:2:0 chroma) straight through PyAV (not realtime's writer)."""
    h, w = frames[0].shape[:2]
    w2, h2 = round(w * scale) // 2 * 2, round(h * scale) // 2 * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in frames:
            image = frame if scale == 1.0 else cv2.resize(frame, (w2, h2), interpolation=cv2.INTER_AREA)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_payload_round_trip_and_integrity() -> None:
    for user_id in (0, 1, WATERMARK_ID, 2**32 - 1):
        bits = encode_payload(user_id)
        assert bits.shape == (64,) and decode_payload(bits) == user_id
    bits = encode_payload(WATERMARK_ID)
    for i in range(64):  # any single flipped bit is caught by the marker or the CRC
        flipped = bits.copy()
        flipped[i] = ~flipped[i]
        assert decode_payload(flipped) is None
    with pytest.raises(ValueError):
        encode_payload(2**32)


def test_the_code_decodes_through_wrong_and_unread_cells() -> None:
    """The Viterbi decoder returns the payload from soft readings with 8 of 140 coded bits read wrong and 20 more
    not read at all (as a crop or a clipped highlight leaves them), and reads a batch at once."""
    rng = np.random.default_rng(3)
    readings = []
    for user_id in (0, WATERMARK_ID, 2**32 - 1):
        coded = conv_encode(encode_payload(user_id))
        assert coded.shape == (CODED_BITS,)
        soft = np.where(coded, -1.0, 1.0) * rng.uniform(0.2, 1.0, CODED_BITS)
        wrong, unread = np.split(rng.permutation(CODED_BITS)[:28], [8])
        soft[wrong] *= -0.5
        soft[unread] = 0.0
        assert np.count_nonzero((soft < 0) != coded) >= 8
        readings.append(soft)
    decoded = viterbi_decode(np.stack(readings))
    assert [decode_payload(bits) for bits in decoded] == [0, WATERMARK_ID, 2**32 - 1]


def test_the_layout_of_a_grid_does_not_depend_on_its_row_count() -> None:
    """A grid's layout is one table per column count cut after its rows (what lets a cropped copy be matched
    without knowing the original's rows), and every run of CODED_BITS cells carries each coded bit once."""
    small, large = carrier_for(9, 16), carrier_for(20, 32 // 2)
    assert np.array_equal(small.bit, large.bit[:9]) and np.array_equal(small.chips, large.chips[:9])
    runs = large.bit.ravel()[: (large.bit.size // CODED_BITS) * CODED_BITS].reshape(-1, CODED_BITS)
    assert all(np.array_equal(np.sort(run), np.arange(CODED_BITS)) for run in runs)
    assert not np.array_equal(carrier_for(9, 32).bit[0, :16], small.bit[0])  # each column count its own


@pytest.mark.parametrize("size", [(360, 640), (480, 854), (720, 1280), (1080, 1920), (886, 1280)])
def test_marked_frames_stay_above_38_db(size: tuple[int, int]) -> None:
    h, w = size
    marker = Watermarker(WATERMARK_ID)
    for name in ("astronaut", "group"):
        for t in (0.0, 1.7, 3.1):
            frame = render_frame(face_image(name), t, ClipSpec(width=w, height=h))
            marked = marker.embed(frame)
            mse = np.mean((marked.astype(np.float64) - frame) ** 2)
            assert 10 * np.log10(255**2 / mse) >= 38.0
            assert np.abs(marked.astype(int) - frame).max() <= 12  # the peak of one cell's soft blob


@pytest.mark.parametrize(
    ("name", "crf", "scale"), [("crf18", 18, 1.0), ("crf23", 23, 1.0), ("crf28", 28, 1.0), ("75%", 18, 0.75),
                               ("75% crf23", 23, 0.75), ("50% crf28", 28, 0.5)]
)  # fmt: skip
def test_swap_output_survives_from_any_two_second_window(swapped_clip: SwappedClip, name, crf, scale) -> None:  # type: ignore[no-untyped-def]
    """Every re-encode is 4:2:0 (the mark lives in luma cell means, so chroma subsampling never touches it)."""
    frames = video_frames(swapped_clip.out)
    assert len(frames) == 90
    for start in (0, 15, 30):  # 0.0, 0.5 and 1.0 s: each window 2 s long
        window = encode(frames[start : start + 60], swapped_clip.root / f"{name}-{start}.mp4", crf, scale)
        report = verify_file(window)
        assert report.marked and report.watermark_id == WATERMARK_ID, (name, start, report)


def test_swap_output_survives_the_edits_of_a_repost(swapped_clip: SwappedClip) -> None:
    """Each edit, then an H.264 re-encode at crf 23, as a platform would; read over the first 2 seconds of the
    640x360 output."""
    frames = video_frames(swapped_clip.out)[:60]
    edits = {"mirror": flip, "letterbox to 1:1": pad_to(1.0), "pillarbox to 21:9, grey bars": pad_to(21 / 9, 40),
             "brightness +25": brightness(25), "brightness -25": brightness(-25), "contrast x0.75": contrast(0.75),
             "contrast x1.3": contrast(1.3)}  # fmt: skip
    for name, edit in edits.items():
        detector = WatermarkDetector()
        for frame in h264([edit(f) for f in frames], 23):
            detector.add(frame)
        found = detector.result()
        assert found.marked and found.user_id == WATERMARK_ID, (name, found)


def test_cropped_copies_are_found_by_searching_for_the_grid(swapped_clip: SwappedClip) -> None:
    """Crops of up to 10% a side (the grid no longer starts at the frame's edge), each then re-encoded at crf 23:
    uneven and one-sided crops of the 640x360 swap output (its first 2 seconds), and a 720p frame cropped 10% all
    round (its cells are twice the size in pixels)."""
    output = video_frames(swapped_clip.out)[:60]
    spec = ClipSpec(width=1280, height=720, seconds=1.0, face="group")
    picture, marker = face_image("group"), Watermarker(WATERMARK_ID)
    hd = h264([marker.embed(render_frame(picture, i / 30, spec)) for i in range(25)], 18)
    for frames, edit in ((output, crop(0.05, 0.10, 0.0, 0.07)), (output, crop(0.10, 0.0, 0.0, 0.0)),
                         (hd, crop(0.10, 0.10, 0.10, 0.10))):  # fmt: skip
        detector = WatermarkDetector()
        for frame in h264([edit(f) for f in frames], 23):
            detector.add(frame)
        found = detector.result()
        assert found.marked and found.user_id == WATERMARK_ID and found.cropped, found


def test_image_marks_survive_a_jpeg_resave_and_a_resize() -> None:
    marker = Watermarker(WATERMARK_ID)
    for name in ("astronaut", "group"):
        marked = marker.embed(face_image(name))
        for edit in (jpeg(70), resize(0.5), resize(0.75)):
            detector = WatermarkDetector()
            detector.add(edit(marked))
            assert detector.result().user_id == WATERMARK_ID, name


def test_the_cli_reads_the_swap_output_and_its_metadata(swapped_clip: SwappedClip) -> None:
    crf28 = encode(video_frames(swapped_clip.out), swapped_clip.root / "crf28.mp4", 28)
    result = run_module("realtime.verify", swapped_clip.out, crf28, "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    result = call_main("realtime.verify", swapped_clip.out)
    assert result.returncode == 0
    line = result.stdout.strip()
    assert line.startswith(f"{swapped_clip.out}: marked, id {WATERMARK_ID} (marker and checksum valid); confidence ")
    assert float(line.split("confidence ")[1].split()[0]) > 0.5 and "synthetic (realtime " in line
    result = call_main("realtime.verify", swapped_clip.out, swapped_clip.clip)  # one unmarked file: 3
    unmarked = result.stdout.strip().splitlines()[1]
    assert result.returncode == 3
    assert unmarked.startswith(f"{swapped_clip.clip}: not marked (no valid marker and checksum); confidence ")
    assert float(unmarked.split("confidence ")[1].split()[0]) < 0.3


def _clean_media(root: Path) -> list[Path]:
    """22 unmarked files read the way verify reads them: package images, noise, a flat and a ramp picture (as PNG and
    JPEG), and short clips of every kind the reader handles (VFR, odd sizes, rotation, 25 fps). The detector's false
    positive rate itself is tested on 250 clips and images in memory below."""
    from skimage import data

    images = [face_image("astronaut")]
    for name in ("camera", "colorwheel"):
        image = getattr(data, name)()
        images.append(np.ascontiguousarray(np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]))
    rng = np.random.default_rng(7)
    images += [rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), np.full((256, 256, 3), 128, np.uint8)]
    ramp = np.linspace(0, 255, 640, dtype=np.float32)
    images.append(np.dstack([np.tile(ramp, (360, 1))] * 3).astype(np.uint8))
    files = []
    for i, image in enumerate(images):
        for suffix in (".png", ".jpg"):
            path = root / f"clean{i}{suffix}"
            write_image(path, image)
            files.append(path)
    specs = [ClipSpec(width=320, height=240, seconds=1.0, face=f, audio=False) for f in ("astronaut", "group", "trio")]
    specs += [ClipSpec(width=480, height=270, seconds=1.0, face="astronaut", audio=False, noise=0.0)]
    specs += [ClipSpec(width=641, height=359, seconds=0.7, face="group", audio=False, vfr=True)]
    specs += [ClipSpec(width=960, height=540, seconds=0.5, face="trio", audio=False)]
    specs += [ClipSpec(width=320, height=240, seconds=0.5, face="group", audio=False, rotation=90)]
    specs += [ClipSpec(width=640, height=360, seconds=1.0, face="astronaut", audio=False, light=(0.0, 1.0))]
    specs += [ClipSpec(width=400, height=400, seconds=0.6, face="trio", audio=False, fps=25)]
    specs += [ClipSpec(width=1280, height=720, seconds=0.3, face="astronaut", audio=False)]
    for i, spec in enumerate(specs):
        files.append(make_clip(root / f"clean{i}.mp4", spec))
    return files


@pytest.mark.slow
def test_clean_files_read_as_unmarked_untagged_and_exit_3(tmp_path: Path) -> None:
    files = _clean_media(tmp_path)
    assert len(files) == 22
    for path in files:
        report = verify_file(path)
        assert not report.marked and report.watermark_id is None, report
        assert report.metadata is None
    result = call_main("realtime.verify", *files[:3], "--quiet")
    assert result.returncode == 3


def test_no_false_positives_on_50_clean_clips_and_200_clean_images() -> None:
    """The detector decodes a few hundred readings a file (grids, mirror, bars, contrast gains, the places of a
    cropped grid), each checked by 32 bits of marker and CRC: none may read a valid payload here. The crop search
    (0.1-0.3 s a file) runs on 6 clips (one of each size) and 20 images, to keep the suite's time;
    bench/watermark.py runs the whole detector on all 250."""
    rng = np.random.default_rng(20)
    for k in range(50):
        detector = WatermarkDetector(search_crops=k < 6)  # the crop search: bench/watermark.py runs it on all 250
        for frame in clean_clip(rng, k):
            detector.add(frame)
        found = detector.result()
        assert not found.marked and found.confidence < 0.35, (k, found)
    for k, image in enumerate(clean_images(rng)):
        detector = WatermarkDetector(search_crops=k < 20)
        detector.add(image)
        found = detector.result()
        assert not found.marked, (k, image.shape, found)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_outputs_are_read_by_invisible_watermark(swapped_clip: SwappedClip, suffix: str) -> None:
    from imwatermark import WatermarkDecoder

    target = swapped_clip.root / "astronaut.png"
    write_image(target, face_image("astronaut"))
    out = swapped_clip.root / f"swapped{suffix}"
    result = call_main("realtime.swap", target, out, "--source", swapped_clip.source, "--watermark-id", "42", "--quiet")
    assert result.returncode == 0, result.stderr
    bgr = cv2.imread(str(out))
    payload = WatermarkDecoder("bytes", 64).decode(bgr, "dwtDctSvd")
    assert payload == np.packbits(encode_payload(42)).tobytes()
    report = verify_file(out)
    assert report.marked and report.watermark_id == 42 and report.compat_id == 42
    assert report.metadata == read_provenance(out, "image") and report.metadata.startswith("synthetic (realtime")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_image_formats_carry_the_synthetic_tag(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tagged{suffix}"
    write_image(path, face_image("astronaut"), synthetic=True)
    assert read_provenance(path, "image").startswith("synthetic (realtime ")
    assert read_image(path).shape == (512, 512, 3)


def test_every_frame_is_marked_even_without_faces(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    blank = encode([np.full((240, 320, 3), 100 + i, np.uint8) for i in range(30)], tmp_path / "blank.mp4", 18)
    out = tmp_path / "out.avi"
    result = call_main("realtime.swap", blank, out, "--source", swapped_clip.source, "--quiet")
    assert result.returncode == 0, result.stderr
    report = verify_file(out)
    assert report.marked and report.watermark_id == 0 and report.metadata.startswith("synthetic")
    for frame in video_frames(out)[::10]:  # each frame alone carries it (no faces, no compression to speak of)
        single = tmp_path / "single.png"
        write_image(single, frame)
        assert verify_file(single).marked


def test_bad_files_exit_1_with_one_line(tmp_path: Path, swapped_clip: SwappedClip) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(swapped_clip.out.read_bytes()[:2000])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    for bad in (tmp_path / "missing.mp4", empty, truncated, text, tmp_path / "notes.txt"):
        result = call_main("realtime.verify", bad)
        lines = result.error_lines()
        assert result.returncode == 1, (bad, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("python -m realtime.verify: error:"), result.stderr
    result = call_main("realtime.verify", swapped_clip.out, tmp_path / "missing.mp4")
    assert result.returncode == 1 and "marked" in result.stdout


def test_a_cut_off_copy_still_verifies_and_says_it_is_cut(swapped_clip: SwappedClip, tmp_path: Path) -> None:
    half = cut(faststart_copy(swapped_clip.out, tmp_path / "whole.mp4"), tmp_path / "half.mp4", 0.6)
    report = verify_file(half)
    assert report.marked and report.watermark_id == WATERMARK_ID
    assert report.decode is not None and "truncated or damaged: decoded" in report.decode
    assert "input truncated or damaged" in report.line()
