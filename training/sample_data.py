"""``python -m training.sample_data OUT``: sample training photos from the faces that ship with installed packages
(for a first run, tests and benchmarks): the six people of insightface's t1.jpg and scikit-image's astronaut,
each as a few photos (small rotations, zoom, light and mirror changes), in the identity-folder layout
python -m training.prepare reads (OUT/person_<k>/photo_<j>.jpg).

Seven people is enough to exercise every part of training, not to learn a useful model.

Examples:
    python -m training.sample_data photos/
    python -m training.sample_data photos/ --per-person 6

Exit status: 0 done, 1 the folder cannot be written, 2 a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from realtime.cli import doc_parser, run_cli
from realtime.errors import UsageError
from realtime.io.files import output_folder
from realtime.io.images import write_image
from realtime.samples import person_photos

PROG = "python -m training.sample_data"


def write_identity_photos(root: str | Path, per_person: int = 3, seed: int = 0) -> Path:
    """root/person_<k>/photo_<j>.jpg: ``per_person`` variants of each person (rotation up to 8 degrees, zoom
    0.9-1.1, brightness 0.8-1.2, mirrored every other one); returns ``root`` as a Path."""
    root = Path(root)
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
            write_image(folder / f"photo_{j}.jpg", np.ascontiguousarray(image))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("out", type=Path, help="folder to write the identity folders into (created if missing)")
    parser.add_argument("--per-person", type=int, default=3, help="photos per person (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="the variations' random seed")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    def body() -> int:
        if args.per_person < 1:
            raise UsageError("--per-person must be >= 1")
        root = write_identity_photos(output_folder(args.out), args.per_person, args.seed)
        if not args.quiet:
            people = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.startswith("person_"))
            print(f"{PROG}: {len(people)} people x {args.per_person} photos in {root}", file=sys.stderr)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
