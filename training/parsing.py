"""Face masks from a face-parsing network (ONNX), for ``--mask parsing``: the segmentation mask the research found
best for keeping the background out of the discriminator (+7.5% ArcFace distance, against −0.04% for a box).

The network is the user's: any ONNX model with the interface of face-parsing.PyTorch's BiSeNet as usually exported
(input [1,3,S,S] RGB scaled to [0,1] and normalised with ImageNet's mean and std; first output [1,K,S,S] class
logits, CelebAMask-HQ labels). ``python -m training.prepare --parsing-model`` runs it once per crop and stores the
masks in each identity folder's ``masks.npz``.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError

__all__ = ["FACE_CLASSES", "HAIR_CLASSES", "MASKS_FILE", "VISIBLE_FACE_CLASSES", "FaceParser", "parse_classes"]

MASKS_FILE = "masks.npz"
# CelebAMask-HQ order: 0 background, 1 skin, 2-3 brows, 4-5 eyes, 6 glasses, 7-8 ears, 9 earring, 10 nose,
# 11 mouth, 12-13 lips, 14 neck, 15 necklace, 16 cloth, 17 hair, 18 hat. The face and the hair, not the neck.
FACE_CLASSES = (*range(1, 14), 17)
VISIBLE_FACE_CLASSES = tuple(range(1, 14))  # what shows a face's identity: skin, brows, eyes, glasses...lips
HAIR_CLASSES = (17, 18)  # hair and hat
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def parse_classes(text: str) -> tuple[int, ...]:
    """ "1-13,17" -> (1, 2, ..., 13, 17); ValueError for anything else."""
    classes: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        classes += range(int(low), int(high or low) + 1)
    if not classes or min(classes) < 0:
        raise ValueError(f"not a class list: {text!r}")
    return tuple(sorted(set(classes)))


class FaceParser:
    """crop [H,W,3] RGB uint8 -> mask [H,W] uint8, 255 where the network's most likely class is in ``classes``
    (:meth:`labels` gives the class map itself).

    Args:
        path: the ONNX file. InputError (one line) when it is missing, unreadable or of another interface.
        classes: the labels that count as face (default :data:`FACE_CLASSES`).
        device: "cpu" or "cuda" (onnxruntime's CUDA provider when installed).
    """

    def __init__(self, path: str | os.PathLike[str], classes: tuple[int, ...] = FACE_CLASSES, device: str = "cpu"):
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise InputError(f"parsing model not found: {path}")
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=providers)
        except Exception as exc:  # protobuf DecodeError, onnxruntime's InvalidGraph, ...
            raise InputError(f"cannot load ONNX model {path}: {(str(exc).splitlines() or ['?'])[0][:200]}") from exc
        shape = self.session.get_inputs()[0].shape
        if len(shape) != 4 or shape[1] != 3:
            raise InputError(f"{path} is not a face-parsing model (expected an [N,3,S,S] image input, got {shape})")
        self.size = shape[2] if isinstance(shape[2], int) else 512
        self.name = self.session.get_inputs()[0].name
        self.classes = np.asarray(classes)

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        return self.face_mask(self.labels(crop))

    def face_mask(self, labels: np.ndarray) -> np.ndarray:
        """[H,W] uint8 mask, 255 where a class map from :meth:`labels` is one of ``classes``."""
        return np.where(np.isin(labels, self.classes), 255, 0).astype(np.uint8)

    def labels(self, crop: np.ndarray) -> np.ndarray:
        """The most likely class of every pixel of ``crop`` [H,W,3] RGB uint8: [H,W] uint8 (CelebAMask-HQ labels)."""
        h, w = crop.shape[:2]
        image = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        blob = ((image - _MEAN) / _STD).transpose(2, 0, 1)[None]
        logits = self.session.run(None, {self.name: np.ascontiguousarray(blob)})[0]
        if logits.ndim != 4 or logits.shape[2:] != (self.size, self.size):
            raise InputError(f"the parsing model's output is {list(logits.shape)}, not [1,K,{self.size},{self.size}]")
        labels = logits[0].argmax(axis=0).astype(np.uint8)
        return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
