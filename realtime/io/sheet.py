"""Contact sheets: labelled thumbnails in a grid, for people found in a video and for training data reports."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["labelled_sheet"]


def labelled_sheet(
    images: list[np.ndarray], labels: list[str], tile: int = 128, columns: int = 6, font_scale: float = 0.9
) -> np.ndarray:
    """RGB uint8 sheet [rows*(tile+label),columns*tile,3]: each image [H,W,3] RGB uint8 resized into a ``tile``
    square, its label centred under it (cut to fit), white around; at least one (blank) tile."""
    columns = max(1, min(columns, len(images)))
    rows = max(1, -(-len(images) // columns))
    thickness = 2 if font_scale >= 0.6 else 1
    label = round(38 * font_scale)
    sheet = np.full((rows * (tile + label), columns * tile, 3), 255, np.uint8)
    for k, (image, full_text) in enumerate(zip(images, labels, strict=True)):
        text = full_text
        top, left = (k // columns) * (tile + label), (k % columns) * tile
        sheet[top : top + tile, left : left + tile] = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
        while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)[0][0] > tile - 4:
            text = text[:-1]
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        origin = (left + (tile - w) // 2, top + tile + label - int(8 * font_scale) - 1)
        cv2.putText(sheet, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return sheet
