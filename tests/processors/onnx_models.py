"""Small ONNX models with the interfaces of the real ones, whose outputs the tests can predict.

- :func:`write_enhancer`: GFPGAN/GPEN's interface ([N,3,S,S] in [-1,1] -> same); it negates the image (a pixel p
  comes back as 255 - p), optionally with CodeFormer's second input w, by which it then multiplies.
- :func:`write_occluder`: XSeg's interface ([1,256,256,3] in [0,1] -> [1,256,256,1]); "face" is where red
  exceeds green (skin), so a green object in front of the face reads as an occluder.
- :func:`write_parser`: BiSeNet's interface ([1,3,512,512] -> [1,19,512,512]); the top ``hair_rows`` eighths of
  the crop are hair (class 17), the rest skin (class 1), whatever the picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _save(nodes, inputs, outputs, inits, path: Path) -> Path:  # type: ignore[no-untyped-def]
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, path.stem, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_enhancer(path: Path, size: int = 512, batch: int | str = 1, weight: bool = False) -> Path:
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 3, size, size])
    nodes = [helper.make_node("Neg", ["input"], ["neg"])]
    inputs = [image]
    if weight:
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
        nodes += [helper.make_node("Cast", ["weight"], ["w"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", ["neg", "w"], ["output"])]  # fmt: skip
    else:
        nodes[0].output[0] = "output"
    return _save(nodes, inputs, [out], [], path)


def write_occluder(path: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array([1, 1, 1], np.int64), "split"),
             numpy_helper.from_array(np.array(50.0, np.float32), "k")]  # fmt: skip
    nodes = [
        helper.make_node("Split", ["input", "split"], ["r", "g", "b"], axis=3),
        helper.make_node("Sub", ["r", "g"], ["d"]),
        helper.make_node("Mul", ["d", "k"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["output"]),
    ]
    return _save(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 256, 256, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 256, 256, 1])],
        inits,
        path,
    )


def write_parser(path: Path, hair_rows: int = 3) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    layout = np.zeros((1, 19, 8, 8), np.float32)
    layout[0, 17, :hair_rows] = 10.0
    layout[0, 1, hair_rows:] = 10.0
    inits = [
        numpy_helper.from_array(layout, "layout"),
        numpy_helper.from_array(np.array([1.0, 1.0, 64.0, 64.0], np.float32), "scales"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=0),  # the picture enters the graph ...
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),  # ... and changes nothing
        helper.make_node("Resize", ["layout", "", "scales"], ["grid"], mode="nearest"),
        helper.make_node("Add", ["grid", "nothing"], ["output"]),
    ]
    return _save(
        nodes,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 19, 512, 512])],
        inits,
        path,
    )
