"""What every identity network shares: its own aligned crop, embedding a face in a frame, and embedding aligned
crops of another framing differentiably (training's identity loss goes through that).

Subclasses (ArcFace in :mod:`realtime.models.arcface`, dlib's ResNet in :mod:`realtime.models.dlib_resnet`) set
``crop`` (template name, side), ``dim``, :meth:`forward` on their own crops and, when their crop is not one of
:data:`realtime.faces.align.TEMPLATES`, :meth:`crop_points`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["IdentityEncoder"]


class IdentityEncoder(nn.Module):
    """Identity embeddings: ``forward(faces)`` takes crops [N,3,S,S] RGB float in [0,1] on the encoder's own
    ``crop`` (name, S) and returns L2-normalised [N,dim] float (cosine similarity is the dot product)."""

    crop: tuple[str, int] = ("arcface", 112)
    dim: int = 512
    uses_68 = False  # whether :meth:`alignment` fits all 68 landmarks (dlib's chip) rather than five points

    def crop_points(self) -> np.ndarray:
        """The five alignment points [5,2] float64 of the encoder's own crop (eye centres, nose tip, mouth
        corners)."""
        from realtime.faces.align import template

        return template(*self.crop)

    def alignment(self, points: np.ndarray) -> np.ndarray:
        """[2,3] float64 frame -> crop matrix for a face with alignment ``points`` ([5,2] float pixels)."""
        from realtime.faces.align import estimate_similarity

        return estimate_similarity(points, self.crop_points())

    def embed_crops(self, faces: torch.Tensor, crop: str) -> torch.Tensor:
        """Embeddings of aligned crops of another framing, differentiably: faces [N,3,S,S] float in [0,1],
        aligned with template ``crop`` ("arcface" or "ffhq") at S -> [N,dim] unit vectors. The crops are warped to
        the encoder's own crop with the fixed similarity between the two templates (bilinear)."""
        from realtime.faces.align import estimate_similarity, template
        from realtime.faces.device_warp import affine_sample

        m = estimate_similarity(template(crop, faces.shape[-1]), self.crop_points())
        return self(affine_sample(faces, m, (self.crop[1], self.crop[1])))

    def chip(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The encoder's own crop [S,S,3] uint8 of the face with ``points`` in an RGB uint8 image [H,W,3]: five
        alignment points, or the 68 iBUG landmarks (reduced to five unless :meth:`alignment` uses them all)."""
        from realtime.faces.align import warp_affine
        from realtime.faces.types import kps5_from_68

        points = np.asarray(points, np.float64)
        if points.shape == (68, 2) and not self.uses_68:
            points = kps5_from_68(points)
        return warp_affine(image, self.alignment(points), self.crop[1])

    @torch.no_grad()
    def embed(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The embedding (float32 [dim], unit length) of the face with alignment ``points`` in an RGB uint8 image
        [H,W,3] (see :meth:`chip`)."""
        crop = self.chip(image, points)
        device = next(self.parameters()).device
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255).to(device)
        return self(x)[0].float().cpu().numpy()

    def describe(self) -> str:
        """One line for reports: which network this is."""
        return type(self).__name__
