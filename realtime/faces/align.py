"""Face alignment: 5-point templates, similarity estimation, warping to a crop and back to the frame.

Plain functions on numpy arrays (frames are HxWx3 uint8 or float32, points are [K,2] float pixel coordinates,
``M`` is a 2x3 float64 affine matrix mapping frame coordinates to crop coordinates).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "ARCFACE_112",
    "CROPS",
    "FFHQ_512",
    "SIMSWAP_POSES_112",
    "TEMPLATES",
    "alignment_matrix",
    "box_matrix",
    "estimate_similarity",
    "invert_affine",
    "template",
    "transform_points",
    "warp_affine",
    "warp_face",
    "warp_to_box",
    "warp_to_frame",
]

# insightface utils/face_align.py: left eye, right eye, nose tip, left and right mouth corners for a 112x112 crop.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
# The FFHQ-aligned 512x512 crop (facexlib / GFPGAN face template): the same five points, FFHQ framing.
FFHQ_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float64,
)
TEMPLATES = {"arcface": (ARCFACE_112, 112), "ffhq": (FFHQ_512, 512)}
# SimSwap's 224 crop ("newarc", insightface_func/utils/face_align_ffhqandnewarc.py): five pose-specific templates
# for 112 px, from left profile to right profile; a face is aligned to whichever fits it best.
SIMSWAP_POSES_112 = np.array(
    [
        [[51.642, 50.115], [57.617, 49.990], [35.740, 69.007], [51.157, 89.050], [57.025, 89.702]],
        [[45.031, 50.118], [65.568, 50.872], [39.677, 68.111], [45.177, 86.190], [64.246, 86.758]],
        [[39.730, 51.138], [72.270, 51.138], [56.000, 68.493], [42.463, 87.010], [69.537, 87.010]],
        [[46.845, 50.872], [67.382, 50.118], [72.737, 68.111], [48.167, 86.758], [67.236, 86.190]],
        [[54.796, 49.990], [60.771, 50.115], [76.673, 69.007], [55.388, 89.702], [61.257, 89.050]],
    ],
    dtype=np.float64,
)
CROPS = ("arcface", "ffhq", "simswap")


def template(name: str, size: int) -> np.ndarray:
    """Five template points [5,2] float64 for a ``size`` x ``size`` crop.

    ``arcface`` follows insightface's convention: sizes that are multiples of 112 scale the 112 template; other
    sizes (e.g. 128, 256) scale it by size/128 and shift x by 8·size/128, as ``estimate_norm`` does.
    ``ffhq`` scales the 512 template to any size.
    """
    if name not in TEMPLATES:
        raise ValueError(f"unknown alignment template {name!r}; choose one of {sorted(TEMPLATES)}")
    if size < 16:
        raise ValueError(f"crop size must be >= 16, got {size}")
    points, base = TEMPLATES[name]
    if name == "arcface" and size % 112 != 0:
        ratio = size / 128.0
        return points * ratio + np.array([8.0 * ratio, 0.0])
    return points * (size / base)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst`` (Umeyama, 1991).

    Args:
        src, dst: [K,2] point sets, K >= 2, not all coincident.

    Returns:
        [2,3] float64 matrix M with dst ≈ src @ M[:, :2].T + M[:, 2].
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"estimate_similarity needs two [K,2] point sets with K >= 2, got {src.shape}, {dst.shape}")
    s0 = src - src.mean(0)
    d0 = dst - dst.mean(0)
    var_s = float((s0**2).sum())
    if var_s <= 1e-12 * len(src):
        raise ValueError("estimate_similarity: source points are all at one place")
    # In 2-D, Umeyama's SVD solution (proper rotation times scale) is one complex number a = c + i·s minimising
    # sum |a·src_k - dst_k|² over the centred points: a = sum(conj(src_k)·dst_k) / sum |src_k|², no SVD needed.
    c = float((s0 * d0).sum()) / var_s
    s = float((s0[:, 0] * d0[:, 1] - s0[:, 1] * d0[:, 0]).sum()) / var_s
    m = np.empty((2, 3))
    m[:, :2] = [[c, -s], [s, c]]
    m[:, 2] = dst.mean(0) - m[:, :2] @ src.mean(0)
    return m


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix (float64 [2,3])."""
    return cv2.invertAffineTransform(np.asarray(m, dtype=np.float64))


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to [K,2] points; returns float64 [K,2]."""
    points = np.asarray(points, dtype=np.float64)
    return points @ m[:, :2].T + m[:, 2]


def warp_face(
    frame: np.ndarray,
    kps5: np.ndarray,
    name: str = "arcface",
    size: int = 112,
    border: int = cv2.BORDER_REPLICATE,
    fast: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop an aligned face.

    Args:
        frame: HxWxC image (uint8 or float32).
        kps5: [5,2] landmarks in frame pixels (eyes, nose, mouth corners; subject's left eye first as in insightface).
        name: crop name (``arcface``, ``ffhq`` or ``simswap``, see :func:`alignment_matrix`); size: crop side.
        fast: see :func:`warp_affine`.

    Returns:
        (crop [size,size,C] of frame's dtype, M [2,3] float64 frame → crop).
    """
    m = alignment_matrix(kps5, name, size)
    return warp_affine(frame, m, size, border, fast), m


def warp_affine(
    image: np.ndarray, m: np.ndarray, size: int, border: int = cv2.BORDER_REPLICATE, fast: bool = False
) -> np.ndarray:
    """``image`` warped by the 2x3 matrix ``m`` (image → crop) into a ``size`` x ``size`` crop, bilinear.

    ``fast``: when the crop enlarges the image by over 1.5x, warp at the image's own scale and enlarge that with a
    resize (separable, several times cheaper than warping to the full size: 0.27 vs 0.70 ms for a 512 crop of a
    120-px face at 720p); the result differs by about one grey level on average. For inputs of mask and enhancer
    models, not for a swapper's own crop."""
    scale = float(np.sqrt(abs(np.linalg.det(np.asarray(m, np.float64)[:, :2]))))
    if not fast or scale <= 1.5:
        return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    small = int(np.ceil(size / scale))
    r = small / size
    shrunk = np.asarray(m, np.float64) * r
    shrunk[:, 2] += 0.5 * r - 0.5  # resize's pixel centres: enlarging maps u to (u + 0.5) / r - 0.5
    crop = cv2.warpAffine(image, shrunk, (small, small), flags=cv2.INTER_LINEAR, borderMode=border)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


def alignment_matrix(kps5: np.ndarray, name: str, size: int) -> np.ndarray:
    """[2,3] float64 frame -> crop matrix aligning five points to crop ``name`` (one of ``CROPS``) at ``size``.

    ``arcface`` and ``ffhq`` fit their single template; ``simswap`` fits each of SimSwap's five pose templates
    (scaled by size/112) and keeps the one with the smallest summed point distance, as SimSwap does."""
    if name != "simswap":
        return estimate_similarity(kps5, template(name, size))
    best: tuple[float, np.ndarray] | None = None
    for pose in SIMSWAP_POSES_112 * (size / 112.0):
        m = estimate_similarity(kps5, pose)
        error = float(np.linalg.norm(transform_points(kps5, m) - pose, axis=1).sum())
        if best is None or error < best[0]:
            best = (error, m)
    assert best is not None
    return best[1]


def warp_to_frame(
    crop: np.ndarray, m: np.ndarray, frame_size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Inverse-warp a crop (or a crop-sized mask) into frame coordinates.

    Args:
        crop: [s,s] or [s,s,C] array produced in the crop space of ``m``.
        m: [2,3] frame → crop matrix (as returned by :func:`warp_face`).
        frame_size: (height, width) of the frame.

    Returns:
        [H,W(,C)] array of crop's dtype; pixels the crop does not cover are 0.
    """
    h, w = frame_size
    return cv2.warpAffine(
        crop, invert_affine(m), (w, h), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def warp_to_box(
    crop: np.ndarray, m: np.ndarray, box: tuple[int, int, int, int], border: int = cv2.BORDER_CONSTANT
) -> np.ndarray:
    """Inverse-warp a crop (or a crop-sized map) into the frame region ``box`` = (x0, y0, x1, y1).

    Args:
        crop: [s,s] or [s,s,C] array in the crop space of ``m`` (frame → crop, as from :func:`warp_face`).
        border: what pixels the crop does not cover get: 0 (``BORDER_CONSTANT``) or the crop's edge reflected.

    Returns:
        [y1-y0, x1-x0(,C)] array of crop's dtype, in the box's coordinates.
    """
    x0, y0, x1, y1 = box
    back = box_matrix(m, box)
    return cv2.warpAffine(crop, back, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def box_matrix(m: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """[2,3] float64 crop -> box-local matrix: the inverse of the frame -> crop matrix ``m``, shifted so the frame
    region ``box`` = (x0, y0, x1, y1) starts at (0, 0)."""
    back = invert_affine(m)
    back[:, 2] -= box[:2]
    return back
