"""Sample training photos from the faces that ship with installed packages (for tests, benchmarks and a first run):
the six people of insightface's t1.jpg and scikit-image's astronaut, each as a few photos (small rotations, zoom,
light and mirror changes), in the identity-folder layout python -m training.prepare reads.

Seven people is enough to exercise every part of training, not to learn a useful model.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.samples import face_image


def person_photos() -> list[np.ndarray]:
    """One RGB photo per person: a region of twice the face box around each face of t1.jpg, and the astronaut."""
    group = face_image("group")
    photos = []
    for face in sorted(DlibAnalyzer().detect(group), key=lambda f: f.bbox[0]):
        x0, y0, x1, y1 = face.bbox
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)
        top, left = int(max(cy - half, 0)), int(max(cx - half, 0))
        photos.append(np.ascontiguousarray(group[top : int(cy + half), left : int(cx + half)]))
    photos.append(face_image("astronaut")[:300, 100:400])
    return photos


def write_identity_photos(root: Path, per_person: int = 3, seed: int = 0) -> Path:
    """root/person_<k>/photo_<j>.jpg: ``per_person`` variants of each person (rotation up to 8 degrees, zoom
    0.9-1.1, brightness 0.8-1.2, mirrored every other one)."""
    rng = np.random.default_rng(seed)
    for k, photo in enumerate(person_photos()):
        folder = root / f"person_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        h, w = photo.shape[:2]
        for j in range(per_person):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-8, 8), rng.uniform(0.9, 1.1))
            image = cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            image = np.clip(image.astype(np.float32) * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
            if j % 2:
                image = image[:, ::-1]
            cv2.imwrite(str(folder / f"photo_{j}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return root
