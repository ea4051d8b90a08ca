"""Swap quality, as numbers and pictures, for every swapper available: the instrument quality changes are judged by.

Material, all from the package pictures (realtime.samples): the seven people (t1.jpg's six and the astronaut) as
stills, every ordered pair source -> target (42 swaps); and clips of the astronaut (motion, a still stretch with
sensor noise, a lighting ramp) swapped with each of t1's six people. For each swapper configuration it reports:

- identity: share of face frames whose dlib descriptor moved toward the source by more than 0.02 (re-encoding
  alone moves it by up to ~0.02), and the mean move; with --arcface, the same in that ArcFace's space (refused
  when it is the swapper's own identity model, which would flatter it);
- landmarks: error of the result's landmarks vs the target's, share of the inter-ocular distance (pose and
  expression kept);
- sharpness: variance of the Laplacian of the result's inner face over that of the source face as warped to the
  target (the classic swapper's geometric warp, no colour or blend): detail kept through colour and blending;
- skin ΔE: CIEDE2000 between the mean skin colours of result and target;
- seam: gradient in a band across the face-mask edge, result over target (1 = no seam);
- still: face-region frame-to-frame change on the clips' still stretch (after the landmark filter's 0.2 s settling
  time), result over input (1 = no added jitter);
- light: how far the swapped face darkens over the clips' lighting ramp, relative to the input's face (1 = it
  follows the target's lighting exactly).

It saves JSON and, per configuration, a contact sheet PNG (source | target | result for each still pair, and frames
of the clips) under bench/results/.

Examples:
    python bench/quality.py                                  # classic: every blend and colour mode
    python bench/quality.py --configs classic                # the default configuration only
    python bench/quality.py --model inswapper_128.onnx --identity-model w600k_r50.onnx --arcface glint_r100.onnx

Targets for the classic swapper (the issue that built this): identity moved in >= 95% of face frames, landmark
error <= 5%, sharpness >= 0.85, skin ΔE <= 4, still <= 1.5.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import realtime  # noqa: F401  (first: it sets OpenMP's wait policy before torch loads, as the CLI does)
from bench.common import RESULTS_DIR, report
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.types import Face
from realtime.metrics import face_masks, landmark_error, region_change, seam_visibility, sharpness, skin_delta_e
from realtime.pipeline import FaceSwapPipeline, PipelineOptions
from realtime.samples import ClipSpec, make_clip, person_photos
from realtime.swappers.base import SourceSet, Swapper

MOVED = 0.02  # a descriptor move smaller than this is within re-encoding noise
TARGETS = {"identity_moved": 0.95, "landmark_error": 0.05, "sharpness": 0.85, "skin_delta_e": 4.0, "still": 1.5}
CLIP = ClipSpec(width=1280, height=720, seconds=3.0, still=(1.0, 2.0), light=(2.0, 2.8))
THUMB = 96


def classic_configs() -> dict[str, dict[str, Any]]:
    """Every blend and colour mode of the classic swapper, its default (what realtime.swap runs) first."""
    from realtime.blend import BLEND_MODES
    from realtime.swappers.color import COLOR_MODES
    from realtime.swappers.factory import DEFAULT_BLEND

    default = (DEFAULT_BLEND["classic"], COLOR_MODES[0])
    pairs = [default] + [p for p in itertools.product(BLEND_MODES, COLOR_MODES) if p != default]
    return {
        f"classic/{blend}/{color}": {"swapper": "classic", "blend": blend, "color": color} for blend, color in pairs
    }


def make_swapper(config: dict[str, Any], args: argparse.Namespace) -> Swapper:
    from realtime.swappers.classic import ClassicSwapper

    if config["swapper"] == "classic":
        return ClassicSwapper(color=config["color"])
    from realtime.swappers.factory import make_swapper as build

    return build(args, "cpu")


def warped_source(source: np.ndarray, source_face: Face, target: np.ndarray, target_face: Face) -> np.ndarray:
    """The source face as warped to the target: the target image with its face replaced by the classic swapper's
    geometric warp of the source onto the target's landmarks (the turned side completed from the mirror image), with
    no colour transfer and no blend: the detail a swap can keep at the target's size and pose."""
    from realtime.swappers.classic import ClassicSwapper

    warp = ClassicSwapper(color="none", mirror=True)
    warp.set_source(SourceSet.single(source, source_face))
    out = target.copy()
    result = warp.swap(out, target_face.landmarks)
    assert result is not None
    x0, y0, x1, y1 = result.box
    region = out[y0:y1, x0:x1]
    region[result.mask > 0] = np.clip(result.face[result.mask > 0] + 0.5, 0, 255).astype(np.uint8)
    return out


class Judge:
    """The measurements of one result against its target and source (dlib, independent of the swappers)."""

    def __init__(self, analyzer: DlibAnalyzer, arcface: Any = None) -> None:
        self.analyzer, self.arcface = analyzer, arcface

    def face(self, image: np.ndarray) -> Face | None:
        """The most confident face (dlib's HOG also flags the astronaut's suit badge now and then, at a low score
        and about a face's size: picking the largest detection measured the badge)."""
        faces = self.analyzer.detect(image)
        return max(faces, key=lambda f: f.score) if faces else None

    def describe(self, image: np.ndarray, face: Face) -> dict[str, np.ndarray]:
        out = {"dlib": self.analyzer.embed(image, face)}
        if self.arcface is not None:
            out["arcface"] = self.arcface.embed(image, face.kps5)
        return out

    def measure(
        self, result: np.ndarray, target: np.ndarray, target_face: Face, source: np.ndarray, source_face: Face,
        source_ids: dict[str, np.ndarray], target_ids: dict[str, np.ndarray],
    ) -> dict[str, float]:  # fmt: skip
        masks = face_masks(target_face.landmarks, target.shape)
        row: dict[str, float] = {
            "skin_delta_e": skin_delta_e(result, target, masks["skin"]),
            "seam": seam_visibility(result, target, masks["face"]),
        }
        reference = warped_source(source, source_face, target, target_face)
        row["sharpness"] = sharpness(result, masks["inner"]) / max(sharpness(reference, masks["inner"]), 1e-6)
        found = self.analyzer.landmarks(result, target_face.bbox, target_face.score)
        row["landmark_error"] = landmark_error(found.landmarks, target_face.landmarks)
        result_ids = self.describe(result, found)
        for space, reference in source_ids.items():
            before = self.distance(space, target_ids[space], reference)
            row[f"{space}_shift"] = before - self.distance(space, result_ids[space], reference)
        return row

    def distance(self, space: str, a: np.ndarray, b: np.ndarray) -> float:
        if space == "dlib":
            return self.analyzer.distance(a, b)
        return float(1.0 - np.dot(a, b))


def run_stills(swap: Callable[[np.ndarray, int], np.ndarray], judge: Judge, people: list[np.ndarray]) -> tuple[
    list[dict[str, float]], np.ndarray
]:  # fmt: skip
    """Every ordered pair of people; ``swap(target image, source index)`` returns the result. Rows and the sheet."""
    faces = [judge.face(p) for p in people]
    ids = [judge.describe(p, f) for p, f in zip(people, faces, strict=True)]  # type: ignore[arg-type]
    rows, tiles = [], []
    for s, t in itertools.permutations(range(len(people)), 2):
        result = swap(people[t], s)
        row = judge.measure(result, people[t], faces[t], people[s], faces[s], ids[s], ids[t])  # type: ignore[arg-type]
        rows.append({"source": s, "target": t, **row})
        tiles.append(np.hstack([_thumb(people[s]), _thumb(people[t]), _thumb(result)]))
    return rows, _grid(tiles, columns=6)


def _thumb(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    square = image[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
    return cv2.resize(square, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def _face_thumb(image: np.ndarray, judge: Judge, where: np.ndarray | None = None) -> np.ndarray:
    """A thumbnail of the region around the face found in ``where`` (default: ``image`` itself)."""
    face = judge.face(image if where is None else where)
    if face is None:
        return _thumb(image)
    x0, y0, x1, y1 = face.bbox
    half = 0.9 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = image.shape[:2]
    box = [int(max(cx - half, 0)), int(max(cy - half, 0)), int(min(cx + half, w)), int(min(cy + half, h))]
    return _thumb(image[box[1] : box[3], box[0] : box[2]])


def _grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    rows = []
    for i in range(0, len(tiles), columns):
        row = tiles[i : i + columns]
        row += [np.full_like(tiles[0], 255)] * (columns - len(row))
        rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in row]))
    return np.vstack(rows)


def run_clip(
    pipeline: FaceSwapPipeline, judge: Judge, frames: list[np.ndarray], source: np.ndarray, source_face: Face,
) -> tuple[list[dict[str, float]], dict[str, float], list[np.ndarray]]:  # fmt: skip
    """Swap a clip frame by frame as realtime.swap does; per-frame rows (every 3rd frame), the still and light
    measures, and the swapped frames."""
    source_ids = judge.describe(source, source_face)
    out = [pipeline.process(frame, i / CLIP.fps)[0] for i, frame in enumerate(frames)]
    rows = []
    for i in range(0, len(frames), 3):
        face = judge.face(frames[i])
        if face is None:
            continue
        rows.append(judge.measure(out[i], frames[i], face, source, source_face, source_ids,
                                  judge.describe(frames[i], face)))  # fmt: skip
    # the still stretch, from 0.2 s after the camera stops (the landmark filter's settling time: the drift before
    # that is lag, which the landmark error on moving frames measures) to its last frame
    first, last = round((CLIP.still[0] + 0.2) * CLIP.fps), round(CLIP.still[1] * CLIP.fps) - 1
    face = judge.face(frames[first])
    assert face is not None
    box = tuple(int(v) for v in face.bbox)
    clip = {"still": region_change(out[first:last], box) / max(region_change(frames[first:last], box), 1e-6)}  # type: ignore[arg-type]
    l0, l1 = round(CLIP.light[0] * CLIP.fps), min(round(CLIP.light[1] * CLIP.fps), len(frames) - 1)
    lum: dict[str, list[float]] = {"in": [], "out": []}
    for index in (l0, l1):
        face = judge.face(frames[index])
        assert face is not None
        inner = face_masks(face.landmarks, frames[index].shape)["inner"]
        lum["in"].append(float(cv2.cvtColor(frames[index], cv2.COLOR_RGB2GRAY)[inner].mean()))
        lum["out"].append(float(cv2.cvtColor(out[index], cv2.COLOR_RGB2GRAY)[inner].mean()))
    clip["light"] = (lum["out"][0] - lum["out"][1]) / max(lum["in"][0] - lum["in"][1], 1e-6)
    return rows, clip, out


def summarise(name: str, stills: list[dict[str, float]], clips: list[dict[str, float]],
              clip_stats: list[dict[str, float]], seconds: float) -> dict[str, Any]:  # fmt: skip
    frames = stills + clips
    row: dict[str, Any] = {"config": name, "faces": len(frames)}
    for space in ("dlib", "arcface"):
        shifts = [r[f"{space}_shift"] for r in frames if f"{space}_shift" in r]
        if shifts:
            row[f"{space}_moved"] = float(np.mean([s > MOVED for s in shifts]))
            row[f"{space}_shift"] = float(np.mean(shifts))
    for key in ("landmark_error", "sharpness", "skin_delta_e", "seam"):
        row[key] = float(np.median([r[key] for r in frames]))
    row["still"] = float(np.max([c["still"] for c in clip_stats]))
    row["light"] = float(np.median([c["light"] for c in clip_stats]))
    row["s_per_face"] = seconds / max(len(frames), 1)
    met = [row["dlib_moved"] >= TARGETS["identity_moved"], row["landmark_error"] <= TARGETS["landmark_error"],
           row["sharpness"] >= TARGETS["sharpness"], row["skin_delta_e"] <= TARGETS["skin_delta_e"],
           row["still"] <= TARGETS["still"]]  # fmt: skip
    row["targets_met"] = f"{sum(met)}/{len(met)}"
    return row


def evaluate(name: str, config: dict[str, Any], args: argparse.Namespace, judge: Judge, people: list[np.ndarray],
             clips: list[np.ndarray], out_dir: Path | None) -> dict[str, Any]:  # fmt: skip
    analyzer = judge.analyzer
    start = time.perf_counter()
    swappers = []
    for photo in people[:6]:  # t1's six people are the clips' sources; every person is a still source
        swapper = make_swapper(config, args)
        swapper.set_source(SourceSet.single(photo, judge.face(photo)))  # type: ignore[arg-type]
        swappers.append(swapper)
    still_swappers = [*swappers, make_swapper(config, args)]
    still_swappers[-1].set_source(SourceSet.single(people[6], judge.face(people[6])))  # type: ignore[arg-type]
    options = PipelineOptions(blend=config.get("blend", "poisson"))

    def swap_still(image: np.ndarray, source: int) -> np.ndarray:
        return FaceSwapPipeline(analyzer, still_swappers[source], options).process(image, 0.0)[0]

    still_rows, sheet = run_stills(swap_still, judge, people)
    clip_rows, clip_stats, strips = [], [], []
    for k in range(6):
        rows, stats, out = run_clip(FaceSwapPipeline(analyzer, swappers[k], options), judge, clips, people[k],
                                    judge.face(people[k]))  # type: ignore[arg-type]  # fmt: skip
        clip_rows += rows
        clip_stats.append(stats)
        shown = (0, 45, 75, 89)  # moving, still, dimmed by the lighting ramp, last
        strips.append(np.hstack([_thumb(people[k]), _face_thumb(clips[75], judge)]
                                + [_face_thumb(out[i], judge, clips[i]) for i in shown]))  # fmt: skip
    seconds = time.perf_counter() - start
    row = summarise(name, still_rows, clip_rows, clip_stats, seconds)
    if out_dir is not None:
        path = out_dir / f"quality-{name.replace('/', '-')}.png"
        _save_sheet(_sheet(sheet, np.vstack(strips)), path)
        print(f"  {name}: sheet {path}")
        row["sheet"] = path.name
    return row


def _save_sheet(image: np.ndarray, path: Path) -> None:
    """PNG with a 256-colour palette: a contact sheet stays under a megabyte for the repository."""
    from PIL import Image

    Image.fromarray(image).quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _sheet(stills: np.ndarray, clips: np.ndarray) -> np.ndarray:
    width = max(stills.shape[1], clips.shape[1])

    def pad(a: np.ndarray) -> np.ndarray:
        return np.pad(a, ((0, 8), (0, width - a.shape[1]), (0, 0)), constant_values=255)

    return np.vstack([pad(stills), pad(clips)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", help="configurations to run (default: every classic one)")
    parser.add_argument("--model", type=Path, help="a neural swapper's model (as realtime.swap --model)")
    parser.add_argument("--identity-model", type=Path, help="its identity model (as realtime.swap)")
    parser.add_argument("--trust-pickle", action="store_true")
    parser.add_argument("--arcface", type=Path, help="an ArcFace for a second identity measure (not the swapper's)")
    parser.add_argument(
        "--sheets",
        choices=["first", "all", "none"],
        default="first",
        help="contact sheets for the first configuration (the default one), all, or none",
    )
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    args.swapper, args.compile, args.pixel_boost, args.color, args.simswap_variant = "auto", False, None, "auto", "auto"
    if args.model is not None:  # a file or an installed model's name, as realtime.swap takes
        from realtime.models.store import ModelStore
        from realtime.swappers.factory import resolve_models

        resolve_models(args, ModelStore())
    configs = classic_configs()
    if args.model is not None:
        configs["neural"] = {"swapper": "neural"}
    chosen = args.configs or list(configs)
    unknown = [c for c in chosen if c not in configs]
    if unknown:
        parser.error(f"unknown configurations {unknown}; known: {list(configs)}")
    arcface = None
    if args.arcface is not None:
        from realtime.io.files import file_sha256
        from realtime.models.arcface import load_arcface

        if args.identity_model is not None and file_sha256(args.arcface) == file_sha256(args.identity_model):
            parser.error("--arcface is the swapper's own identity model: it would judge its own work")
        arcface = load_arcface(args.arcface)
    judge = Judge(DlibAnalyzer(), arcface)
    people = person_photos()
    with tempfile.TemporaryDirectory() as tmp:
        from realtime.io.video import VideoReader

        with VideoReader(make_clip(Path(tmp) / "clip.mp4", CLIP)) as reader:
            clips = [f.image for f in reader]
    out_dir = RESULTS_DIR if not args.no_save else Path(tempfile.mkdtemp())
    out_dir.mkdir(parents=True, exist_ok=True)
    sheets = {"first": chosen[:1], "all": chosen, "none": []}[args.sheets]
    rows = [evaluate(name, configs[name], args, judge, people, clips, out_dir if name in sheets else None)
            for name in chosen]  # fmt: skip
    columns = ["config", "faces", "dlib_moved", "dlib_shift", "landmark_error", "sharpness", "skin_delta_e", "seam",
               "still", "light", "s_per_face", "targets_met"]  # fmt: skip
    if arcface is not None:
        columns[4:4] = ["arcface_moved", "arcface_shift"]
    print(f"targets: identity moved >= {TARGETS['identity_moved']:.0%}, landmark error <= "
          f"{TARGETS['landmark_error']:.0%}, sharpness >= {TARGETS['sharpness']}, skin ΔE <= "
          f"{TARGETS['skin_delta_e']}, still <= {TARGETS['still']}")  # fmt: skip
    return report("quality", rows, columns, save=not args.no_save, extra={"targets": TARGETS}, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
