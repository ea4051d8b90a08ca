"""Training data: a root of identity folders of aligned face crops (the VGGFace2-224 layout) and SimSwap's pairs.

``root/<identity>/*.jpg|png``; every image is a crop aligned with one template (ArcFace's by default, as
``python -m training.prepare`` writes them); any size, resized to the training resolution. Each sample is a target
crop plus another image of the same person (the source of a same-identity step; cross-identity steps take a batch
neighbour's source instead, see :mod:`training.loop`). Written by prepare in each identity folder: ``landmarks.npz``
(68 landmarks per image, for ``--mask landmarks``) and, with a parsing model, ``masks.npz`` (``--mask parsing``).

Sampling is a pure function of (seed, step, rank): a resumed run sees exactly the batches the uninterrupted run would
have seen, with any number of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from realtime.errors import InputError
from realtime.faces.types import HULL, raised_brows
from realtime.io.images import image_files, read_image
from training.parsing import MASKS_FILE

__all__ = ["LANDMARKS_FILE", "IdentityFolders", "PairDataset", "StepBatchSampler", "face_mask"]

LANDMARKS_FILE = "landmarks.npz"
FOREHEAD = 0.6  # the forehead: the brows raised by this share of their height over the nose tip


class DataError(InputError):
    """The dataset root is unusable (the message says which folder or file and why)."""


@dataclass(frozen=True)
class IdentityFolders:
    """The images of a dataset root: ``paths[i]`` belongs to identity ``labels[i]`` (an index into ``names``)."""

    root: Path
    names: list[str]
    paths: list[Path]
    labels: np.ndarray  # int64 [num_images]

    @classmethod
    def scan(cls, root: str | Path) -> IdentityFolders:
        """List ``root``; DataError for a missing or empty root and for identities with fewer than two images."""
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"dataset root not found or not a folder: {root}")
        names, paths, labels, lonely = [], [], [], []
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            images = image_files(folder)
            if not images:
                continue
            if len(images) < 2:
                lonely.append(folder.name)
                continue
            labels += [len(names)] * len(images)
            names.append(folder.name)
            paths += images
        if lonely:
            raise DataError(
                f"{len(lonely)} identity folder(s) in {root} have a single image (e.g. {lonely[0]!r}); same-identity "
                "pairs need at least two per identity: add images or remove those folders"
            )
        if len(names) < 2:
            raise DataError(
                f"{root} needs at least two identity folders of face crops (root/<identity>/*.jpg|png), "
                f"found {len(names)}"
            )
        return cls(root, names, paths, np.asarray(labels, np.int64))

    def check_sidecar(self, file: str, option: str, writer: str) -> None:
        """DataError naming the first identity folder without ``file`` (landmarks.npz, masks.npz) or image without
        an entry in it; ``option`` and ``writer`` say what needs it and what writes it. Reads only the listings."""
        for name in self.names:
            path = self.root / name / file
            if not path.is_file():
                raise DataError(f"{option} needs {path}; write it with {writer}")
            with np.load(path) as archive:
                have = set(archive.files)
            missing = [p for p in self.paths if p.parent.name == name and p.name not in have]
            if missing:
                raise DataError(f"no entry for {missing[0]} in {path}")

    def sidecar(self, index: int, file: str) -> np.ndarray:
        """Image ``index``'s array in its identity folder's ``file`` (one zip member read: the dataset stays small
        in memory at any size)."""
        path = self.paths[index]
        with np.load(path.parent / file) as archive:
            return archive[path.name]


def face_mask(landmarks: np.ndarray, size: int, image_size: int) -> np.ndarray:
    """Soft face mask [size,size] float32 in [0,1]: the hull of the 68 landmarks (given in an ``image_size`` crop)
    with the forehead added (the brows raised by 60% of their height over the nose tip), dilated and feathered so the
    hair line and jaw edge stay inside."""
    points = landmarks.astype(np.float64) * (size / image_size)
    hull = cv2.convexHull(np.round(np.concatenate([points[HULL], raised_brows(points, FOREHEAD)])).astype(np.int32))
    mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    radius = max(1, size // 32)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    mask = cv2.GaussianBlur(mask, (0, 0), radius)
    return mask.astype(np.float32) / 255.0


class PairDataset(Dataset):
    """Item ``(index, seed)`` -> {"target": [3,R,R], "source": [3,R,R] (another image of the same identity),
    "label": identity index, "mask": [1,R,R] (the target's face mask; ones without one)}, float32 in [0,1].

    ``augment``: independent horizontal flips and mild brightness/contrast jitter for target and source (the
    aligned templates are near-symmetric, so a flipped crop is still aligned). ``mask``: "none", "landmarks" (the
    hull of landmarks.npz's points, see :func:`face_mask`) or "parsing" (masks.npz); check the files first with
    :meth:`IdentityFolders.check_sidecar`."""

    def __init__(self, folders: IdentityFolders, resolution: int, augment: bool = True, mask: str = "none") -> None:
        self.folders, self.resolution, self.augment, self.mask = folders, resolution, augment, mask
        self.by_label = [np.flatnonzero(folders.labels == k) for k in range(len(folders.names))]

    def __len__(self) -> int:
        return len(self.folders.paths)

    def _load(self, index: int) -> tuple[np.ndarray, int]:
        path = self.folders.paths[index]
        try:
            image = read_image(path)
        except InputError as exc:
            raise DataError(f"unreadable training image {path}: {exc}") from None
        side = image.shape[0]
        if image.shape[0] != image.shape[1]:
            raise DataError(f"training images must be square aligned crops; {path} is {image.shape[1]}x{side}")
        if side != self.resolution:
            interpolation = cv2.INTER_AREA if side > self.resolution else cv2.INTER_CUBIC
            image = cv2.resize(image, (self.resolution, self.resolution), interpolation=interpolation)
        return image, side

    def _augment(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = image.astype(np.float32) / 255.0
        if not self.augment:
            return x, mask
        if rng.random() < 0.5:
            x, mask = x[:, ::-1], mask[:, ::-1]
        contrast, brightness = rng.uniform(0.9, 1.1), rng.uniform(-0.05, 0.05)
        x = np.clip((x - 0.5) * contrast + 0.5 + brightness, 0.0, 1.0)
        return x, mask

    def _parsed_mask(self, index: int) -> np.ndarray:
        mask = self.folders.sidecar(index, MASKS_FILE)
        r = self.resolution
        mask = cv2.resize(mask, (r, r), interpolation=cv2.INTER_AREA if mask.shape[0] > r else cv2.INTER_LINEAR)
        return cv2.GaussianBlur(mask, (0, 0), max(1, r // 64)).astype(np.float32) / 255.0  # soft edge, as landmarks

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item
        rng = np.random.default_rng(seed)
        label = int(self.folders.labels[index])
        others = self.by_label[label][self.by_label[label] != index]
        source_index = int(rng.choice(others))
        target, side = self._load(index)
        source, _ = self._load(source_index)
        r = self.resolution
        mask = np.ones((r, r), np.float32)
        if self.mask == "landmarks":
            mask = face_mask(self.folders.sidecar(index, LANDMARKS_FILE), r, side)
        elif self.mask == "parsing":
            mask = self._parsed_mask(index)
        target_x, mask = self._augment(target, mask, rng)
        source_x, _ = self._augment(source, mask, rng)

        def chw(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1) if a.ndim == 3 else a[None]))

        return {"target": chw(target_x), "source": chw(source_x), "label": torch.tensor(label), "mask": chw(mask)}


class StepBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches for steps ``start .. steps-1``: ``batch`` random images each, drawn from (seed, step, rank) alone,
    with a per-sample seed for the pairing and augmentation."""

    def __init__(self, num_images: int, batch: int, seed: int, start: int, steps: int, rank: int = 0) -> None:
        self.num_images, self.batch, self.seed = num_images, batch, seed
        self.start, self.steps, self.rank = start, steps, rank

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.steps):
            rng = np.random.default_rng([self.seed, step, self.rank])
            indices = rng.choice(self.num_images, size=self.batch, replace=self.batch > self.num_images)
            seeds = rng.integers(0, 2**63 - 1, size=self.batch)
            yield [(int(i), int(s)) for i, s in zip(indices, seeds, strict=True)]
