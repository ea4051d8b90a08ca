"""``python -m training.pairs ROOT OUT``: make the course's test pairs from a root of identity folders.

The evaluation protocol (python -m training.evaluate) swaps source_i into target_i and back, on unaligned photos of
two different people. This picks ``--pairs`` such pairs from ROOT/<identity>/ photos (never two photos of one
person; identities taken in turn so each appears about equally often; the same ``--seed`` gives the same pairs),
copies the photos into OUT as pair_NN_source / pair_NN_target (keeping their format) and writes OUT/pairs.txt,
which evaluate reads. The course used 20 pairs (40 images).

Examples:
    python -m training.sample_data photos/ && python -m training.pairs photos/ test_pairs/ --pairs 6
    python -m training.pairs faces_by_person/ test_pairs/ --pairs 20 --seed 1

Exit status: 0 done, 1 an input or output problem (fewer than two identities with photos), 2 a usage error.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

from realtime.cli import doc_parser, run_cli
from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput, output_folder
from realtime.io.images import image_files

PROG = "python -m training.pairs"

__all__ = ["choose_pairs", "main", "write_pairs"]


def choose_pairs(root: Path, count: int, seed: int = 0) -> list[tuple[Path, Path]]:
    """``count`` (source, target) photo pairs of two different identities from ``root``/<identity>/ images:
    identities in turn (shuffled by ``seed``), each identity's photos used in turn too, so pairs repeat only when
    there are fewer distinct ones than asked for. InputError when fewer than two identities have photos."""
    if not root.is_dir():
        raise InputError(f"identity root not found or not a folder: {root}")
    people = {d.name: image_files(d) for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    people = {name: photos for name, photos in people.items() if photos}
    if len(people) < 2:
        raise InputError(f"{root} needs at least two identity folders with photos ({len(people)} found)")
    rng = random.Random(seed)
    names = list(people)
    rng.shuffle(names)
    for photos in people.values():
        rng.shuffle(photos)
    used = dict.fromkeys(names, 0)
    pairs = []
    for i in range(count):
        source = names[i % len(names)]
        target = names[(i + 1 + i // len(names)) % len(names)]
        if target == source:
            target = names[(names.index(source) + 1) % len(names)]
        pair = []
        for who in (source, target):
            pair.append(people[who][used[who] % len(people[who])])
            used[who] += 1
        pairs.append((pair[0], pair[1]))
    return pairs


def write_pairs(pairs: list[tuple[Path, Path]], out: Path) -> Path:
    """Copy each pair into the folder ``out`` (pair_NN_source.ext, pair_NN_target.ext) and write ``out``/pairs.txt;
    returns that file."""
    lines = ["# source target (python -m training.pairs)"]
    for i, (source, target) in enumerate(pairs):
        names = (f"pair_{i:02d}_source{source.suffix.lower()}", f"pair_{i:02d}_target{target.suffix.lower()}")
        for photo, name in zip((source, target), names, strict=True):
            with TempOutput(out / name) as temp:
                shutil.copyfile(photo, temp)
        lines.append(" ".join(names))
    with TempOutput(out / "pairs.txt") as temp:
        Path(temp).write_text("\n".join(lines) + "\n")
    return out / "pairs.txt"


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("root", type=Path, help="one folder of photos per identity (ROOT/<identity>/*.jpg)")
    parser.add_argument("out", type=Path, help="folder for the pair photos and pairs.txt (created if missing)")
    parser.add_argument("--pairs", type=int, default=20, help="how many pairs (default 20, the course's)")
    parser.add_argument("--seed", type=int, default=0, help="which pairs (the same seed gives the same pairs)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.pairs < 1:
            raise UsageError("--pairs must be >= 1")
        pairs = choose_pairs(args.root, args.pairs, args.seed)
        listing = write_pairs(pairs, output_folder(args.out))
        if not args.quiet:
            print(f"{PROG}: {len(pairs)} pairs of different people in {listing}", file=sys.stderr)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
