"""The pieces of the GPU-resident pipeline against their host counterparts, on every device present (the GPU check
runs this file on CUDA): warps and the outline mask against cv2, the device paste against the host paste, the
device watermark against the host one (and read back), a neural swap of a frame tensor against the host swap, the
generator replayed from CUDA Graphs against the eager one (CUDA only), and the chain's masks and enhancer on device
results against the host chain. No face models: the target is the face
dlib finds on skimage's astronaut, its 68 points frozen below (``test_pipeline.py`` checks them against dlib and
runs whole resident frames); the chain runs the tests' small ONNX models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from realtime.blend import paste, paste_all_on_device, paste_on_device
from realtime.faces.device_warp import affine_sample, fill_polygon
from realtime.faces.types import Face, face_outline, kps5_from_68
from realtime.models.arcface import ArcFaceEncoder, IResNet
from realtime.swappers.base import DeviceSwapResult, SourceSet, SwapResult, SwapTarget, hull_box
from realtime.swappers.neural import NeuralSwapper
from realtime.watermark import WatermarkDetector, Watermarker
from realtime.watermark.device import cell_means_on_device, luma_on_device
from realtime.watermark.grid import cell_means, grid_shape, to_luma
from tests.conftest import devices

# dlib's 68 landmarks of the astronaut's face (realtime.faces.dlib_backend, rounded to whole pixels)
ASTRONAUT_68 = np.array(
    [[179, 104], [180, 115], [181, 126], [182, 138], [185, 149], [191, 160], [199, 168], [209, 176], [220, 178],
     [232, 177], [243, 171], [253, 163], [260, 154], [265, 143], [268, 131], [270, 120], [272, 108], [187, 93],
     [193, 88], [201, 87], [209, 89], [216, 92], [236, 94], [244, 91], [252, 91], [259, 92], [265, 98], [226, 102],
     [225, 111], [225, 119], [225, 127], [214, 131], [219, 133], [224, 135], [229, 133], [234, 132], [195, 101],
     [200, 98], [207, 98], [212, 104], [206, 104], [199, 104], [237, 105], [243, 100], [250, 100], [255, 104],
     [250, 107], [243, 106], [201, 139], [209, 139], [217, 139], [223, 141], [230, 140], [237, 140], [246, 141],
     [237, 151], [229, 155], [222, 156], [216, 155], [208, 150], [204, 141], [217, 143], [223, 144], [229, 143],
     [243, 142], [229, 150], [223, 150], [217, 149]], np.float64)  # fmt: skip

DEVICES = devices()


def _noisy_astronaut() -> np.ndarray:
    """skimage's astronaut (512x512 RGB uint8) with sensor noise (sigma 2)."""
    noise = np.random.default_rng(0).normal(0, 2, (512, 512, 3))
    return np.clip(data.astronaut() + noise, 0, 255).astype(np.uint8)


def _astronaut_result(frame: np.ndarray, shift: tuple[int, int], gain: tuple[float, float, float]) -> SwapResult:
    """A stand-in swap of the astronaut's face: the frame rolled by ``shift`` (rows, columns) and scaled per channel
    by ``gain`` over its hull box, masked by its outline as the host swappers fill it."""
    box = hull_box(ASTRONAUT_68, frame.shape[:2])
    assert box is not None
    x0, y0, x1, y1 = box
    face = np.clip(np.roll(frame, shift, (0, 1))[y0:y1, x0:x1].astype(np.float32) * gain, 0, 255)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round(face_outline(ASTRONAUT_68) - [x0, y0]).astype(np.int32), 1)
    return SwapResult(box, face.astype(np.float32), mask.astype(np.float32))


def _image_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float().to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    ("padding", "border"),
    [("zeros", cv2.BORDER_CONSTANT), ("border", cv2.BORDER_REPLICATE), ("reflection", cv2.BORDER_REFLECT)],
)
def test_affine_sample_is_cv2_warp_affine(device: str, padding: str, border: int) -> None:
    """Each padding mode against its cv2 border, including pixels mapped outside the image; one call warps a batch
    with a matrix per image."""
    image = data.astronaut()[:256, 128:384]
    matrices = []
    for angle, scale in ((17.0, 0.6), (-40.0, 1.7)):
        m = cv2.getRotationMatrix2D((120.0, 130.0), angle, scale)
        m[:, 2] += [-20.0, 5.0]
        matrices.append(m)
    batch = _image_tensor(image, device).expand(2, -1, -1, -1)
    got = affine_sample(batch, np.stack(matrices), (160, 200), padding).permute(0, 2, 3, 1).cpu().numpy()
    for k, m in enumerate(matrices):
        expected = cv2.warpAffine(image.astype(np.float32), m, (200, 160), flags=cv2.INTER_LINEAR, borderMode=border)
        diff = np.abs(got[k] - expected)
        # cv2 interpolates with 5-bit weights; grid_sample in float (and at the image's rim the borders blend apart)
        assert diff.mean() < 0.1 and np.percentile(diff, 99.9) < 2.0, (padding, k, diff.mean(), diff.max())


@pytest.mark.parametrize("device", DEVICES)
def test_fill_polygon_is_cv2_fill_convex_poly(device: str) -> None:
    """A convex polygon exactly as cv2 draws it (at most a pixel per row's end differs, on 8-connected edges), and
    the astronaut's face outline with its brow-end notch filled."""
    rng = np.random.default_rng(3)
    points = rng.uniform(5, 95, (12, 2))
    hull = cv2.convexHull(np.round(points).astype(np.int32))[:, 0]
    expected = np.zeros((100, 100), np.uint8)
    cv2.fillConvexPoly(expected, hull, 1)
    got = fill_polygon(hull, (100, 100), device).cpu().numpy()
    assert np.abs(got - expected).sum() <= 0.01 * expected.sum()
    x0, y0, x1, y1 = box = hull_box(ASTRONAUT_68, (512, 512)) or (0, 0, 0, 0)
    outline = np.round(face_outline(ASTRONAUT_68) - [x0, y0])
    expected = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(expected, outline.astype(np.int32), 1)
    got = fill_polygon(outline, (y1 - y0, x1 - x0), device).cpu().numpy()
    assert box != (0, 0, 0, 0) and np.abs(got - expected).sum() <= 0.02 * expected.sum()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["poisson", "feather"])
def test_paste_on_device_is_the_host_paste(device: str, mode: str) -> None:
    """The same swapped face (the astronaut's face shifted and recoloured) pasted by both, their solves on one
    device: within a grey level."""
    frame = _noisy_astronaut()
    result = _astronaut_result(frame, (9, -7), (0.8, 1.0, 1.2))
    x0, y0, x1, y1 = result.box
    on_host = frame.copy()
    paste(on_host, result, mode, device)
    on_device = torch.from_numpy(frame).to(device, copy=True)
    paste_on_device(on_device, DeviceSwapResult.upload(result, device), mode)
    diff = np.abs(on_device.cpu().numpy().astype(int) - on_host)
    assert np.abs(on_host.astype(int) - frame)[y0:y1, x0:x1].mean() > 5  # the paste did something
    assert diff.max() <= 1 and diff.mean() < 0.01, (diff.max(), diff.mean())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(360, 640), (1080, 1920)])
def test_the_device_watermark_is_the_host_watermark(device: str, size: tuple[int, int]) -> None:
    """Luma exactly cv2's (halved at 1080p), cell means within float rounding of the host's, and the marked frame
    the host's within a grey level, except in a cell whose reading sat on a midpoint between two lattice points
    (rounding then picks either, both valid marks, and the refinement spreads the change over its neighbours: one
    such cell at 1080p here moves 25 of 1296 cells); the mark reads back."""
    frame = cv2.resize(_noisy_astronaut(), size[::-1], interpolation=cv2.INTER_AREA)
    on_device = torch.from_numpy(frame).to(device, copy=True)
    assert np.array_equal(luma_on_device(on_device).cpu().numpy(), to_luma(frame))
    rows, cols = grid_shape(*size)
    means = cell_means_on_device(on_device, rows, cols)
    assert np.abs(means - cell_means(to_luma(frame), rows, cols)).max() < 1e-3
    host = Watermarker(1234).embed(frame)
    Watermarker(1234).embed_on_device(on_device)
    marked = on_device.cpu().numpy()
    cells_apart = np.abs(cell_means(to_luma(marked), rows, cols) - cell_means(to_luma(host), rows, cols)) > 0.5
    assert cells_apart.mean() <= 0.025, cells_apart.sum()
    diff = np.abs(marked.astype(int) - host)
    assert (diff > 1).mean() <= 0.025, (diff > 1).mean()
    detector = WatermarkDetector(search_crops=False)
    detector.add(marked)
    found = detector.result()
    assert found is not None and found.user_id == 1234


class PassThroughEngine:
    """An engine whose "swap" returns the crop it is given (a uint8 crop as float): what comes back into the frame
    is then the frame itself, twice resampled, so the crop and paste-back geometry of both paths shows."""

    name, template, size = "simswap", "arcface", 224

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def identity(self, embedding: np.ndarray) -> np.ndarray:
        return np.asarray(embedding, np.float32)

    def run(self, crops: np.ndarray, identities: np.ndarray) -> np.ndarray:
        return crops.astype(np.float32)

    def run_tensor(self, crops: torch.Tensor, identities: np.ndarray) -> torch.Tensor:
        return crops.float()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("boost", [None, 448])
def test_a_neural_swap_of_a_frame_tensor_is_the_host_swap(device: str, boost: int | None) -> None:
    """swap_on_device (grid_sample warps, the device mask) against swap_many (cv2 warps and fill): the same box, the
    face within a grey level where both masks are on (the frame itself, with a pass-through engine; with pixel boost
    cut into 2x2 views and put together again), masks within 2% of the face."""
    torch.manual_seed(0)
    encoder = ArcFaceEncoder(IResNet((1, 1, 1, 1), width=8)).eval().to(device)
    swapper = NeuralSwapper(PassThroughEngine(device), encoder, pixel_boost=boost)  # type: ignore[arg-type]
    frame = _noisy_astronaut()
    box = np.array([*ASTRONAUT_68.min(0), *ASTRONAUT_68.max(0)])
    swapper.set_source(SourceSet.single(frame, Face(box, 1.0, ASTRONAUT_68, kps5_from_68(ASTRONAUT_68))))
    targets = [SwapTarget(ASTRONAUT_68)]
    (host,) = swapper.swap_many(frame, targets)
    (resident,) = swapper.swap_on_device(torch.from_numpy(frame).to(device), targets)
    assert host is not None and resident is not None and host.box == resident.box
    assert resident.face.device.type == resident.mask.device.type == torch.device(device).type
    face, mask = resident.face.permute(1, 2, 0).cpu().numpy(), resident.mask.cpu().numpy()
    x0, y0, x1, y1 = host.box
    both = (mask > 0) & (host.mask > 0)
    assert np.abs(host.face - frame[y0:y1, x0:x1])[both].mean() < 4  # the pass-through gives the frame back
    diff = np.abs(face - host.face)[both]
    assert diff.mean() < 0.05 and diff.max() <= 1.0, (diff.mean(), diff.max())
    assert np.abs(mask - host.mask).sum() <= 0.02 * host.mask.sum()


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_the_generator_replayed_from_cuda_graphs_is_the_eager_generator(device: str) -> None:
    """On CUDA the generator engine replays a CUDA Graph per face count: one and three faces, each count twice with
    new crops and identities, give what the same generator gives eagerly, and a count seen before captures nothing
    new (the one-face graph is captured at construction)."""
    from realtime.swappers.neural import GeneratorEngine
    from tests.compile_check import small_generator

    generator = small_generator()
    graphed, eager = GeneratorEngine(generator, device), GeneratorEngine(generator, device, cuda_graphs=False)
    assert graphed.graphed and not eager.graphed and graphed._forward.shapes == 1  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    size, latent = generator.config.resolution, generator.config.latent_dim
    for faces in (1, 3, 1, 3):
        crops = torch.from_numpy(rng.integers(0, 256, (faces, 3, size, size), dtype=np.uint8)).to(device)
        ids = rng.normal(size=(faces, latent)).astype(np.float32)
        ids /= np.linalg.norm(ids, axis=1, keepdims=True)
        got, want = graphed.run_tensor(crops, ids), eager.run_tensor(crops, ids)
        diff = (got - want).abs()
        assert got.shape == (faces, 3, size, size) and diff.max() <= 1.0 and diff.mean() < 0.05, (faces, diff.max())
    assert graphed._forward.shapes == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("device", DEVICES)
def test_the_chain_on_device_results_is_the_host_chain(
    device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FaceChain.process_on_device (crops cut, faces warped back and blended with grid_sample on the frame's device;
    the models' crops through the host) against process: occlusion, region and mouth masks and the enhancer
    blended half-way, for a face and for a result reaching past the enhancer's crop (its coverage blended in). The
    models are the tests' small ONNX graphs (tests/processors/onnx_models.py: the enhancer negates)."""
    pytest.importorskip("onnx", reason="the test models are built with onnx")
    from realtime.faces import align
    from realtime.processors import chain as chain_module
    from realtime.processors.chain import FaceChain
    from realtime.processors.enhancer import FaceEnhancer
    from realtime.processors.masks import FaceParser, Occluder
    from tests.processors.onnx_models import write_enhancer, write_occluder, write_parser

    chain = FaceChain(masks=("box", "occlusion", "region", "mouth"),
                      occluder=Occluder(write_occluder(tmp_path / "o.onnx")),
                      parser=FaceParser(write_parser(tmp_path / "p.onnx", hair_rows=4)),
                      enhancer=FaceEnhancer(write_enhancer(tmp_path / "e.onnx")), enhancer_blend=0.5)  # fmt: skip

    # the host cuts the enhancer's crop with warp_affine's fast approximation (a grey level apart on average, more at
    # sharp edges); the device warps at full scale, which is what the host gives without it
    def full_scale(
        image: np.ndarray, m: np.ndarray, size: int, border: int = cv2.BORDER_REPLICATE, fast: bool = False
    ) -> np.ndarray:
        return align.warp_affine(image, m, size, border)

    monkeypatch.setattr(chain_module, "warp_affine", full_scale)
    frame = _noisy_astronaut()
    face = _astronaut_result(frame, (23, 31), (1.0, 1.0, 1.0))
    whole = SwapResult((0, 0, 512, 512), 255.0 - frame, np.ones((512, 512), np.float32))
    for result, target in (
        (face, chain.prepare(frame, [SwapTarget(ASTRONAUT_68)])[0]),
        (whole, SwapTarget(ASTRONAUT_68)),
    ):
        (host,) = chain.process(frame, [target], [result])
        on_device = DeviceSwapResult.upload(result, device)
        (out,) = chain.process_on_device(torch.from_numpy(frame).to(device), [target], [on_device])
        assert host is not None and out is not None and out.box == host.box
        assert out.face.device.type == out.mask.device.type == torch.device(device).type
        moved, mask = out.face.permute(1, 2, 0).cpu().numpy(), out.mask.cpu().numpy()
        assert np.array_equal(mask, host.mask) and (mask < result.mask).any() == (result is face)  # masks narrowed
        enhanced = (np.abs(moved - result.face).mean(2) > 20)[host.mask > 0]
        assert enhanced.sum() > 4000, enhanced.sum()  # the masked face, the crop's part of the whole frame
        diff = np.abs(moved - host.face)[host.mask > 0]
        assert diff.max() < 1.0 and diff.mean() < 0.2, (diff.max(), diff.mean())  # the host's bytes rounded


def test_decoding_beside_a_gpu_uses_nvdec_or_says_why_not(tmp_path: Path) -> None:
    """A reader asked for CUDA decoding decodes with NVDEC (FFmpeg's cuda device) where it can, and otherwise says
    why it decodes on the CPU (no GPU here; on a GPU machine, a container without the NVDEC library makes FFmpeg
    fall back: bench/pipeline.py's CUDA rows record which decoder ran); either way the frames are the CPU
    decoder's."""
    from realtime.io.video import VideoReader
    from realtime.samples import ClipSpec, make_clip

    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=320, height=180, seconds=0.5))
    with VideoReader(clip) as reader:
        plain = [f.image for f in reader]
    with VideoReader(clip, hwaccel="cuda") as reader:
        decoded = [f.image for f in reader]
        decoder = reader.decoder
    if torch.cuda.is_available():
        assert decoder in {"cuda", "cpu (cuda decoding fell back to the CPU decoder)"}, decoder
    else:
        assert decoder.startswith("cpu (cuda decoding unavailable: ") or decoder.startswith("cpu (this FFmpeg")
    assert len(decoded) == len(plain) == 15
    for a, b in zip(decoded, plain, strict=True):  # H.264 decoding is exact; NVDEC's planes are made planar first
        assert np.array_equal(a, b)


@pytest.mark.parametrize("device", DEVICES)
def test_the_faces_of_a_frame_blend_in_one_call_as_one_by_one(device: str) -> None:
    """Three faces in one Poisson call (boxes apart; one on the frame's right edge, whose window must keep that edge)
    give what three calls give; overlapping boxes are pasted one after another."""
    frame = _noisy_astronaut()
    results, expected = [], torch.from_numpy(frame).to(device, copy=True)
    for dx, dy in ((-170, -90), (0, 0), (239, 180)):  # the last box ends at the frame's right edge
        points = ASTRONAUT_68 + np.array([dx, dy])
        box = hull_box(points, frame.shape[:2])
        assert box is not None
        x0, y0, x1, y1 = box
        face = torch.from_numpy(np.roll(frame, (23, 31), (0, 1))[y0:y1, x0:x1].astype(np.float32)).permute(2, 0, 1)
        mask = fill_polygon(np.round(face_outline(points) - [x0, y0]), (y1 - y0, x1 - x0), device)
        results.append(DeviceSwapResult(box, face.to(device), mask))
        paste_on_device(expected, results[-1], "poisson")
    assert results[-1].box[2] == 512 and results[-1].mask[:, -1].any()
    together = torch.from_numpy(frame).to(device, copy=True)
    assert paste_all_on_device(together, [results[0], None, *results[1:]], "poisson") == 3
    diff = (together.int() - expected.int()).abs()
    assert int(diff.max()) <= 1 and float((diff > 0).float().mean()) < 1e-3
    overlapping = [results[1], DeviceSwapResult(tuple(np.add(results[1].box, 5)), results[1].face, results[1].mask)]
    one_by_one = torch.from_numpy(frame).to(device, copy=True)
    for result in overlapping:
        paste_on_device(one_by_one, result, "poisson")
    together = torch.from_numpy(frame).to(device, copy=True)
    paste_all_on_device(together, overlapping, "poisson")
    assert torch.equal(together, one_by_one)
