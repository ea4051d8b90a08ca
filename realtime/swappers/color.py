"""Colour and shading transfer: make a face warped from another picture take on the target's colour and light.

- ``shading``: in Lab, the warped face keeps its own detail (everything finer than about a quarter of the eye
  distance) and takes the target's low frequencies: L = L_face - low(L_face) + low(L_target), where low() is a
  Gaussian blur normalised over the face mask (pixels outside the face do not leak in). Skin tone, the colour of
  the light and shading across the face (a lamp from one side, a light dimming over a shot) come from the target;
  the contrast of eyes, brows and lips stays the source's, so the face does not flatten. The chroma detail is kept
  at half strength: the source's own highlights and make-up carry chroma that does not belong under the target's
  light.
- ``lab``: Reinhard's transfer, the face's Lab mean and spread over the mask set to the target's. It matches skin
  tone but scales the face's contrast to the target's (a flat-lit target flattens it) and ignores shading.
- ``none``: the face's own colours.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLOR_MODES", "transfer_color"]

COLOR_MODES = ("shading", "lab", "none")
_DETAIL = np.array([1.0, 0.5, 0.5], np.float32)  # how much of the face's own detail stays: all of L, half of a and b


def _low(images: list[np.ndarray], weight: np.ndarray, sigma: float) -> list[np.ndarray]:
    """Gaussian low-passes of ``images`` (each [h,w,C] float32) normalised by the blurred ``weight`` [h,w]
    (normalised convolution: pixels of weight 0 do not leak in), each [h,w,C] float32.

    The blur runs at a resolution where ``sigma`` is about 4 pixels and is resized back: what it keeps is smooth
    at that scale, so nothing is lost, and a face at 1080p (sigma ~40 px) costs a tenth of a full-size blur."""
    h, w = weight.shape
    factor = max(1, int(sigma // 4))
    small = (max(1, round(w / factor)), max(1, round(h / factor)))

    def blur(x: np.ndarray) -> np.ndarray:
        if factor > 1:
            x = cv2.resize(x, small, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(x, (0, 0), sigma * small[0] / w)

    den = np.maximum(blur(weight), 1e-3)[..., None]
    lows = []
    for image in images:
        low = blur(image * weight[..., None]) / den
        lows.append(cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) if factor > 1 else low)
    return lows


def _lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(image / 255.0, cv2.COLOR_RGB2LAB)[mask]
    return lab.mean(0), lab.std(0) + 1e-3


def transfer_color(
    face: np.ndarray, target: np.ndarray, mask: np.ndarray, mode: str = "shading", scale: float = 32.0
) -> np.ndarray:
    """``face`` (RGB float32 [h,w,3] in [0,255], a warped source face) recoloured after ``target`` (RGB uint8 or
    float, same size) over the boolean ``mask`` [h,w]; ``scale`` is the face's size in pixels (the eye distance)
    and sets what "low frequency" means for ``shading``. Returns float32 [h,w,3] in [0,255]; pixels outside the
    mask are returned as they were."""
    if mode not in COLOR_MODES:
        raise ValueError(f"colour mode must be one of {COLOR_MODES}, got {mode!r}")
    if mode == "none" or mask.sum() < 16:
        return face
    target = target.astype(np.float32)
    if mode == "lab":
        mean_s, std_s = _lab_stats(face, mask)
        mean_t, std_t = _lab_stats(target, mask)
        lab = (cv2.cvtColor(face / 255.0, cv2.COLOR_RGB2LAB) - mean_s) * (std_t / std_s) + mean_t
        out = np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0, 0, 255)
    else:
        weight = mask.astype(np.float32)
        sigma = max(1.0, scale / 4.0)
        face_lab = cv2.cvtColor(face / 255.0, cv2.COLOR_RGB2LAB)
        low_face, low_target = _low([face_lab, cv2.cvtColor(target / 255.0, cv2.COLOR_RGB2LAB)], weight, sigma)
        lab = ((face_lab - low_face) * _DETAIL + low_target).astype(np.float32)
        out = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0, 0, 255)
    return np.where(mask[..., None], out, face).astype(np.float32)
