"""Warping and polygon masks on torch tensors, for frames that stay on a device (the GPU-resident pipeline) and for
training's differentiable crops: what :mod:`realtime.faces.align` does with cv2 on the host.

Matrices follow :mod:`realtime.faces.align`: 2x3 float64, source pixel -> destination pixel, pixel centres at
integer coordinates (cv2's convention), so the same matrix warps a frame with either module.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PADDING", "affine_sample", "fill_polygon"]

# cv2's border modes, as grid_sample's padding (align_corners=False: "reflection" mirrors about the image's outer
# edge, which is cv2.BORDER_REFLECT; "border" repeats the edge pixel, cv2.BORDER_REPLICATE)
PADDING = ("zeros", "border", "reflection")


def affine_sample(
    images: torch.Tensor, matrices: np.ndarray, size: tuple[int, int], padding: str = "zeros"
) -> torch.Tensor:
    """``cv2.warpAffine`` of a batch, bilinear and differentiable.

    Args:
        images: [N,C,H,W] float (any device).
        matrices: [2,3] (one for every image) or [N,2,3] float, source pixel -> destination pixel.
        size: the destination (height, width).
        padding: what destination pixels mapping outside the image get, one of :data:`PADDING`.

    Returns:
        [N,C,height,width] of the images' dtype and device.
    """
    if padding not in PADDING:
        raise ValueError(f"padding must be one of {PADDING}, got {padding!r}")
    n, c, h, w = images.shape
    out_h, out_w = size
    m = np.broadcast_to(np.asarray(matrices, np.float64), (n, 2, 3))
    square = np.concatenate([m, np.broadcast_to([[[0.0, 0.0, 1.0]]], (n, 1, 3))], axis=1)
    inv = np.linalg.inv(square)  # destination pixel -> source pixel
    # normalised coordinates (align_corners=False): u = (2x + 1) / W - 1
    to_norm_src = np.array([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]])
    from_norm_dst = np.array(
        [[out_w / 2.0, 0.0, out_w / 2.0 - 0.5], [0.0, out_h / 2.0, out_h / 2.0 - 0.5], [0.0, 0.0, 1.0]]
    )
    theta = torch.as_tensor((to_norm_src @ inv @ from_norm_dst)[:, :2], dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta, [n, c, out_h, out_w], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def fill_polygon(points: np.ndarray, size: tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """The region of a polygon as float32 [height, width] in {0, 1} on ``device``, as ``cv2.fillConvexPoly`` draws
    it: each pixel row filled from the leftmost to the rightmost pixel of the outline on that row, the outline's
    edges being 8-connected lines (a steep edge takes its rounded crossing, a shallow one the run of pixels whose
    centre lies within half a pixel of it). Rows are filled whole, so where an outline is not convex along a row
    (the notch at a brow's outer end) this fills what cv2's edge walk leaves out, a pixel or two.

    Args:
        points: [K,2] vertices (x, y) in whole pixels of the mask (cv2 takes integers; round first).
        size: the mask's (height, width).
    """
    height, width = size
    start = torch.as_tensor(np.asarray(points, np.float32), device=device)
    end = start.roll(-1, 0)
    (xa, ya), (xb, yb) = start.T, end.T
    dx, dy = xb - xa, yb - ya
    y = torch.arange(height, device=device, dtype=torch.float32)[:, None]  # rows [h,1] against edges [K]
    # steep edges (and single points): one pixel per row, the crossing rounded
    steep = dy.abs() >= dx.abs()
    on_rows = (y >= torch.minimum(ya, yb)) & (y <= torch.maximum(ya, yb))
    crossing = (xa + (y - ya) * dx / torch.where(dy == 0, torch.ones_like(dy), dy)).round()
    # shallow edges: the x range whose line height is within half a pixel of the row, within the edge
    slope = dy / torch.where(steep, torch.ones_like(dx), dx)
    flat = slope == 0
    level = torch.where(flat, torch.ones_like(slope), slope)
    x1, x2 = xa + (y - 0.5 - ya) / level, xa + (y + 0.5 - ya) / level
    inf = torch.tensor(float("inf"), device=device)
    near = (y - ya).abs() <= 0.5
    low = torch.where(flat, torch.where(near, -inf, inf), torch.minimum(x1, x2))
    high = torch.where(flat, torch.where(near, inf, -inf), torch.maximum(x1, x2))
    low = torch.maximum(low, torch.minimum(xa, xb)).ceil()
    high = torch.minimum(high, torch.maximum(xa, xb)).floor()
    first = torch.where(steep, torch.where(on_rows, crossing, inf), low)
    last = torch.where(steep, torch.where(on_rows, crossing, -inf), torch.where(low <= high, high, -inf))
    first = torch.where(last >= first, first, inf).amin(1, keepdim=True)
    last = last.amax(1, keepdim=True)
    columns = torch.arange(width, device=device, dtype=torch.float32)
    return ((columns >= first) & (columns <= last)).float()
