"""The chain's fast paths against the plain computations they replace: model inputs by table lookup, outputs
turned into bytes, maps read over windows of a crop, and a smaller crop averaged down from a larger one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.faces.align import warp_affine, warp_to_box
from realtime.models.onnx import to_blob, to_bytes
from realtime.processors.chain import _target_crops
from realtime.processors.enhancer import FaceEnhancer
from realtime.processors.masks import REGIONS, FaceParser
from realtime.processors.windows import crop_window, ffhq_matrix, map_matrix, within
from realtime.samples import face_image
from realtime.swappers.base import hull_box
from tests.processors.onnx_models import write_enhancer, write_parser

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_to_blob_is_the_normalisation_in_either_layout() -> None:
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 56, 3), np.uint8)
    plain = (images / np.float32(255) - np.float32(MEAN)) / np.float32(STD)
    assert np.abs(to_blob(images, MEAN, STD) - plain.transpose(0, 3, 1, 2)).max() < 1e-6
    assert np.abs(to_blob(images, MEAN, STD, channels_first=False) - plain).max() < 1e-6
    assert to_blob(images, MEAN, STD, np.float16).dtype == np.float16
    with pytest.raises(ValueError, match="uint8 images"):
        to_blob(images.astype(np.float32), MEAN, STD)


def test_to_bytes_rounds_and_clips() -> None:
    values = np.array([[-1.5, -1.0, 0.0, 0.999, 1.0, 3.0]], np.float32)
    assert to_bytes(values, 127.5, 127.5).tolist() == [[0, 0, 128, 255, 255, 255]]
    maps = np.random.default_rng(1).uniform(-0.2, 1.2, (2, 16, 16, 1)).astype(np.float32)
    expected = np.clip(np.rint(maps * 255), 0, 255)
    assert to_bytes(maps, 255.0).shape == maps.shape and np.abs(to_bytes(maps, 255.0) - expected).max() <= 1


@pytest.fixture(scope="module")
def face() -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The astronaut, her 512 FFHQ crop matrix and the box a swap of her face pastes into."""
    from realtime.faces.dlib_backend import DlibAnalyzer

    frame = face_image("astronaut")
    landmarks = DlibAnalyzer().detect(frame)[0].landmarks
    box = hull_box(landmarks, frame.shape[:2])
    assert box is not None
    return frame, ffhq_matrix(landmarks), box


def test_a_map_over_its_window_pastes_as_the_whole_map(face) -> None:  # type: ignore[no-untyped-def]
    _, m, box = face
    whole = np.random.default_rng(2).integers(0, 256, (512, 512), np.uint8)
    window = crop_window(m, box, 512, subsample=False)
    x0, y0, x1, y1, _ = window
    assert (x1 - x0) * (y1 - y0) < 0.6 * 512 * 512  # the point of it: the box is a part of the crop
    (part,) = within([whole], [window])
    back = warp_to_box(np.ascontiguousarray(part), map_matrix(m, window), box)
    # the same samples; cv2's fixed-point weights may round one grey level apart
    assert np.abs(back.astype(int) - warp_to_box(whole, m, box)).max() <= 1


def test_the_parser_decides_over_windows_as_over_the_whole_crop(tmp_path: Path, face) -> None:  # type: ignore[no-untyped-def]
    frame, m, box = face
    parser = FaceParser(write_parser(tmp_path / "parser.onnx", hair_rows=3))
    crop = warp_affine(frame, m, 512)[None]
    (whole,) = parser.regions(crop, ("skin",))
    assert whole.shape == (512, 512) and set(np.unique(whole)) == {0, 255}
    assert whole[: 3 * 64].max() == 0 and whole[3 * 64 :].min() == 255  # hair rows above, skin below
    for window in ((0, 0, 512, 512, 1), crop_window(m * 0.5, box, 512), (30, 100, 400, 300, 2)):
        (part,) = parser.regions(crop, ("skin",), [window])
        assert np.array_equal(part, within([whole], [window])[0]), window
    assert REGIONS["skin"] == 1


def test_the_enhancer_over_windows_returns_the_whole_output_cut(tmp_path: Path, face) -> None:  # type: ignore[no-untyped-def]
    frame, m, box = face
    enhancer = FaceEnhancer(write_enhancer(tmp_path / "enhancer.onnx"))
    crops = np.stack([warp_affine(frame, m, 512), warp_affine(frame, m * 0.9, 512)])
    whole = enhancer.enhance(crops)
    assert np.array_equal(whole[0], 255 - crops[0])  # the test enhancer negates
    windows = [crop_window(m, box, 512, subsample=False), (5, 7, 300, 200, 1)]
    for got, expected in zip(enhancer.enhance(crops, windows), within(whole, windows), strict=True):
        assert np.array_equal(got, expected)


def test_a_smaller_crop_averaged_from_a_larger_one_matches_its_own_warp(face) -> None:  # type: ignore[no-untyped-def]
    frame, m, _ = face
    crops = _target_crops(frame, [m], {512, 256, 200})
    assert np.allclose(crops[512][1][0], m)
    for size in (256, 200):  # 256 divides 512: averaged down; 200 does not: warped itself
        (small,), (m_small,) = crops[size]
        direct = cv2.warpAffine(frame, m_small, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        error = np.abs(small.astype(np.float32) - direct).mean()
        assert error < 2.0, (size, error)  # one sampling against another of the same picture
    # the area average's pixel j is centred on the big crop's 2j + 1/2: its matrix is m/2 shifted by 1/4 pixel
    (small,), (m_small,) = crops[256]
    errors = []
    for matrix in (m_small, m * 0.5):
        direct = cv2.warpAffine(frame, matrix, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        errors.append(np.abs(small.astype(np.float32) - direct).mean())
    assert errors[0] < errors[1], errors
