"""``python -m training.cluster FACES OUT --clusters K``: sort prepared face crops by identity, the movie-data step
between cropping faces from footage and cleaning by hand.

FACES is a folder written by ``python -m training.prepare`` (crops plus landmarks.npz, e.g. every face of a film
with --all-faces). Each crop's identity embedding (ArcFace with --identity-model, else the embedded dlib descriptor)
is clustered by spherical k-means into K groups; OUT gets one folder per group (largest first) with the crops and
their landmarks (and parsing masks), ready for training once checked, and ``clusters.csv`` listing every crop with
its cosine similarity to its group's centre, lowest first within each group: the likely mistakes to look at. As in
the course's pipeline, ask for about twice as many clusters as there are people, so that badly recognised faces
separate from good ones, then merge and clean by hand.

Examples:
    python -m training.prepare film/ faces/ --all-faces --frame-interval 12 --min-sharpness 25 --crop ffhq --size 1024
    python -m training.cluster faces/film faces_sorted/ --clusters 12
    python -m training.cluster faces/film faces_sorted/ --clusters 12 --identity-model w600k_r50.onnx

Exit status: 0 done, 1 an input or output problem, 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput
from realtime.models.encoder import IdentityEncoder
from realtime.models.identity import default_identity_model, load_identity_encoder
from training.data import LANDMARKS_FILE
from training.identities import embed_crops, read_prepared_folder, spherical_kmeans
from training.parsing import MASKS_FILE

PROG = "python -m training.cluster"

__all__ = ["cluster_folder"]


def cluster_folder(
    folder: Path, out: Path, k: int, encoder: IdentityEncoder, seed: int = 0, quiet: bool = False
) -> list[list[Path]]:
    """Write OUT/<folder name>_<nn>/ groups and OUT/clusters.csv; returns the groups' source paths, largest first."""
    paths, landmarks, masks = read_prepared_folder(folder, with_masks=True)
    if len(paths) < k:
        raise InputError(f"{folder} has {len(paths)} crops with landmarks, fewer than --clusters {k}")
    vectors = embed_crops(paths, landmarks, encoder, quiet)
    labels, centres = spherical_kmeans(vectors, k, seed)
    similarity = np.sum(vectors * centres[labels], axis=1)
    order = sorted(range(k), key=lambda j: -int(np.sum(labels == j)))
    groups, rows = [], []
    for rank, j in enumerate(order):
        members = [i for i in np.flatnonzero(labels == j)]
        if not members:
            continue
        name = f"{folder.name}_{rank:02d}"
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        for i in members:
            shutil.copy2(paths[i], target / paths[i].name)
            rows.append((name, paths[i].name, float(similarity[i])))
        kept_marks = {paths[i].name: landmarks[i] for i in members}
        kept_masks = {paths[i].name: masks[paths[i].name] for i in members if paths[i].name in masks}
        for file, arrays in ((LANDMARKS_FILE, kept_marks), (MASKS_FILE, kept_masks)):
            if arrays:
                with TempOutput(target / file) as temp, open(temp, "wb") as f:
                    np.savez_compressed(f, **arrays)
        groups.append([paths[i] for i in members])
    rows.sort(key=lambda r: (r[0], r[2]))
    with TempOutput(out / "clusters.csv") as temp, open(temp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["cluster", "file", "cosine_to_centre"])
        writer.writerows((c, n, f"{s:.4f}") for c, n, s in rows)
    return groups


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("faces", type=Path, help="a folder of crops written by python -m training.prepare")
    parser.add_argument("out", type=Path, help="output root: one folder per cluster, and clusters.csv")
    parser.add_argument("--clusters", type=int, required=True, help="how many groups (about twice the people)")
    parser.add_argument(
        "--identity-model",
        type=Path,
        help="identity network: ArcFace (.onnx or .pth) or dlib .dat (default: the embedded dlib ResNet)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.clusters < 1:
            raise UsageError("--clusters must be >= 1")
        if args.out.resolve() == args.faces.resolve():
            raise UsageError("OUT must differ from FACES")
        encoder = load_identity_encoder(args.identity_model or default_identity_model())
        groups = cluster_folder(args.faces, args.out, args.clusters, encoder, args.seed, not show_progress(args.quiet))
        if not args.quiet:
            sizes = ", ".join(str(len(g)) for g in groups)
            print(f"{PROG}: {sum(map(len, groups))} crops in {len(groups)} clusters ({sizes}) -> {args.out}; "
                  f"review {args.out / 'clusters.csv'}", file=sys.stderr)  # fmt: skip
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
