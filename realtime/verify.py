"""``python -m realtime.verify FILE...``: does this image or video say it is synthetic, made by realtime?

Three signals are read from each file:

- the invisible mark: "marked" with the 32-bit id it carries, or "not marked". A mark counts only when its 24-bit
  marker and CRC both check out (a chance match on an unmarked file, over every grid, gain and crop the detector
  tries: about 1 in ten million). Then a confidence in [0, 1]: how strongly the marker's coded bits read (about 1
  on a fresh output, lower after heavy recompression, down to about 0.1 for a copy still decoded; near 0 on
  unmarked files; bench/watermark.py reports both sides). Images are also read with invisible-watermark's
  dwtDctSvd decoder. The mark survives re-encoding; it is what is left after an upload strips everything else.
- the Content Credentials (C2PA manifest): valid (with its digital source type and signer; realtime's own local
  certificate reads as "a local, untrusted certificate"), invalid (the file was changed after signing, or the
  signature is broken: the failed check is named), or none.
- the synthetic-media tag in the file's metadata.

A truncated video is read as far as it decodes, and the line says so.

Examples:
    python -m realtime.verify swapped.mp4
    python -m realtime.verify outputs/*.mp4 outputs/*.png --json
    python -m realtime.verify clip.mp4 --max-frames 60

Exit status: 0 every file is shown to be synthetic (by its mark or by a valid manifest that says so), 3 some
file is not, 1 some file cannot be read (this wins over 3), 2 usage.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from realtime.cli import doc_parser, run_cli, show_progress
from realtime.errors import InputError, UserError
from realtime.io.images import IMAGE_SUFFIXES, read_image
from realtime.io.metadata import read_provenance
from realtime.io.video import VIDEO_SUFFIXES, VideoReader
from realtime.provenance import CredentialsReport, read_credentials
from realtime.watermark import WatermarkDetector, read_compat

PROG = "python -m realtime.verify"
EXIT_UNMARKED = 3


@dataclass
class Report:
    """What one file showed."""

    path: str
    marked: bool
    watermark_id: int | None
    confidence: float
    frames: int
    metadata: str | None
    compat_id: int | None = None  # images: the id invisible-watermark's decoder read (None: no valid mark)
    decode: str | None = None  # videos that are truncated or damaged: how much decoded (None: all of it)
    credentials: CredentialsReport = field(default_factory=lambda: CredentialsReport("absent"))
    cropped: bool = False  # the mark was found by searching for the grid of a cropped copy

    @property
    def synthetic(self) -> bool:
        """The mark, or a valid manifest, says the file is synthetic (the metadata tag alone is too easy to fake or
        strip to count)."""
        return self.marked or self.credentials.synthetic

    def line(self) -> str:
        """The verdict first (from the marker and checksum), then how strong the mark read, then the rest."""
        if self.marked:
            where = ", in a cropped copy" if self.cropped else ""
            verdict = f"marked, id {self.watermark_id} (marker and checksum valid{where})"
        else:
            verdict = "not marked (no valid marker and checksum)"
        frames = f"{self.frames} frame{'s' if self.frames != 1 else ''}"
        extra = f"; invisible-watermark: id {self.compat_id}" if self.compat_id is not None else ""
        truncated = f"; input {self.decode}" if self.decode else ""
        return (
            f"{self.path}: {verdict}; confidence {self.confidence:.2f} over {frames}{extra}{truncated}; "
            f"metadata: {self.metadata or 'no synthetic-media tag'}; "
            f"content credentials: {self.credentials.describe()}"
        )


def verify_file(path: Path, max_frames: int = 150, quiet: bool = True) -> Report:
    """Read the mark, the metadata and the Content Credentials of one image or video; InputError when it cannot
    be read."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"not found: {path}")
    detector = WatermarkDetector()
    if suffix in IMAGE_SUFFIXES:
        image = read_image(path)
        detector.add(image)
        compat, kind = read_compat(image), "image"
    elif suffix in VIDEO_SUFFIXES:
        compat, kind = None, "video"
        with VideoReader(path, allow_incomplete=True) as reader:  # a cut-off copy still carries its mark
            total = reader.info.frames or 0
            step = max(1, -(-total // max_frames))  # spread the frames read over the whole video
            with tqdm(total=total or None, unit="frame", disable=not show_progress(quiet), leave=False) as bar:
                for i, frame in enumerate(reader):
                    if i % step == 0 and detector.frames < max_frames:
                        detector.add(frame.image)
                    bar.update(1)
            assert reader.report is not None
            decode = None if reader.report.complete else f"truncated or damaged: {reader.report.describe()}"
    else:
        raise InputError(f"not an image or video this tool reads: {path}")
    try:
        metadata = read_provenance(path, kind)
    except Exception as exc:  # the pixels were readable; unreadable tags are reported, not fatal
        metadata = f"unreadable ({type(exc).__name__})"
    try:
        credentials = read_credentials(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found = detector.result()
    marked, user_id = found.marked, found.user_id
    if not marked and compat is not None:
        marked, user_id = True, compat
    return Report(str(path), marked, user_id, round(found.confidence, 4), found.frames, metadata, compat,
                  decode if kind == "video" else None, credentials, found.cropped)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("files", nargs="+", type=Path, help="images and videos to check")
    parser.add_argument("--max-frames", type=int, default=150, help="video frames read, spread over the video")
    parser.add_argument("--json", action="store_true", help="one JSON object per file instead of text")
    parser.add_argument("--quiet", action="store_true", help="print nothing; the exit status says it all")
    args = parser.parse_args(argv)
    if args.max_frames < 1:
        parser.error("--max-frames must be >= 1")

    def body() -> int:
        status = 0
        for path in args.files:
            try:
                report = verify_file(path, args.max_frames, quiet=args.quiet or args.json)
            except UserError as err:
                print(f"{PROG}: error: {err}", file=sys.stderr)
                status = 1
                continue
            if not args.quiet:
                print(json.dumps(asdict(report)) if args.json else report.line())
            if not report.synthetic and status == 0:
                status = EXIT_UNMARKED
        return status

    return run_cli(PROG, body, interrupted="not every file was checked")


if __name__ == "__main__":
    sys.exit(main())
