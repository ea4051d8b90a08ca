"""``python -m training.report DATA``: what a prepared dataset is made of, as Markdown and PNG.

Reads DATA/faces.csv (every face training.prepare looked at, with its measurements), each identity's rejected/
folder (crops dropped by a rule or moved by the outlier pass, with reasons.csv) and DATA/outliers.json, and writes
into --out (default: DATA-report/ beside DATA, so that training never takes the report for an identity):

- ``report.md``: per identity, the crops kept and those dropped by each reason, with totals; the outlier pass's
  network and threshold, and the folders that look like two people;
- ``histograms.png``: sharpness, yaw and roll of the kept and the dropped faces;
- ``sheets/<identity>.png``: a contact sheet of each identity's kept crops, and ``sheets/rejected.png`` one of
  every rejected crop labelled with its reason.

Examples:
    python -m training.report data/
    python -m training.report data/ --out reports/data --max-tiles 60

Exit status: 0 done, 1 an input or output problem (not a dataset), 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from realtime.cli import doc_parser, run_cli
from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput
from realtime.io.images import image_files, read_image, write_image
from realtime.io.sheet import labelled_sheet
from training.cleaning import REASONS
from training.identities import OUTLIERS_FILE
from training.rejected import REJECTED, read_faces, read_reasons

PROG = "python -m training.report"
MEASURES = (("sharpness", "sharpness (variance of the Laplacian)"), ("yaw", "yaw, degrees"),
            ("roll", "roll, degrees"))  # fmt: skip


@dataclass
class IdentitySummary:
    """One identity's kept crops (paths), rejected crops (path, reason) and the reasons of faces without a crop."""

    kept: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    no_crop: Counter[str] = field(default_factory=Counter)

    def counts(self) -> Counter[str]:
        counts = Counter({"kept": len(self.kept)}) + self.no_crop
        counts.update(reason for _, reason in self.rejected)
        return counts


def summarize(root: Path, faces: list[dict[str, str]]) -> dict[str, IdentitySummary]:
    """Per identity folder of ``root``: what is in it and in its rejected/ folder, and (from faces.csv) the faces
    that gave no crop (unreadable files, no face found)."""
    out: dict[str, IdentitySummary] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        summary = IdentitySummary(kept=image_files(folder))
        reasons = read_reasons(folder)
        if (folder / REJECTED).is_dir():
            summary.rejected = [(p, reasons.get(p.name, ("unknown",))[0]) for p in image_files(folder / REJECTED)]
        if summary.kept or summary.rejected:
            out[folder.name] = summary
    for row in faces:
        if not row.get("file") and row.get("status") in REASONS:
            out.setdefault(row["identity"], IdentitySummary()).no_crop[row["status"]] += 1
    return out


def markdown(summaries: dict[str, IdentitySummary], outliers: dict | None, measured: int) -> str:
    """The report's text: the per-identity table (kept, then every reason that occurs), totals, the outlier pass."""
    total = sum((s.counts() for s in summaries.values()), Counter())
    reasons = [r for r in REASONS if total[r]]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    lines = ["# Training data report", "",
             f"{total['kept']} crops kept of {len(summaries)} identities; {sum(total[r] for r in reasons)} faces or "
             f"files left out; {measured} faces measured in faces.csv.", "",
             row(["identity", "kept", *(r.replace("_", " ") for r in reasons)]),
             row(["---", "---:", *("---:" for _ in reasons)])]  # fmt: skip
    for name, summary in summaries.items():
        counts = summary.counts()
        lines.append(row([f"[{name}](sheets/{name}.png)", str(counts["kept"]), *(str(counts[r]) for r in reasons)]))
    lines.append(row(["**total**", f"**{total['kept']}**", *(f"**{total[r]}**" for r in reasons)]))
    lines += ["", "![sharpness, yaw and roll of kept and dropped faces](histograms.png)", ""]
    if outliers:
        moved = sum(len(v) for v in outliers.get("moved", {}).values())
        lines += [f"Outlier pass: {outliers['network']}, threshold {outliers['threshold']:g} (cosine distance to each "
                  f"identity's robust centre): {moved} crop(s) moved."]  # fmt: skip
        for name, (sizes, apart) in sorted(outliers.get("two_people", {}).items()):
            lines.append(f"- **{name} is probably two people**: groups of {sizes[0]} and {sizes[1]}, {apart:.3f} "
                         "apart; sort it with python -m training.cluster.")  # fmt: skip
    else:
        lines.append("No outlier pass on record (python -m training.outliers writes outliers.json).")
    if total.total() - total["kept"]:
        lines += ["", "Rejected crops, with their reasons: [sheets/rejected.png](sheets/rejected.png) (the files "
                  "are in each identity's rejected/ folder, never deleted)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def histograms(faces: list[dict[str, str]], path: Path) -> None:
    """histograms.png: one panel per measure, kept and dropped faces stacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(MEASURES), figsize=(5 * len(MEASURES), 3.6))
    for axis, (key, title) in zip(axes, MEASURES, strict=True):
        groups = {"kept": [], "dropped": []}
        for row in faces:
            value = float(row.get(key) or "nan")
            if math.isfinite(value):
                groups["kept" if row.get("status") == "kept" else "dropped"].append(value)
        values = groups["kept"] + groups["dropped"]
        bins = np.linspace(min(values), max(values) + 1e-9, 21) if values else 10
        axis.hist([groups["kept"], groups["dropped"]], bins=bins, stacked=True, label=["kept", "dropped"],
                  color=["#3a7d44", "#c0392b"])  # fmt: skip
        axis.set_title(title)
        axis.set_ylabel("faces")
        axis.legend()
    figure.tight_layout()
    with TempOutput(path) as temp:
        figure.savefig(temp, format="png", dpi=100)
    plt.close(figure)


def _sheet(paths: list[Path], labels: list[str], limit: int) -> np.ndarray:
    shown = paths[:limit]
    images = [read_image(p) for p in shown]
    names = labels[:limit]
    if len(paths) > limit:  # say how many are not shown, on a blank tile
        images.append(np.full((8, 8, 3), 255, np.uint8))
        names.append(f"+{len(paths) - limit} more")
    return labelled_sheet(images, names, tile=112, columns=8, font_scale=0.4)


def write_report(root: Path, out: Path, max_tiles: int) -> Path:
    """Write the report of dataset ``root`` into ``out``; returns the Markdown file. InputError when ``root`` holds
    no identity folder of crops."""
    if not root.is_dir():
        raise InputError(f"dataset root not found: {root}")
    faces = read_faces(root)
    summaries = summarize(root, faces)
    if not summaries:
        raise InputError(f"no identity folders of crops in {root}")
    outliers_path = root / OUTLIERS_FILE
    outliers = json.loads(outliers_path.read_text()) if outliers_path.is_file() else None
    (out / "sheets").mkdir(parents=True, exist_ok=True)
    for name, summary in summaries.items():
        write_image(out / "sheets" / f"{name}.png", _sheet(summary.kept, [p.stem for p in summary.kept], max_tiles))
    rejected = [(name, p, reason) for name, s in summaries.items() for p, reason in s.rejected]
    if rejected:
        sheet = _sheet([p for _, p, _ in rejected], [f"{n}: {r}" for n, _, r in rejected], max_tiles)
        write_image(out / "sheets" / "rejected.png", sheet)
    histograms(faces, out / "histograms.png")
    report = out / "report.md"
    with TempOutput(report) as temp:
        Path(temp).write_text(markdown(summaries, outliers, len(faces)))
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = doc_parser(PROG, __doc__ or "")
    parser.add_argument("data", type=Path, help="a dataset root written by python -m training.prepare")
    parser.add_argument("--out", type=Path, help="report folder (default: DATA-report beside DATA)")
    parser.add_argument("--max-tiles", type=int, default=96, help="crops per contact sheet (default 96)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        if args.max_tiles < 1:
            raise UsageError("--max-tiles must be >= 1")
        out = args.out or args.data.parent / f"{args.data.resolve().name}-report"
        report = write_report(args.data, out, args.max_tiles)
        if not args.quiet:
            print(f"{PROG}: {report}", file=sys.stderr)
        return 0

    return run_cli(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
