"""--mask parsing: a face-parsing ONNX network (built here with BiSeNet's interface) makes masks.npz in prepare, and
training masks the discriminator's input with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError
from realtime.io.images import read_image
from tests.cli import call_main
from tests.training.conftest import TINY, train
from training.parsing import FaceParser, parse_classes


def write_parser(path: Path, size: int = 512, classes: int = 19) -> Path:
    """An ONNX model with face-parsing BiSeNet's interface: [1,3,S,S] ImageNet-normalised RGB -> [1,K,S,S] logits.
    Class 1 ("skin") wins where the normalised channels sum above 0 (brighter than ImageNet's mean), class 0
    (background) elsewhere; every other class is far below."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.zeros((classes, 3, 1, 1), np.float32)
    weight[1] = 1.0
    bias = np.full(classes, -10.0, np.float32)
    bias[:2] = 0.0
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["logits"])],
        "parser_like",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes, size, size])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_parser_masks_follow_the_networks_classes(tmp_path: Path) -> None:
    parser = FaceParser(write_parser(tmp_path / "parser.onnx"))
    image = np.full((224, 224, 3), 30, np.uint8)
    image[:, :112] = 200  # bright left half: class 1 (face); dark right half: class 0 (background)
    mask = parser(image)
    assert mask.shape == (224, 224) and mask.dtype == np.uint8
    assert (mask[:, :110] == 255).all() and (mask[:, 114:] == 0).all()
    assert (FaceParser(tmp_path / "parser.onnx", classes=(2, 3))(image) == 0).all()
    assert parse_classes("1-13,17") == (*range(1, 14), 17)
    with pytest.raises(InputError, match="parsing model not found"):
        FaceParser(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot load ONNX model"):
        FaceParser(tmp_path / "junk.onnx")


@pytest.mark.slow
def test_prepare_writes_parsing_masks_and_training_uses_them(dataset: Path, arcface: Path, tmp_path: Path) -> None:
    parser_path = write_parser(tmp_path / "parser.onnx")
    data = tmp_path / "data"
    result = call_main("training.prepare", dataset, data, "--aligned", "--detector", "dlib", "--parsing-model",
                       parser_path, "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    parser = FaceParser(parser_path)
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        with np.load(folder / "masks.npz") as masks, np.load(folder / "landmarks.npz") as marks:
            assert sorted(masks.files) == sorted(marks.files) == sorted(p.name for p in folder.glob("*.png"))
            name = masks.files[0]
            assert np.array_equal(masks[name], parser(read_image(folder / name)))
    train(data, arcface, tmp_path / "run", "--steps", "2", "--mask", "parsing", "--mask-start", "0")
    missing = call_main("training.train", "--data", dataset, "--identity-model", arcface, "--out", tmp_path / "x",
                        *TINY, "--steps", "2", "--mask", "parsing")  # fmt: skip
    assert missing.returncode == 1
    assert "masks.npz; write it with training.prepare --parsing-model" in missing.stderr.strip().splitlines()[-1]
