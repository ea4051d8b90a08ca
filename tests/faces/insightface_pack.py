"""Build small insightface model packs for tests (no download): ONNX graphs insightface's router recognises.

- ``det.onnx``: SCRFD's interface (input 1x3x640x640; nine outputs: scores, box distances and keypoint offsets
  at strides 8, 16, 32, two anchors per cell);
- ``landmarks.onnx``: 1k3d68's interface (input 1x3x192x192, output 1x3309 whose last 68x3 values are the points);
- ``recognition.onnx``: ArcFace's interface (input 1x3x112x112, output 1x512).

Each is a random-weight convolutional network. The detector and landmark networks add their (scaled-down) output
to a planted answer, a constant tensor that encodes one face of a given scene: the box, five keypoints and 68
landmarks (measured by dlib on that scene). The networks still run on the image, but the face they report is known
in advance, so a test can check every coordinate our backend decodes. The identity network is random weights only:
its embedding depends on the face crop it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DET_SIZE = 640
STRIDES = (8, 16, 32)
ANCHORS = 2
LANDMARK_SIZE = 192
LANDMARK_OUTPUTS = 3309
NOISE = 1e-3  # how much the random network moves the planted answer (in the outputs' units)


@dataclass
class PlantedFace:
    """One face of a scene image of ``image_size`` (height, width), in its pixel coordinates."""

    image_size: tuple[int, int]
    bbox: np.ndarray  # [4] x0, y0, x1, y1
    kps5: np.ndarray  # [5,2]
    landmarks: np.ndarray  # [68,2]


class _Graph:
    """Accumulates nodes and random initializers for one ONNX graph."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.nodes, self.inits, self._n = rng, [], [], 0

    def const(self, value: np.ndarray) -> str:
        self._n += 1
        name = f"w{self._n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        self._n += 1
        out = output or f"t{self._n}"
        # names avoid insightface's "Sub"/"Mul" prefixes, which it reads as built-in input normalisation
        self.nodes.append(helper.make_node(kind, inputs, [out], name=f"node{self._n}_{kind.lower()}", **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int) -> str:
        w = self.const((self.rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32))
        b = self.const(np.zeros(cout, np.float32))
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)

    def save(self, path: Path, inputs: list, outputs: list) -> Path:
        graph = helper.make_graph(self.nodes, path.stem, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return path


def _image_input(name: str, size: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, size, size])


def det_scale(image_size: tuple[int, int]) -> float:
    """SCRFD's resize factor into its square canvas (aspect ratio kept, image in the top-left corner)."""
    h, w = image_size
    new_h = DET_SIZE if h > w else int(DET_SIZE * h / w)
    return new_h / h


def _planted_detection(face: PlantedFace) -> dict[str, list[np.ndarray]]:
    """Per-stride score logits [N,1], box distances [N,4] and keypoint offsets [N,10] that decode to ``face``."""
    s = det_scale(face.image_size)
    box, kps = face.bbox * s, face.kps5 * s
    out: dict[str, list[np.ndarray]] = {"score": [], "box": [], "kps": []}
    for stride in STRIDES:
        cells = DET_SIZE // stride
        n = cells * cells * ANCHORS
        logit = np.full((n, 1), -8.0, np.float32)
        dist, offs = np.zeros((n, 4), np.float32), np.zeros((n, 10), np.float32)
        if stride == 32:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            i, j = int(cy // stride), int(cx // stride)
            a = (i * cells + j) * ANCHORS
            ax, ay = j * stride, i * stride
            logit[a] = 8.0
            dist[a] = np.array([ax - box[0], ay - box[1], box[2] - ax, box[3] - ay]) / stride
            offs[a] = ((kps - [ax, ay]) / stride).reshape(-1)
        out["score"].append(logit)
        out["box"].append(dist)
        out["kps"].append(offs)
    return out


def write_detector(path: Path, face: PlantedFace, seed: int = 0) -> Path:
    g = _Graph(np.random.default_rng(seed))
    planted = _planted_detection(face)
    features = [g.op("Relu", [g.conv("input.1", 3, 4, 3, 8)])]
    for _ in STRIDES[1:]:
        features.append(g.op("Relu", [g.conv(features[-1], 4, 4, 3, 2)]))
    names: dict[str, list[str]] = {"score": [], "box": [], "kps": []}
    shapes = {}
    for level, feature in enumerate(features):
        for kind, k in (("score", 1), ("box", 4), ("kps", 10)):
            head = g.op("Transpose", [g.conv(feature, 4, ANCHORS * k, 1, 1)], perm=[0, 2, 3, 1])
            flat = g.op("Reshape", [head, g.const(np.array([-1, k], np.int64))])
            value = g.op("Add", [g.op("Mul", [flat, g.const(np.float32(NOISE))]), g.const(planted[kind][level])])
            name = f"{kind}_{STRIDES[level]}"
            g.op("Sigmoid" if kind == "score" else "Identity", [value], output=name)
            names[kind].append(name)
            shapes[name] = list(planted[kind][level].shape)
    ordered = names["score"] + names["box"] + names["kps"]
    return g.save(
        path,
        [_image_input("input.1", DET_SIZE)],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in ordered],
    )


def write_landmarker(path: Path, face: PlantedFace, seed: int = 1) -> Path:
    """1k3d68's output encoding: points in the 192-px crop around the box centre (scale 192 / (1.5 max side)),
    mapped to [-1, 1]."""
    g = _Graph(np.random.default_rng(seed))
    x0, y0, x1, y1 = face.bbox
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    scale = LANDMARK_SIZE / (max(x1 - x0, y1 - y0) * 1.5)
    crop = (face.landmarks - centre) * scale + LANDMARK_SIZE / 2
    planted = np.zeros((1, LANDMARK_OUTPUTS), np.float32)
    points = np.concatenate([crop / (LANDMARK_SIZE // 2) - 1, np.zeros((68, 1))], axis=1)
    planted[0, -68 * 3 :] = points.reshape(-1)
    x = g.op("Relu", [g.conv("data", 3, 4, 3, 4)])
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])])
    x = g.op("MatMul", [x, g.const((g.rng.standard_normal((4, LANDMARK_OUTPUTS)) * 0.5).astype(np.float32))])
    g.op("Add", [g.op("Mul", [x, g.const(np.float32(NOISE))]), g.const(planted)], output="fc1")
    return g.save(
        path,
        [_image_input("data", LANDMARK_SIZE)],
        [helper.make_tensor_value_info("fc1", TensorProto.FLOAT, [1, LANDMARK_OUTPUTS])],
    )


def write_recognizer(path: Path, seed: int = 2) -> Path:
    g = _Graph(np.random.default_rng(seed))
    x = g.op("Relu", [g.conv("input.1", 3, 8, 3, 2)])
    x = g.op("Relu", [g.conv(x, 8, 16, 3, 2)])
    x = g.op("Relu", [g.conv(x, 16, 32, 3, 2)])
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])])
    centred = g.op("Sub", [x, g.op("ReduceMean", [x], keepdims=1)])
    g.op("MatMul", [centred, g.const(g.rng.standard_normal((32, 512)).astype(np.float32))], output="683")
    return g.save(
        path,
        [_image_input("input.1", 112)],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])],
    )


def build_pack(folder: Path, face: PlantedFace, *, landmarks: bool = True) -> Path:
    """Write a pack (detector, optionally the 68-point landmarker, recognizer) into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    write_detector(folder / "det.onnx", face)
    if landmarks:
        write_landmarker(folder / "landmarks.onnx", face)
    write_recognizer(folder / "recognition.onnx")
    return folder


def plant(image: np.ndarray, analyzer) -> PlantedFace:  # type: ignore[no-untyped-def]
    """The largest face of an RGB image as measured by ``analyzer`` (dlib), ready to plant in a pack."""
    face = analyzer.detect(image)[0]
    return PlantedFace(image.shape[:2], face.bbox, face.kps5, face.landmarks)


def source_aligned_to(face: PlantedFace, analyzer) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A different person (the package source face, from t1.jpg) warped so that their five keypoints land on
    ``face``'s: the planted pack then finds this source where it finds the scene's face. RGB uint8, scene-sized."""
    import cv2

    from realtime.faces.align import estimate_similarity
    from realtime.samples import face_image

    group = face_image("group")
    person = analyzer.detect(np.ascontiguousarray(group[150:450, 350:650]))[0]
    m = estimate_similarity(person.kps5 + np.array([350.0, 150.0]), face.kps5)
    h, w = face.image_size
    return cv2.warpAffine(group, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
