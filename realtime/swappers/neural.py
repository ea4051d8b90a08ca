"""The neural swapper: a SimSwap-style generator (ours or an official checkpoint) driven by an ArcFace identity.

Each target face is cropped with the generator's template (ArcFace's 5 points scaled to the crop at 224/256,
FFHQ's at 512, as SimSwap crops), all faces of a frame go through the generator as one batch, and each result is
warped back into the frame with the landmark hull as its mask.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from realtime.faces.align import invert_affine, warp_face
from realtime.faces.types import Face, kps5_from_68
from realtime.models.arcface import ArcFaceEncoder
from realtime.models.generator import SwapGenerator
from realtime.swappers.classic import HULL, SwapResult, hull_box

__all__ = ["NeuralSwapper"]


class NeuralSwapper:
    """Call :meth:`set_source` once, then :meth:`swap_many` per frame.

    Args:
        generator: the swap generator (eval mode); its ``config.resolution`` is the crop size.
        encoder: the ArcFace encoder the generator was trained with.
        device: where both run; float16 and channels_last are used on CUDA.
    """

    name = "simswap"

    def __init__(self, generator: SwapGenerator, encoder: ArcFaceEncoder, device: str = "cpu") -> None:
        self.device = torch.device(device)
        half = self.device.type == "cuda"
        self.dtype = torch.float16 if half else torch.float32
        fmt = torch.channels_last if half else torch.contiguous_format
        self.generator = generator.eval().to(self.device, self.dtype, memory_format=fmt)
        self.encoder = encoder.eval().to(self.device)
        self.size = generator.config.resolution
        self.template = "ffhq" if self.size == 512 else "arcface"
        self.identity: torch.Tensor | None = None

    @torch.no_grad()
    def set_source(self, image: np.ndarray, face: Face) -> None:
        """Use ``face`` of the RGB uint8 ``image`` as the identity (its ArcFace embedding)."""
        crop, _ = warp_face(image, face.kps5, "arcface", 112)
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].to(self.device, torch.float32) / 255
        self.identity = self.encoder(x).to(self.dtype)

    def swap(self, frame: np.ndarray, landmarks: np.ndarray) -> SwapResult | None:
        """One face: see :meth:`swap_many`."""
        return self.swap_many(frame, [landmarks])[0]

    @torch.no_grad()
    def swap_many(self, frame: np.ndarray, faces: list[np.ndarray]) -> list[SwapResult | None]:
        """Swap every face ([68,2] landmarks each) of an RGB uint8 frame in one generator batch; None for faces
        whose hull is off-frame."""
        if self.identity is None:
            raise RuntimeError("NeuralSwapper.swap_many called before set_source")
        if not faces:
            return []
        crops, matrices = zip(
            *(warp_face(frame, kps5_from_68(lm), self.template, self.size) for lm in faces), strict=True
        )
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).to(self.device, self.dtype) / 255
        if self.dtype == torch.float16:
            batch = batch.contiguous(memory_format=torch.channels_last)
        out = self.generator(batch, self.identity.expand(len(faces), -1))
        swapped = (out.float().clamp(0, 1) * 255).permute(0, 2, 3, 1).cpu().numpy()
        return [self._place(frame, lm, face, m) for lm, face, m in zip(faces, swapped, matrices, strict=True)]

    def _place(self, frame: np.ndarray, landmarks: np.ndarray, face: np.ndarray, m: np.ndarray) -> SwapResult | None:
        """Warp a swapped crop back into the frame, inside the bounding box of the target's landmark hull."""
        box = hull_box(landmarks, frame.shape[:2])
        if box is None:
            return None
        x0, y0, x1, y1 = box
        hull = landmarks[HULL]
        back = invert_affine(m)
        back[:, 2] -= [x0, y0]  # crop -> box-local coordinates
        region = cv2.warpAffine(face, back, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round(hull - [x0, y0]).astype(np.int32), 1)
        return SwapResult(box=(int(x0), int(y0), int(x1), int(y1)), face=region, mask=mask.astype(np.float32))
