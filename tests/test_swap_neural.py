"""python -m realtime.swap with the neural swappers: a checkpoint written by our code (tiny, random weights), and a
small ONNX model with inswapper's inputs and outputs, each with a random-weight ArcFace, end to end on a generated
clip; the inswapper engine against insightface's own INSwapper; model-file mistakes give clear errors."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from realtime.faces.align import warp_face
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.types import kps5_from_68
from realtime.io.video import probe
from realtime.models import GeneratorConfig, SwapGenerator
from realtime.models.arcface import ARCFACE_ARCHS, IResNet, load_arcface
from realtime.models.checkpoint import save_generator
from realtime.samples import ClipSpec, make_clip, write_source_face
from realtime.swappers.base import SourceSet
from realtime.swappers.neural import InswapperEngine, NeuralSwapper
from realtime.verify import verify_file
from tests.cli import CliResult, call_main
from tests.compile_check import small_generator
from tests.media import reencoded_frames, video_frames

SPEC = ClipSpec(width=640, height=360, seconds=1.5, still=(0.5, 1.0), light=(1.0, 1.4))


def write_inswapper_like(path: Path, seed: int = 0) -> Path:
    """An ONNX model with inswapper_128's interface: target [1,3,128,128] + source [1,512] -> [1,3,128,128] in
    [0,1] (a random 3x3 conv of the target plus a per-channel shift from the source, through a sigmoid), and a
    random [512,512] embedding map as the last initializer."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array((rng.standard_normal((3, 3, 3, 3)) * 0.3).astype(np.float32), "conv_w"),
        numpy_helper.from_array(np.zeros(3, np.float32), "conv_b"),
        numpy_helper.from_array((rng.standard_normal((512, 3)) * 0.5).astype(np.float32), "style_w"),
        numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "style_shape"),
        numpy_helper.from_array((rng.standard_normal((512, 512)) / 22.6).astype(np.float32), "emap"),
    ]
    nodes = [
        helper.make_node("Conv", ["target", "conv_w", "conv_b"], ["t"], pads=[1, 1, 1, 1]),
        helper.make_node("MatMul", ["source", "style_w"], ["s"]),
        helper.make_node("Reshape", ["s", "style_shape"], ["s4"]),
        helper.make_node("Add", ["t", "s4"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "inswapper_like",
        [helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128]),
         helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def run(*args: object) -> CliResult:
    """realtime.swap's main in this process (conftest's session swap runs the real entry point)."""
    return call_main("realtime.swap", *args)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("neural")
    generator = save_generator(root / "generator.pt", small_generator().eval(), step=0)  # compile_check's too
    arcface = root / "backbone.pth"
    torch.save(IResNet(ARCFACE_ARCHS["r18"]).state_dict(), arcface)
    clip, source = make_clip(root / "clip.mp4", SPEC), write_source_face(root / "source.jpg")
    inswapper = write_inswapper_like(root / "inswapper_128.onnx")
    return {"root": root, "generator": generator, "arcface": arcface, "clip": clip, "source": source,
            "inswapper": inswapper}  # fmt: skip


def swap_clip(
    models: dict[str, Path], model: str, note: str, *extra: str
) -> tuple[Path, list[np.ndarray], list[np.ndarray]]:
    """Run realtime.swap on the clip with ``models[model]``; checks the exit, the swapper note, frames and audio."""
    out = models["root"] / f"out-{model}{''.join(extra)}.mp4"
    result = run(models["clip"], out, "--source", models["source"], "--model", models[model], "--identity-model",
                 models["arcface"], *extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert note in result.stderr
    assert probe(out).has_audio
    before, after = video_frames(models["clip"]), video_frames(out)
    assert len(after) == len(before) == round(SPEC.seconds * SPEC.fps)
    return out, before, after


@pytest.mark.slow
def test_our_checkpoint_swaps_a_clip_end_to_end(models: dict[str, Path]) -> None:
    note = "swapper: simswap (224px, modulated blocks, separable convs)"
    out, before, after = swap_clip(models, "generator", note)
    noise = reencoded_frames(models["clip"], models["root"] / "reencoded.mp4")
    analyzer = DlibAnalyzer()
    for i in range(0, len(before), 9):
        x0, y0, x1, y1 = max(analyzer.detect(before[i]), key=lambda f: f.score).bbox.astype(int)
        diff = np.abs(after[i].astype(int) - before[i]).mean(axis=2)
        baseline = np.abs(noise[i].astype(int) - before[i]).mean(axis=2)
        background = np.ones(diff.shape, bool)
        background[max(y0 - 30, 0) : y1 + 30, max(x0 - 30, 0) : x1 + 30] = False
        assert diff[max(y0, 0) : y1, max(x0, 0) : x1].mean() > 6, f"frame {i}: the face did not change"
        assert diff[background].mean() <= baseline[background].mean() + 0.3, f"frame {i}: the background moved"
    assert verify_file(out).marked


@pytest.mark.slow
def test_compiled_generator_matches_eager(models: dict[str, Path], compile_check: dict[str, float]) -> None:
    """torch.compile(fullgraph=True) of a generator on the custom ops (one graph, no breaks) gives the eager output,
    for one face and for a frame of three (measured by tests/compile_check.py, which ran beside the suite on the
    generator of ``models``); and --compile runs end to end."""
    assert compile_check["batch1"] <= 255 * 1e-4 and compile_check["batch3"] <= 255 * 1e-4, compile_check
    swap_clip(models, "generator", "separable convs, torch.compile)", "--compile")


def test_inswapper_engine_matches_insightface(models: dict[str, Path]) -> None:
    """Our crop, identity mapping and model call against insightface's INSwapper.get(paste_back=False)."""
    from insightface.app.common import Face as InsightFace
    from insightface.model_zoo.inswapper import INSwapper

    frame = video_frames(models["clip"])[0]
    face = DlibAnalyzer().detect(frame)[0]
    encoder = load_arcface(models["arcface"])
    engine = InswapperEngine(models["inswapper"])
    swapper = NeuralSwapper(engine, encoder)
    swapper.set_source(SourceSet.single(frame, face))
    with torch.no_grad():
        arcface_crop, _ = warp_face(frame, face.kps5, "arcface", 112)
        embedding = encoder(torch.from_numpy(arcface_crop).permute(2, 0, 1)[None].float() / 255)[0].numpy()
    kps = kps5_from_68(face.landmarks)
    bgr = np.ascontiguousarray(frame[..., ::-1])
    theirs = INSwapper(model_file=str(models["inswapper"]))
    with warnings.catch_warnings():  # insightface's crop calls a scikit-image API deprecated since 0.26
        warnings.simplefilter("ignore", FutureWarning)
        fake, m_theirs = theirs.get(bgr, InsightFace(kps=kps), InsightFace(embedding=embedding), paste_back=False)
    crop, m_ours = warp_face(frame, kps, "arcface", 128)
    assert np.allclose(m_ours, m_theirs, atol=1e-6)
    ours = engine.run(crop[None], swapper.identities)[0]
    diff = np.abs(ours - fake[..., ::-1].astype(np.float32))
    # theirs is truncated to uint8 (mean error 0.5) and its crop differs from ours in the last bits
    assert diff.max() <= 2.0 and diff.mean() <= 0.6, (diff.max(), diff.mean())


def test_inswapper_runs_end_to_end(models: dict[str, Path]) -> None:
    out, before, after = swap_clip(models, "inswapper", "swapper: inswapper (128px)")
    x0, y0, x1, y1 = max(DlibAnalyzer().detect(before[0]), key=lambda f: f.score).bbox.astype(int)
    assert np.abs(after[0].astype(int) - before[0])[y0:y1, x0:x1].mean() > 6
    assert verify_file(out).marked


def test_trusted_pickles_run(models: dict[str, Path], tmp_path: Path) -> None:
    """--trust-pickle: a whole pickled generator and a whole pickled identity network (SimSwap's arcface file is
    one) are used as they are."""
    generator = tmp_path / "whole_generator.pth"
    torch.save(SwapGenerator(GeneratorConfig(width=8, id_blocks=1)), generator)
    identity = tmp_path / "arcface_checkpoint.tar"
    network = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2), torch.nn.AdaptiveAvgPool2d(8), torch.nn.Flatten())
    torch.save(torch.nn.Sequential(network, torch.nn.Linear(256, 512)), identity)
    out = tmp_path / "out.mp4"
    result = run(models["clip"], out, "--source", models["source"], "--model", generator, "--identity-model",
                 identity, "--trust-pickle", "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert verify_file(out).marked


def test_model_mistakes_are_clear(models: dict[str, Path], tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(models["generator"].read_bytes()[:4000])
    pickled = tmp_path / "whole.pth"
    torch.save(SwapGenerator(GeneratorConfig(width=8, id_blocks=1)), pickled)
    out = tmp_path / "out.mp4"
    base = (models["clip"], out, "--source", models["source"], "--quiet")
    cases = [
        (("--swapper", "simswap"), 2, "needs --model"),
        (("--model", models["generator"]), 2, "needs the identity model"),
        (("--swapper", "classic", "--model", models["generator"]), 2, "for neural swappers"),
        (("--compile",), 2, "--compile is for the simswap swapper"),
        (("--model", truncated, "--identity-model", models["arcface"]), 1, "truncated"),
        (("--model", pickled, "--identity-model", models["arcface"]), 1, "pickled Python object"),
        (("--model", models["generator"], "--identity-model", pickled), 1, "pickled Python object"),
        (("--model", models["generator"], "--identity-model", models["generator"]), 1, "not an arcface_torch"),
        (
            ("--swapper", "inswapper", "--model", models["arcface"], "--identity-model", models["arcface"]),
            1,
            "cannot load ONNX model",
        ),
        (("--model", models["generator"].with_suffix(".onnx"), "--identity-model", models["arcface"]), 1, "not found"),
    ]
    for extra, code, message in cases:
        result = run(*base, *extra)
        lines = result.error_lines()
        assert result.returncode == code, (extra, result.stderr)
        assert len(lines) == 1 and re.search(message, lines[0]), result.stderr
        assert not out.exists()
