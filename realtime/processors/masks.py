"""Where a swapped face may be pasted, beyond the swapper's own region (``box``): masks read from the target.

- ``occlusion``: an XSeg-style occlusion model says which pixels of the target's face are face and which are in
  front of it (a hand, hair, glasses, a microphone); only face pixels are swapped. Interface: an FFHQ-aligned RGB
  crop [1,256,256,3] (channels last, as XSeg) or [1,3,256,256], in [0,1]; out one map of the same size, 1 = face.
- ``region``: a BiSeNet face parser (CelebAMask-HQ's 19 classes) keeps only the named regions
  (``--mask-regions``; hair, hats, ears and the neck are never among the defaults). Interface: an FFHQ-aligned RGB
  crop [1,3,512,512] normalised with ImageNet's mean and spread; out [1,19,512,512] class scores.
- ``mouth``: the target's inner mouth (from its landmarks) when it is open, so its teeth and tongue stay
  (:func:`realtime.faces.pose.mouth_keep`).
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from realtime.models.onnx import TimedSession, image_input, input_dtype, open_session, to_blob, to_bytes
from realtime.processors.windows import Window

__all__ = ["DEFAULT_REGIONS", "MASKS", "REGIONS", "FaceParser", "Occluder"]

MASKS = ("box", "occlusion", "region", "mouth")
# face-parsing.PyTorch's CelebAMask-HQ labels, by the names FaceFusion's users know
REGIONS = {"skin": 1, "left-eyebrow": 2, "right-eyebrow": 3, "left-eye": 4, "right-eye": 5, "glasses": 6,
           "left-ear": 7, "right-ear": 8, "nose": 10, "mouth": 11, "upper-lip": 12, "lower-lip": 13, "neck": 14,
           "hair": 17, "hat": 18}  # fmt: skip
DEFAULT_REGIONS = ("skin", "left-eyebrow", "right-eyebrow", "left-eye", "right-eye", "glasses", "nose", "mouth",
                   "upper-lip", "lower-lip")  # fmt: skip
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


class Occluder:
    """An occlusion model; :meth:`visible` gives, per FFHQ-aligned crop, where the face itself is seen."""

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        session = open_session(path, device)
        self.input, self.size = image_input(session, path, "an occlusion model", channels_last=True)
        self.channels_last = self.input.shape[3] == 3
        self.model = TimedSession(session)

    def visible(self, crops: np.ndarray) -> np.ndarray:
        """uint8 RGB crops [N,S,S,3] -> uint8 [N,S,S]: 255 where the face is not covered, 0 where it is (a byte
        map: warping it back to the frame costs a quarter of a float one)."""
        blobs = to_blob(crops, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), input_dtype(self.input), not self.channels_last)
        maps = [self.model.run({self.input.name: blob[None]})[0] for blob in blobs]  # XSeg's batch is fixed at 1
        return to_bytes(np.stack(maps).reshape(len(blobs), self.size, self.size), 255.0)


class FaceParser:
    """A face-parsing model; :meth:`regions` gives, per FFHQ-aligned crop, where the named classes are."""

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        session = open_session(path, device)
        self.input, self.size = image_input(session, path, "a face parser")
        self.model = TimedSession(session)

    def regions(
        self, crops: np.ndarray, names: tuple[str, ...], windows: list[Window] | None = None
    ) -> list[np.ndarray]:
        """Where the most likely class is one of ``names`` (keys of :data:`REGIONS`): per uint8 RGB crop [N,S,S,3],
        a uint8 map, 255 there and 0 elsewhere, over the crop's ``windows[k]`` (the whole crop when None).

        Deciding only where a map will be used matters: reading all 19 class scores of a 512 crop (20 MB) is the
        parser's costliest step after the model itself."""
        kept = sorted({REGIONS[n] for n in names})
        blobs = to_blob(crops, _IMAGENET_MEAN, _IMAGENET_STD, input_dtype(self.input))
        out = []
        for k, blob in enumerate(blobs):
            x0, y0, x1, y1, step = (0, 0, self.size, self.size, 1) if windows is None else windows[k]
            scores = self.model.run({self.input.name: blob[None]})[0][0]
            rows = scores[:, y0:y1:step, x0:x1]  # every step-th row, whole runs of columns: contiguous reads
            others = [c for c in range(scores.shape[0]) if c not in kept]
            out.append((_best(rows, kept) > _best(rows, others))[:, ::step].astype(np.uint8) * np.uint8(255))
        return out


def _best(scores: np.ndarray, classes: list[int]) -> np.ndarray:
    """The highest of ``scores`` [C,H,W] (float32 or float16) over ``classes``, float32 [H,W]: one plane at a time
    into one buffer (the best kept class beating every other one is argmax's answer, at a twentieth of its cost)."""
    best = scores[classes[0]].astype(np.float32)
    for c in classes[1:]:
        cv2.max(best, scores[c].astype(np.float32, copy=False), dst=best)
    return best
