"""Identity embeddings of prepared crops and what they say about a folder: spherical k-means (training.cluster),
the robust centre of an identity, its outliers and splits, and the outlier pass over a dataset (training.outliers,
and the end of training.prepare).

Distances are cosine distances (1 - cosine) between unit embeddings of the identity network in use. What counts as
far depends on the network, so the thresholds are per network (:data:`OUTLIER_DISTANCE`), measured, not guessed:
on the package faces the embedded dlib ResNet puts photos of one person within 0.024 of each other and different
people 0.084 to 0.25 apart (median 0.14); dlib's own same-person limit, 0.6 Euclidean on its unnormalised
descriptors (norm ~1.45), is 0.086 in these units. ArcFace's usual limit is 0.6 (cosine similarity 0.4).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput
from realtime.io.images import image_files, read_image
from realtime.models.encoder import IdentityEncoder
from training.data import LANDMARKS_FILE
from training.parsing import MASKS_FILE
from training.rejected import mark_faces, move_to_rejected

__all__ = [
    "OUTLIERS_FILE",
    "OUTLIER_DISTANCE",
    "FolderVerdict",
    "OutlierReport",
    "clean_outliers",
    "embed_crops",
    "judge_folder",
    "network_threshold",
    "read_prepared_folder",
    "robust_centre",
    "spherical_kmeans",
]

# Cosine distance to an identity's robust centre beyond which a crop is taken for another person, per network
# (IdentityEncoder.crop name): below the closest pair of different people seen, above one person's spread.
OUTLIER_DISTANCE = {"dlib": 0.06, "arcface": 0.6}
OUTLIERS_FILE = "outliers.json"  # the last pass's report, in the dataset root (for training.report)
TRIM = 0.8  # the robust centre is the mean of the 80 % of crops closest to it
MIN_GROUP_SHARE = 0.25  # a folder splits into two people when each group holds at least this share


def embed_crops(paths: list[Path], landmarks: np.ndarray, encoder: IdentityEncoder, quiet: bool) -> np.ndarray:
    """Unit identity embeddings [N,D] float64 of aligned crops with known 68 landmarks ([N,68,2] crop pixels)."""
    vectors = []
    for path, points in tqdm(list(zip(paths, landmarks, strict=True)), disable=quiet, unit="face", desc="embed"):
        vectors.append(np.asarray(encoder.embed(read_image(path), points), np.float64))
    return np.stack(vectors) if vectors else np.zeros((0, encoder.dim))


def spherical_kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Cluster unit vectors x [N,D] by cosine similarity: k-means++ seeding, then assign to the most similar centre
    and renormalise the means until nothing changes. Returns (labels int64 [N], centres float [k,D] unit)."""
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        distance = 1.0 - np.max(x @ np.stack(centres).T, axis=1)
        weights = np.clip(distance, 0, None) ** 2
        total = weights.sum()
        centres.append(x[rng.choice(len(x), p=weights / total)] if total > 0 else x[rng.integers(len(x))])
    c = np.stack(centres)
    labels = np.full(len(x), -1)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                mean = members.sum(axis=0)
                c[j] = mean / max(np.linalg.norm(mean), 1e-12)
    return labels, c


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def robust_centre(x: np.ndarray, iterations: int = 5) -> np.ndarray:
    """The centre [D] (unit) of unit vectors x [N,D] that outliers do not pull: the normalised mean, then again
    and again the normalised mean of the :data:`TRIM` share of vectors closest to it."""
    centre = _unit(x.mean(axis=0))
    keep = max(2, int(TRIM * len(x)))
    for _ in range(iterations):
        closest = np.argsort(1.0 - x @ centre)[:keep]
        centre = _unit(x[closest].mean(axis=0))
    return centre


@dataclass
class FolderVerdict:
    """One identity folder judged: each crop's distance to the robust centre, the outliers (indices), and whether
    the crops split into two clear groups (then nothing is moved: the folder is probably two people)."""

    distances: np.ndarray  # [N] float64 cosine distances to the robust centre
    outliers: list[int]
    two_people: bool
    groups: tuple[int, int] = (0, 0)  # sizes of the two groups when split
    group_distance: float = 0.0  # cosine distance between the two groups' centres


def judge_folder(x: np.ndarray, threshold: float, seed: int = 0) -> FolderVerdict:
    """Judge unit embeddings x [N,D] of one identity folder with the network's ``threshold``. Two people: 2-means
    gives two groups of at least :data:`MIN_GROUP_SHARE` each (and two crops each) whose centres are farther apart
    than ``threshold``. Otherwise the outliers are the crops farther than ``threshold`` from the robust centre."""
    if len(x) < 2:
        return FolderVerdict(np.zeros(len(x)), [], False)
    centre = robust_centre(x)
    distances = 1.0 - x @ centre
    if len(x) >= 4:
        labels, centres = spherical_kmeans(x, 2, seed)
        sizes = (int((labels == 0).sum()), int((labels == 1).sum()))
        apart = float(1.0 - centres[0] @ centres[1])
        if min(sizes) >= max(2, MIN_GROUP_SHARE * len(x)) and apart > threshold:
            return FolderVerdict(distances, [], True, sizes, apart)
    return FolderVerdict(distances, [int(i) for i in np.flatnonzero(distances > threshold)], False)


def read_prepared_folder(
    folder: Path, with_masks: bool = False
) -> tuple[list[Path], np.ndarray, dict[str, np.ndarray]]:
    """The crops of a prepared folder, their landmarks [N,68,2], and (``with_masks``) their parsing masks (empty
    without masks.npz, or when not asked for)."""
    if not folder.is_dir():
        raise InputError(f"faces folder not found: {folder}")
    paths = image_files(folder)
    if not (folder / LANDMARKS_FILE).is_file():
        raise InputError(f"{folder / LANDMARKS_FILE} missing: not a folder written by python -m training.prepare")
    with np.load(folder / LANDMARKS_FILE) as archive:
        table = {name: archive[name] for name in archive.files}
    paths = [p for p in paths if p.name in table]
    masks: dict[str, np.ndarray] = {}
    if with_masks and (folder / MASKS_FILE).is_file():
        with np.load(folder / MASKS_FILE) as archive:
            masks = {name: archive[name] for name in archive.files}
    return paths, np.stack([table[p.name] for p in paths]) if paths else np.zeros((0, 68, 2)), masks


@dataclass
class OutlierReport:
    """What :func:`clean_outliers` found: per folder the crops moved (name, distance) and the folders that look
    like two people (group sizes, distance between the groups)."""

    network: str
    threshold: float
    folders: int = 0
    moved: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    two_people: dict[str, tuple[tuple[int, int], float]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the user (and the threshold, as the issue of trust it is)."""
        count = sum(len(v) for v in self.moved.values())
        text = (f"outliers: {self.network}, threshold {self.threshold:g} (cosine distance to each identity's "
                f"robust centre): {count} crop(s) moved to rejected/ in {len(self.moved)} of {self.folders} "
                "folder(s)")  # fmt: skip
        for name, (sizes, apart) in sorted(self.two_people.items()):
            text += (f"; {name} is probably two people (groups of {sizes[0]} and {sizes[1]}, {apart:.3f} apart: sort "
                     "it with python -m training.cluster)")  # fmt: skip
        return text


def network_threshold(encoder: IdentityEncoder, threshold: float | None) -> float:
    """``threshold``, or the network's own outlier distance; UsageError when the network has none."""
    if threshold is not None:
        return threshold
    name = encoder.crop[0]
    if name not in OUTLIER_DISTANCE:
        raise UsageError(f"no outlier threshold is known for a {name} network: pass --threshold")
    return OUTLIER_DISTANCE[name]


def clean_outliers(
    root: Path,
    encoder: IdentityEncoder,
    threshold: float | None = None,
    dry_run: bool = False,
    quiet: bool = False,
) -> OutlierReport:
    """Judge every identity folder of a prepared dataset ``root`` (crops with landmarks.npz) and move its outliers
    to ``rejected/`` (not with ``dry_run``). InputError when ``root`` has no prepared identity folder."""
    limit = network_threshold(encoder, threshold)
    report = OutlierReport(encoder.describe(), limit)
    folders = (
        sorted(p for p in root.iterdir() if p.is_dir() and (p / LANDMARKS_FILE).is_file()) if root.is_dir() else []
    )
    if not folders:
        raise InputError(
            f"no prepared identity folders (with {LANDMARKS_FILE}) in {root}: run python -m training.prepare"
        )
    report.folders = len(folders)
    moved: dict[tuple[str, str], str] = {}
    for folder in tqdm(folders, disable=quiet, unit="folder", desc="outliers"):
        paths, landmarks, _ = read_prepared_folder(folder)  # masks are not needed here
        if len(paths) < 2:
            continue
        verdict = judge_folder(embed_crops(paths, landmarks, encoder, quiet=True), limit)
        if verdict.two_people:
            report.two_people[folder.name] = (verdict.groups, verdict.group_distance)
            continue
        rows = [(paths[i].name, "outlier", float(verdict.distances[i]),
                 f"cosine distance {verdict.distances[i]:.3f} to the identity's centre > {limit:g}")
                for i in verdict.outliers]  # fmt: skip
        if rows:
            report.moved[folder.name] = [(name, value) for name, _, value, _ in rows]
            if not dry_run:
                move_to_rejected(folder, rows)
                moved.update(((folder.name, name), "outlier") for name, *_ in rows)
    if not dry_run:
        mark_faces(root, moved)
        with TempOutput(root / OUTLIERS_FILE) as temp:
            Path(temp).write_text(json.dumps(asdict(report), indent=2))
    return report
