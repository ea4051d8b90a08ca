"""Face enhancers (face restoration networks run on the swapped face before it is pasted): GFPGAN 1.4, GPEN-BFR
256/512 and CodeFormer, as ONNX files (``python -m realtime.models fetch gfpgan_1.4``).

They share one interface, the one the field's ONNX exports have: an FFHQ-aligned RGB crop [N,3,S,S] scaled to
[-1,1] in, the restored crop in the same range out (S = 256 or 512). CodeFormer takes a second input, its fidelity
weight w (0: strongest restoration, 1: closest to the input). The batch axis may be fixed at 1 (then the faces of a
frame run one by one) or dynamic (then in one batch).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from realtime.models.onnx import TimedSession, image_input, input_dtype, open_session, to_blob, to_bytes
from realtime.processors.windows import Window, within

__all__ = ["ENHANCERS", "ENHANCER_MODELS", "FaceEnhancer"]

ENHANCERS = ("none", "gfpgan", "gpen256", "gpen512", "codeformer")
# --enhancer NAME -> the model store's name for its file
ENHANCER_MODELS = {
    "gfpgan": "gfpgan_1.4",
    "gpen256": "gpen_bfr_256",
    "gpen512": "gpen_bfr_512",
    "codeformer": "codeformer",
}


class FaceEnhancer:
    """An enhancer ONNX model. :meth:`enhance` maps FFHQ-aligned crops to restored crops.

    Args:
        path: the ONNX file.
        device: "cpu" or "cuda" (when onnxruntime has CUDA).
        fidelity: CodeFormer's w, for models with a second (scalar) input; ignored by the others.
    """

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", fidelity: float = 0.7) -> None:
        session = open_session(path, device)
        self.image, self.size = image_input(session, path, "a face enhancer", others=True)
        batch = self.image.shape[0]
        self.batched = not isinstance(batch, int) or batch != 1
        self.extra = {i.name: np.array([fidelity], dtype=np.float64 if "double" in i.type else np.float32)
                      for i in session.get_inputs() if i.name != self.image.name}  # fmt: skip
        self.model = TimedSession(session)

    def enhance(self, crops: np.ndarray, windows: list[Window] | None = None) -> list[np.ndarray]:
        """Restore FFHQ-aligned crops: RGB [N,S,S,3] in [0,255] (float values are rounded to bytes first) ->
        per crop, uint8 RGB over its ``windows[k]`` (:mod:`realtime.processors.windows`; the whole crop when None).
        """
        crops = np.asarray(crops)
        if crops.dtype != np.uint8:
            crops = np.clip(np.rint(crops), 0, 255).astype(np.uint8)
        blob = to_blob(crops, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), input_dtype(self.image))  # [-1, 1]
        batches = [blob] if self.batched else [blob[i : i + 1] for i in range(len(blob))]
        restored = np.concatenate([self.model.run({self.image.name: b, **self.extra})[0] for b in batches])
        whole = [(0, 0, self.size, self.size, 1)] * len(restored)
        planes = within(restored.transpose(0, 2, 3, 1), windows or whole)  # [h,w,3] views of [3,S,S] planes
        # [-1, 1] -> bytes one plane at a time (each a run of whole rows), then interleaved
        return [cv2.merge([to_bytes(p[..., c], 127.5, 127.5) for c in range(3)]) for p in planes]
