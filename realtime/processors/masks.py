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

import numpy as np

from realtime.models.onnx import image_input, input_dtype, open_session

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
        self.session = open_session(path, device)
        self.input, self.size = image_input(self.session, path, "an occlusion model", channels_last=True)
        self.channels_last = self.input.shape[3] == 3

    def visible(self, crops: np.ndarray) -> np.ndarray:
        """RGB crops [N,S,S,3] in [0,255] -> uint8 [N,S,S]: 255 where the face is not covered, 0 where it is (a
        byte map: warping it back to the frame costs a quarter of a float one)."""
        out = []
        for crop in np.asarray(crops, np.float32) / 255.0:
            blob = crop[None] if self.channels_last else crop.transpose(2, 0, 1)[None]
            pred = np.asarray(self.session.run(None, {self.input.name: blob.astype(input_dtype(self.input))})[0])
            out.append(pred.reshape(self.size, self.size))
        return (np.clip(np.stack(out), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


class FaceParser:
    """A face-parsing model; :meth:`regions` gives, per FFHQ-aligned crop, where the named classes are."""

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu") -> None:
        self.session = open_session(path, device)
        self.input, self.size = image_input(self.session, path, "a face parser")

    def regions(self, crops: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """RGB crops [N,S,S,3] in [0,255] -> uint8 [N,S,S]: 255 where the most likely class is one of ``names``
        (keys of :data:`REGIONS`), else 0."""
        kept = sorted({REGIONS[n] for n in names})
        out = []
        for crop in np.asarray(crops, np.float32) / 255.0:
            blob = ((crop - _IMAGENET_MEAN) / _IMAGENET_STD).transpose(2, 0, 1)[None]
            scores = self.session.run(None, {self.input.name: blob.astype(input_dtype(self.input))})[0][0]
            others = [c for c in range(scores.shape[0]) if c not in kept]
            # the best kept class beats every other one: argmax's answer, ten times faster on [19,512,512]
            out.append(np.maximum.reduce(scores[kept]) > np.maximum.reduce(scores[others]))
        return np.stack(out).astype(np.uint8) * np.uint8(255)
