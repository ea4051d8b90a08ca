"""The chain between swap and paste (masks, enhancer) and pixel boost, on real faces with test-built models whose
outputs are known (tests/processors/onnx_models.py), and the command-line options behind them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.faces.align import transform_points, warp_face
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.pose import mouth_keep
from realtime.faces.types import INNER_MOUTH, kps5_from_68
from realtime.io.images import read_image, write_image
from realtime.processors.chain import FaceChain
from realtime.processors.enhancer import FaceEnhancer
from realtime.processors.masks import FaceParser, Occluder
from realtime.samples import face_image, write_source_face
from realtime.swappers.base import SourceSet, SwapResult, SwapTarget
from realtime.swappers.classic import ClassicSwapper
from realtime.swappers.pixel_boost import explode, implode
from tests.cli import call_main
from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, dlib_analyzer: DlibAnalyzer) -> dict:  # type: ignore[type-arg]
    """The astronaut swapped with t1's man by the classic swapper, and the test models."""
    root = tmp_path_factory.mktemp("chain")
    frame = face_image("astronaut")
    source = face_image("person")
    swapper = ClassicSwapper()
    swapper.set_source(SourceSet.single(source, dlib_analyzer.detect(source)[0]))
    face = dlib_analyzer.detect(frame)[0]
    target = SwapTarget(face.landmarks)
    (result,) = swapper.swap_many(frame, [target])
    assert result is not None
    return {"root": root, "frame": frame, "target": target, "result": result,
            "enhancer": write_enhancer(root / "enhancer.onnx"), "occluder": write_occluder(root / "occluder.onnx"),
            "parser": write_parser(root / "parser.onnx", hair_rows=4)}  # fmt: skip


def _inner(mask: np.ndarray, px: int = 6) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)).astype(bool)


@pytest.mark.parametrize("blend", [1.0, 0.5, 0.25])
def test_the_enhancer_is_blended_at_the_given_strength(scene: dict, blend: float) -> None:  # type: ignore[type-arg]
    result: SwapResult = scene["result"]
    chain = FaceChain(enhancer=FaceEnhancer(scene["enhancer"]), enhancer_blend=blend)
    (out,) = chain.process(scene["frame"], [scene["target"]], [result])
    assert out is not None and np.array_equal(out.mask, result.mask)
    inner = _inner(result.mask)  # where the enhancer saw the swapped face itself (not its blurred edge)
    expected = (1 - blend) * result.face + blend * (255.0 - result.face)  # the test enhancer negates
    error = np.abs(out.face - expected)[inner].mean()  # two bilinear resamplings: into the crop and back
    assert error < 2.5 * blend, error


def test_codeformers_fidelity_weight_is_fed(tmp_path: Path, scene: dict) -> None:  # type: ignore[type-arg]
    enhancer = FaceEnhancer(write_enhancer(tmp_path / "cf.onnx", batch="N", weight=True), fidelity=0.5)
    assert enhancer.batched
    out = np.stack(enhancer.enhance(np.full((3, 512, 512, 3), 10.0)))
    assert out.shape == (3, 512, 512, 3) and np.allclose(out, (1 + 0.5 * (1 - 10 / 127.5)) * 127.5, atol=0.51)


def test_the_occlusion_mask_keeps_an_occluders_pixels_from_the_target(scene: dict) -> None:  # type: ignore[type-arg]
    frame = scene["frame"].copy()
    landmarks = scene["target"].landmarks
    x0, y0 = np.round(landmarks[48]).astype(int) - [4, 10]  # a green microphone over the left of the mouth
    x1, y1 = np.round(landmarks[57]).astype(int) + np.array([0, 30])
    frame[y0:y1, x0:x1] = (30, 220, 40)
    result: SwapResult = scene["result"]  # the mask reads the frame given to the chain, with the microphone
    chain = FaceChain(masks=("box", "occlusion"), occluder=Occluder(scene["occluder"]))
    (out,) = chain.process(frame, chain.prepare(frame, [scene["target"]]), [result])
    assert out is not None
    bx0, by0, _, _ = out.box
    covered = np.zeros(out.mask.shape, bool)
    covered[y0 - by0 + 2 : y1 - by0 - 2, x0 - bx0 + 2 : x1 - bx0 - 2] = True
    covered &= result.mask > 0
    assert covered.sum() > 200
    assert out.mask[covered].max() < 0.05  # the microphone stays in front
    skin = _inner(result.mask) & ~cv2.dilate(covered.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert out.mask[skin].mean() > 0.95  # the rest of the face is still swapped
    # the classic swapper measures the target's colour only where its face is seen: no green cast from the mic
    source = face_image("person")
    swapper = ClassicSwapper()
    swapper.set_source(SourceSet.single(source, DlibAnalyzer().detect(source)[0]))
    near = skin & cv2.dilate(covered.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    tint = []
    for targets in (chain.prepare(frame, [scene["target"]]), [scene["target"]]):
        (swapped,) = swapper.swap_many(frame, targets)
        assert swapped is not None
        tint.append(float(swapped.face[near][:, 1].mean() - swapped.face[near][:, 0].mean()))  # green - red
    assert tint[0] < -20 and tint[1] > tint[0] + 15, tint  # skin stays red-dominant; measured over the mic: green


def test_files_of_another_kind_are_refused_in_one_line(tmp_path: Path, scene: dict) -> None:  # type: ignore[type-arg]
    from realtime.errors import InputError
    from tests.test_swap_neural import write_inswapper_like

    two_inputs = write_inswapper_like(tmp_path / "inswapper.onnx")
    with pytest.raises(InputError, match=r"is not a face enhancer \(one \[N,3,S,S\] image input expected\)"):
        FaceEnhancer(scene["occluder"])  # channels last
    with pytest.raises(InputError, match=r"is not an occlusion model \(one \[N,3,S,S\] or \[N,S,S,3\]"):
        Occluder(two_inputs)
    with pytest.raises(InputError, match="is not a face parser"):
        FaceParser(two_inputs)


def test_the_region_mask_excludes_hair(scene: dict) -> None:  # type: ignore[type-arg]
    result: SwapResult = scene["result"]
    chain = FaceChain(masks=("box", "region"), parser=FaceParser(scene["parser"]))
    (out,) = chain.process(scene["frame"], chain.prepare(scene["frame"], [scene["target"]]), [result])
    assert out is not None
    # where each box pixel falls in the parser's FFHQ crop: the top half of it is hair for the test parser
    _, m = warp_face(scene["frame"], kps5_from_68(scene["target"].landmarks), "ffhq", 512)
    x0, y0, x1, y1 = out.box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    crop_y = transform_points(np.stack([xs.ravel(), ys.ravel()], 1), m)[:, 1].reshape(xs.shape)
    swapped = result.mask > 0
    hair, skin = swapped & (crop_y < 256 - 3), swapped & (crop_y > 256 + 3)
    assert hair.sum() > 100 and skin.sum() > 1000
    assert out.mask[hair].max() == 0 and out.mask[skin].min() == 1


def test_the_mouth_mask_keeps_an_open_mouth() -> None:
    landmarks = np.zeros((68, 2))
    landmarks[60:68] = [[40, 50], [45, 45], [50, 44], [55, 45], [60, 50], [55, 58], [50, 60], [45, 58]]
    keep = mouth_keep(landmarks, (100, 100))
    assert keep[52, 50] == 0 and keep[20, 20] == 1
    assert cv2.contourArea(landmarks[INNER_MOUTH].astype(np.float32)) > 100
    landmarks[65:68, 1] = landmarks[61:64, 1][::-1] + 1  # lips together
    assert mouth_keep(landmarks, (100, 100)).min() == 1


def test_pixel_boost_is_the_interleave_of_direct_swapper_calls(tmp_path: Path, dlib_analyzer: DlibAnalyzer) -> None:
    import torch

    from realtime.models.arcface import ArcFaceEncoder, IResNet
    from realtime.swappers.neural import InswapperEngine, NeuralSwapper
    from tests.test_swap_neural import write_inswapper_like

    crops = np.random.default_rng(0).random((2, 256, 256, 3)).astype(np.float32)
    assert np.array_equal(implode(explode(crops, 2), 2), crops)
    assert np.array_equal(explode(crops, 2)[1], crops[0, 0::2, 1::2])  # view (i=0, j=1) of the first face
    assert np.array_equal(explode(torch.from_numpy(crops), 2).numpy(), explode(crops, 2))  # tensors too
    engine = InswapperEngine(write_inswapper_like(tmp_path / "inswapper.onnx"))
    encoder = ArcFaceEncoder(IResNet((1, 1, 1, 1), width=8)).eval()
    frame, source = face_image("astronaut"), face_image("person")
    boosted = NeuralSwapper(engine, encoder, pixel_boost=256)
    with torch.no_grad():
        boosted.set_source(SourceSet.single(source, dlib_analyzer.detect(source)[0]))
    landmarks = dlib_analyzer.detect(frame)[0].landmarks
    (result,) = boosted.swap_many(frame, [SwapTarget(landmarks)])
    crop, m = warp_face(frame, kps5_from_68(landmarks), "arcface", 256)
    by_hand = np.zeros((256, 256, 3), np.float32)
    for i in range(2):
        for j in range(2):
            by_hand[i::2, j::2] = engine.run(np.ascontiguousarray(crop[i::2, j::2])[None], boosted.identities)[0]
    expected = boosted._place(frame, landmarks, by_hand, m)
    assert result is not None and expected is not None and np.array_equal(result.face, expected.face)
    # frames kept in a tensor (the resident path): the same views, crops cut by grid_sample instead of cv2
    (resident,) = boosted.swap_on_device(torch.from_numpy(frame), [SwapTarget(landmarks)])
    assert resident is not None and resident.box == result.box
    both = (resident.mask.numpy() > 0) & (result.mask > 0)
    diff = np.abs(resident.face.permute(1, 2, 0).numpy() - result.face)[both]
    assert diff.mean() < 0.05 and diff.max() <= 1.0, (diff.mean(), diff.max())
    with pytest.raises(ValueError, match="no multiple"):
        NeuralSwapper(engine, encoder, pixel_boost=200)


# The command line ---------------------------------------------------------------------------------------------


def test_the_options_run_end_to_end(scene: dict) -> None:  # type: ignore[type-arg]
    root = scene["root"]
    photo, source, out = root / "photo.png", write_source_face(root / "face.jpg"), root / "out.png"
    write_image(photo, scene["frame"])
    result = call_main("realtime.swap", photo, out, "--source", source, "--enhancer", "gfpgan", "--enhancer-model",
                       scene["enhancer"], "--enhancer-blend", "0.3", "--mask", "box,occlusion,region,mouth",
                       "--occlusion-model", scene["occluder"], "--parser-model", scene["parser"])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "masks: box,occlusion,region,mouth, enhancer gfpgan at 0.3" in result.stderr
    assert np.abs(read_image(out).astype(int) - scene["frame"]).mean() > 0.5


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (("--mask", "box,hands"), 2, "--mask takes a comma-separated list"),
        (("--mask-regions", "skin,beard"), 2, "unknown region(s) beard"),
        (("--enhancer-blend", "1.5"), 2, "--enhancer-blend must be in 0..1"),
        (("--enhancer", "gfpgan"), 1, "gfpgan_1.4 is not installed: python -m realtime.models fetch gfpgan_1.4"),
        (("--mask", "occlusion"), 1, "xseg is not installed"),
        (("--pixel-boost", "256"), 2, "--pixel-boost is for 128-px swappers"),
        (("--simswap-variant", "trainpy"), 2, "--simswap-variant is for the simswap swapper"),
        (("--enhancer", "gfpgan", "--enhancer-model", "missing.onnx"), 1, "model file not found: missing.onnx"),
    ],
)
def test_option_mistakes_are_one_line(scene: dict, extra: tuple[str, ...], code: int, says: str) -> None:  # type: ignore[type-arg]
    root = scene["root"]
    photo, source = root / "photo.png", write_source_face(root / "face.jpg")
    write_image(photo, scene["frame"])
    result = call_main("realtime.swap", photo, root / "bad.png", "--source", source, "--quiet", *extra)
    assert result.returncode == code and len(result.error_lines()) == 1 and says in result.stderr, result.stderr
