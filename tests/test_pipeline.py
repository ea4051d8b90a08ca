"""FaceSwapPipeline behaviour that needs no encoding: scene cuts, target selection, and Ctrl-C in the CLI."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime.faces.detection import InlineDetection
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.pipeline import FaceSwapPipeline, FramePlan, FrameStats, PipelineOptions
from realtime.samples import ClipSpec, face_image, render_frame
from realtime.swappers.base import SourceSet
from realtime.swappers.classic import ClassicSwapper
from realtime.swappers.neural import GeneratorEngine, NeuralSwapper
from tests.conftest import devices


@pytest.fixture(scope="module")
def analyzer(dlib_analyzer: DlibAnalyzer) -> DlibAnalyzer:
    return dlib_analyzer


@pytest.fixture(scope="module")
def swapper(analyzer: DlibAnalyzer) -> ClassicSwapper:
    image = face_image("astronaut")  # a person who is not among the trio (write_source_face's man is)
    swapper = ClassicSwapper()
    swapper.set_source(SourceSet.single(image, analyzer.detect(image)[0]))
    return swapper


def _changed_faces(analyzer: DlibAnalyzer, before: np.ndarray, after: np.ndarray) -> list[bool]:
    """For each face of ``before`` (left to right): did the pipeline change it?"""
    faces = sorted(analyzer.detect(before), key=lambda f: f.bbox[0])
    out = []
    for f in faces:
        x0, y0, x1, y1 = f.bbox.astype(int)
        out.append(float(np.abs(after[y0:y1, x0:x1].astype(int) - before[y0:y1, x0:x1].astype(int)).mean()) > 4)
    return out


def test_scene_cut_resets_tracking(analyzer: DlibAnalyzer, swapper: ClassicSwapper) -> None:
    pipeline = FaceSwapPipeline(analyzer, swapper, detection=InlineDetection(1000))  # only cuts force detection
    one, three = ClipSpec(width=640, height=360), ClipSpec(width=640, height=360, face="trio")
    frames = [render_frame(face_image("astronaut"), i / 30, one) for i in range(6)]
    frames += [render_frame(face_image("trio"), i / 30, three) for i in range(6)]
    stats = [pipeline.process(f, i / 30)[1] for i, f in enumerate(frames)]
    assert [s.scene_cut for s in stats] == [False] * 6 + [True] + [False] * 5
    assert stats[6].detected and not any(s.detected for s in stats[1:6] + stats[7:])
    assert stats[5].faces == 1 and stats[6].faces >= 2  # the new scene's faces replace the old track
    assert all(tr.track_id >= 1 for tr in pipeline.tracker.tracks)


def test_the_pipeline_detects_when_its_strategy_says(analyzer: DlibAnalyzer, swapper: ClassicSwapper) -> None:
    """Inline detection every 3 frames: frames 0, 3, 6 detect, the others re-fit; a strategy that records its
    calls shows the pipeline hands it every frame with its index and the scene-cut flag."""
    spec = ClipSpec(width=640, height=360)
    frames = [render_frame(face_image("astronaut"), i / 30, spec) for i in range(7)]
    inline = FaceSwapPipeline(analyzer, swapper, detection=InlineDetection(3))
    assert [inline.process(f, i / 30)[1].detected for i, f in enumerate(frames)] == [i % 3 == 0 for i in range(7)]

    class Recording(InlineDetection):
        def __init__(self) -> None:
            super().__init__(1000)
            self.calls: list[tuple[int, bool]] = []
            self.closed = False

        def step(self, faces, frame, t, index, cut):  # type: ignore[no-untyped-def]
            self.calls.append((index, cut))
            return super().step(faces, frame, t, index, cut)

        def close(self) -> None:
            self.closed = True

    recording = Recording()
    pipeline = FaceSwapPipeline(analyzer, swapper, detection=recording)
    for i, frame in enumerate(frames[:3]):
        pipeline.process(frame, i / 30)
    pipeline.close()
    assert recording.calls == [(0, False), (1, False), (2, False)] and recording.closed


@pytest.mark.parametrize("mode", ["largest", "reference", "all"])
def test_target_selection(mode: str, analyzer: DlibAnalyzer, swapper: ClassicSwapper) -> None:
    frame = render_frame(face_image("trio"), 0.0, ClipSpec(width=1280, height=720, face="trio", noise=0))
    faces = sorted(analyzer.detect(frame), key=lambda f: f.bbox[0])
    assert len(faces) == 3
    reference = None
    if mode == "reference":  # the right-most person, seen in another picture of them (t1.jpg itself)
        group = face_image("group")
        candidates = sorted(analyzer.detect(group[100:500, :700].copy()), key=lambda f: f.bbox[0])
        reference = analyzer.embed(group[100:500, :700].copy(), candidates[-1])
    options = PipelineOptions(target_face=mode, reference_embedding=reference, min_score=0.0)
    out, stats = FaceSwapPipeline(analyzer, swapper, options).process(frame, 0.0)
    changed = _changed_faces(analyzer, frame, out)
    assert stats.swapped == sum(changed)
    if mode == "all":
        assert changed == [True, True, True]
    elif mode == "largest":
        largest = int(np.argmax([f.size for f in faces]))
        assert changed == [i == largest for i in range(3)]
    else:
        assert changed == [False, False, True]


@pytest.fixture(scope="module", params=devices())
def neural_swapper(analyzer: DlibAnalyzer, request: pytest.FixtureRequest) -> NeuralSwapper:
    """The astronaut onto every face with a small random-weight generator and ArcFace (what the generator does to a
    face is not under test here: where its output goes is), the generator on each device present (float16 on CUDA:
    the GPU check runs these tests there)."""
    from realtime.models.arcface import ArcFaceEncoder, IResNet
    from tests.compile_check import small_generator

    astronaut = face_image("astronaut")
    engine = GeneratorEngine(small_generator(), request.param)
    swapper = NeuralSwapper(engine, ArcFaceEncoder(IResNet((1, 1, 1, 1), width=8)))
    swapper.set_source(SourceSet.single(astronaut, analyzer.detect(astronaut)[0]))
    return swapper


def test_frames_stay_on_the_device_when_asked_and_give_the_host_output(
    analyzer: DlibAnalyzer, neural_swapper: NeuralSwapper
) -> None:
    """A neural swap of the trio with the frame resident (here on the CPU: the same torch code CUDA runs) against the
    host path, for both blends: the same faces swapped, the output within float rounding of the host's (masks may
    differ by a pixel at an edge, a watermark cell may round the other way), and the mark readable. Frames stay on
    the host where a stage cannot follow (the classic swapper): asking for it is an error naming why."""
    from realtime.watermark import WatermarkDetector
    from tests.test_resident import ASTRONAUT_68

    assert np.abs(analyzer.detect(face_image("astronaut"))[0].landmarks - ASTRONAUT_68).max() <= 0.5  # dlib's
    swapper = neural_swapper
    device = str(swapper.resident_device)
    frame = render_frame(face_image("trio"), 0.0, ClipSpec(width=640, height=360, face="trio", noise=2))
    for blend in ("poisson", "feather"):
        outputs = []
        for resident in (False, True):
            options = PipelineOptions(blend=blend, resident=resident, device=device)
            pipeline = FaceSwapPipeline(analyzer, swapper, options)
            assert pipeline.resident is resident
            outputs.append(pipeline.process(frame, 0.0))
        (host, host_stats), (on_device, stats) = outputs
        assert stats == host_stats and stats.swapped == 3
        assert _changed_faces(analyzer, frame, on_device) == [True, True, True]
        diff = np.abs(on_device.astype(int) - host)
        assert diff.mean() < 0.3 and (diff > 8).mean() < 0.002, (blend, diff.mean(), (diff > 8).mean())
        detector = WatermarkDetector(search_crops=False)
        detector.add(on_device)
        found = detector.result()
        assert found is not None and found.user_id == 0
    auto = FaceSwapPipeline(analyzer, swapper, PipelineOptions(device=device))  # resident unless on the CPU
    if device == "cpu":
        assert not auto.resident and auto.describe_frames() == "frames: on the host (the device is the CPU)"
    else:
        assert auto.resident and auto.describe_frames().startswith(f"frames: uploaded to {device} once")
    classic = ClassicSwapper()
    with pytest.raises(ValueError, match="frames cannot stay on cpu: the classic swapper works on host frames"):
        FaceSwapPipeline(analyzer, classic, PipelineOptions(resident=True))


@pytest.mark.parametrize("device", devices())
def test_masks_and_enhancer_follow_the_frame_onto_the_device(
    analyzer: DlibAnalyzer, tmp_path: Path, device: str
) -> None:
    """With occlusion, region and enhancer models in the chain the frame still stays on the device (the masks read
    from the host frame, the enhancer's crops cut there): the output is the host path's within the rounding of the
    crops' warps. A pass-through engine gives each face back, so the enhancer shows: the test one negates, and
    blended half-way it turns every face grey."""
    from realtime.models.arcface import ArcFaceEncoder, IResNet
    from realtime.processors.chain import FaceChain
    from realtime.processors.enhancer import FaceEnhancer
    from realtime.processors.masks import FaceParser, Occluder
    from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser
    from tests.test_resident import PassThroughEngine

    astronaut = face_image("astronaut")
    swapper = NeuralSwapper(PassThroughEngine(device), ArcFaceEncoder(IResNet((1, 1, 1, 1), width=8)))  # type: ignore[arg-type]
    swapper.set_source(SourceSet.single(astronaut, analyzer.detect(astronaut)[0]))
    chain = FaceChain(masks=("box", "occlusion", "region"), occluder=Occluder(write_occluder(tmp_path / "o.onnx")),
                      parser=FaceParser(write_parser(tmp_path / "p.onnx")),
                      enhancer=FaceEnhancer(write_enhancer(tmp_path / "e.onnx")), enhancer_blend=0.5)  # fmt: skip
    frame = render_frame(face_image("trio"), 0.0, ClipSpec(width=640, height=360, face="trio", noise=2))
    outputs, lines = [], []
    for resident in (False, True):
        options = PipelineOptions(resident=resident, device=device)
        pipeline = FaceSwapPipeline(analyzer, swapper, options, processors=chain)
        outputs.append(pipeline.process(frame, 0.0))
        lines.append(pipeline.describe_frames())
    assert lines[1] == f"frames: uploaded to {device} once, swapped, masked, enhanced, pasted and watermarked " \
                       "there, downloaded once"  # fmt: skip
    (host, host_stats), (on_device, stats) = outputs
    assert stats == host_stats and stats.swapped == 3
    for face in analyzer.detect(frame):  # the faces went grey (the pass-through alone gives them back)
        x0, y0, x1, y1 = face.bbox.astype(int)
        middle = on_device[(y0 + y1) // 2 - 8 : (y0 + y1) // 2 + 8, (x0 + x1) // 2 - 8 : (x0 + x1) // 2 + 8]
        assert np.abs(middle.mean((0, 1)) - 127.5).max() < 10, middle.mean((0, 1))
    diff = np.abs(on_device.astype(int) - host)
    assert diff.mean() < 0.3 and (diff > 8).mean() < 0.002, (diff.mean(), (diff > 8).mean())


def test_a_video_job_analyses_ahead_while_frames_stay_on_the_device(
    analyzer: DlibAnalyzer, neural_swapper: NeuralSwapper, tmp_path: Path
) -> None:
    """With frames on a device, a video job analyses the next frame on a thread of its own while this one renders:
    every frame comes out, in order (its timestamps), swapped and marked, and a part's warm-up frames are
    rendered but not written."""
    from realtime.io.video import VideoReader, probe
    from realtime.jobs import FrameRange, swap_video
    from realtime.provenance import ContentSigner, resolve_credentials
    from realtime.samples import make_clip
    from realtime.verify import verify_file
    from tests.media import video_frames

    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=320, height=180, seconds=0.4, face="trio"))
    with VideoReader(clip) as reader:
        decoded = list(reader)
    options = PipelineOptions(resident=True, min_score=0.0, device=str(neural_swapper.resident_device))
    one_by_one = FaceSwapPipeline(analyzer, neural_swapper, options)
    expected = [one_by_one.process(f.image, f.time)[1] for f in decoded]
    seen: list[FrameStats] = []
    pipeline = FaceSwapPipeline(analyzer, neural_swapper, options)
    analysed_on, analyse = [], pipeline.analyse

    def noting_the_thread(image: np.ndarray, t: float) -> FramePlan:
        analysed_on.append(threading.current_thread().name)
        return analyse(image, t)

    pipeline.analyse = noting_the_thread  # type: ignore[method-assign]
    signer = ContentSigner(resolve_credentials(None, None, tmp_path / "home"))
    result = swap_video(pipeline, clip, tmp_path / "out.mp4", signer=signer, on_frame=lambda *a: seen.append(a[2]))
    assert result.frames == probe(clip).frames == len(seen) == 12 and seen == expected
    assert result.frames_with_faces == 12 and verify_file(tmp_path / "out.mp4").marked
    assert set(analysed_on) == {"video-analyse"}
    after = video_frames(tmp_path / "out.mp4")
    assert all(np.abs(a.astype(int) - f.image).mean() > 1 for a, f in zip(after, decoded, strict=True))
    pts = [f.pts for f in decoded]
    part = FrameRange(seek_pts=pts[0], warm_pts=pts[2], start_pts=pts[5], end_pts=pts[9])
    fresh = FaceSwapPipeline(analyzer, neural_swapper, options)
    done = swap_video(fresh, clip, tmp_path / "part.mp4", part=part, signer=None)
    assert done.frames == 4 and fresh.faces_swapped == sum(s.swapped for s in expected[2:9])  # 2-8 rendered
