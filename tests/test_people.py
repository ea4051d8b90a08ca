"""People in a video and many-to-many swaps: python -m realtime.people finds each person once; --map gives each
mapped person their own source, leaves the others alone, and never moves a tracked face to another source (two
people crossing included), offline and in the live loop; the mistakes a user can make are one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.live.detector import BackgroundDetection
from realtime.live.session import LiveSession
from realtime.live.sinks import NullSink
from realtime.live.sources import FileSource
from realtime.pipeline import FaceSwapPipeline, PipelineOptions
from realtime.samples import CROWD, ClipSpec, crowd_positions, make_clip, person_photos
from realtime.source import load_source
from realtime.swappers.base import SourceSet, SwapResult, SwapTarget
from realtime.swappers.classic import ClassicSwapper
from tests.cli import CliResult, call_main
from tests.media import reencoded_frames, video_frames

SPEC = ClipSpec(width=800, height=400, seconds=3.0, fps=15, face="crowd", audio=False)
WALKER_A, WALKER_B, STANDER = CROWD  # person_photos() indices: A and B cross, the third stands on the right
NEW_A, NEW_B, NEW_REST = 1, 3, 5  # the sources: three other people of t1.jpg


@dataclass(frozen=True)
class Crowd:
    root: Path
    clip: Path
    photos: dict[int, Path]  # person_photos() index -> a photo of them
    people_json: Path
    ids: dict[int, int]  # person_photos() index -> their id in people.json


def write_photo(path: Path, image: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory, dlib_analyzer: DlibAnalyzer) -> Crowd:
    root = tmp_path_factory.mktemp("crowd")
    photos = person_photos()
    paths = {k: write_photo(root / f"photo{k}.jpg", photos[k]) for k in (*CROWD, NEW_A, NEW_B, NEW_REST)}
    clip = make_clip(root / "crowd.mp4", SPEC)
    result = call_main("realtime.people", clip, root / "people", "--quiet")
    assert result.returncode == 0, result.stderr
    people = json.loads((root / "people" / "people.json").read_text())["people"]
    ids = {}
    for k in CROWD:  # who is who: the person whose descriptor is nearest this one's photo
        photo = photos[k]
        own = np.asarray(dlib_analyzer.embed(photo, dlib_analyzer.detect(photo)[0]))
        ids[k] = min(people, key=lambda p: np.linalg.norm(np.asarray(p["embedding"]) - own))["id"]
    return Crowd(root, clip, paths, root / "people" / "people.json", ids)


def test_people_finds_each_person_once_with_crops_sheet_and_json(crowd: Crowd) -> None:
    data = json.loads(crowd.people_json.read_text())
    assert data["backend"] == "dlib" and len(data["people"]) == 3
    assert sorted(crowd.ids.values()) == [1, 2, 3]  # each person of the clip is a different id
    frames = round(SPEC.seconds * SPEC.fps)
    times = [p["screen_time"] for p in data["people"]]
    assert times == sorted(times, reverse=True) and times[0] <= SPEC.seconds
    for person in data["people"]:
        assert len(person["embedding"]) == 128 and 0 <= person["first_frame"] <= person["last_frame"] < frames
        assert person["tracks"] >= 1 and cv2.imread(str(crowd.people_json.parent / person["crop"])) is not None
    # the two walkers are on screen throughout (their crossing may split a track, not the person)
    walkers = [p for p in data["people"] if p["id"] in (crowd.ids[WALKER_A], crowd.ids[WALKER_B])]
    assert all(p["screen_time"] >= 0.6 * SPEC.seconds for p in walkers)
    sheet = cv2.imread(str(crowd.people_json.parent / "people.png"))
    assert sheet is not None and sheet.shape[1] == 3 * 160


def test_people_of_an_image_in_reading_order(tmp_path: Path, dlib_analyzer: DlibAnalyzer) -> None:
    import insightface

    group = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    result = call_main("realtime.people", group, tmp_path / "out", "--quiet")
    assert result.returncode == 0, result.stderr
    people = json.loads((tmp_path / "out" / "people.json").read_text())["people"]
    assert len(people) == 6
    # ids 1..6 left to right: each id's descriptor is nearest the descriptor of the face at that rank from the left
    image = cv2.cvtColor(cv2.imread(str(group)), cv2.COLOR_BGR2RGB)
    faces = sorted(dlib_analyzer.detect(image), key=lambda f: f.bbox[0])
    for rank, face in enumerate(faces, 1):
        own = np.asarray(dlib_analyzer.embed(image, face))
        assert min(people, key=lambda p: np.linalg.norm(np.asarray(p["embedding"]) - own))["id"] == rank


def _near(frame_faces: Sequence, centre: tuple[float, float]):  # type: ignore[no-untyped-def]
    """The face of ``frame_faces`` whose box centre is nearest ``centre``, if within 60 px."""
    best = min(frame_faces, key=lambda f: np.hypot(*(f.bbox.reshape(2, 2).mean(0) - centre)), default=None)
    return best if best is not None and np.hypot(*(best.bbox.reshape(2, 2).mean(0) - centre)) < 60 else None


def test_map_moves_each_mapped_person_toward_their_own_source(
    crowd: Crowd, dlib_analyzer: DlibAnalyzer, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    result = call_main("realtime.swap", crowd.clip, out, "--people", crowd.people_json, "--quiet",
                       "--map", f"{crowd.ids[WALKER_A]}={crowd.photos[NEW_A]}",
                       "--map", f"{crowd.ids[WALKER_B]}={crowd.photos[NEW_B]}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    before, after = video_frames(crowd.clip), video_frames(out)
    sources = {k: load_source(crowd.photos[k], dlib_analyzer).embedding for k in (NEW_A, NEW_B)}
    moved = {WALKER_A: [], WALKER_B: []}  # per walker: (distance to own source, to the other's), in swapped frames
    for i in range(0, len(after), 4):
        positions = dict(zip(CROWD, crowd_positions(i / SPEC.fps, SPEC), strict=True))
        faces = dlib_analyzer.detect(after[i])
        for walker, own, other in ((WALKER_A, NEW_A, NEW_B), (WALKER_B, NEW_B, NEW_A)):
            face = _near(faces, positions[walker])
            if face is not None:
                vector = dlib_analyzer.embed(after[i], face)
                moved[walker].append((dlib_analyzer.distance(vector, sources[own]),
                                      dlib_analyzer.distance(vector, sources[other])))  # fmt: skip
    for walker, pairs in moved.items():
        assert len(pairs) >= 6, walker
        nearer_own = sum(own < other for own, other in pairs)
        assert nearer_own >= 0.8 * len(pairs), (walker, pairs)
    # the unmapped person stays within re-encode noise of the input: as far from it as the input re-encoded with
    # the same settings and watermark is (a swapped face is several times farther)
    reencoded = reencoded_frames(crowd.clip, tmp_path / "reencoded.mp4")
    for i in range(0, len(after), 5):
        cx, cy = crowd_positions(i / SPEC.fps, SPEC)[2]
        box = np.s_[int(cy - 60) : int(cy + 60), int(cx - 60) : int(cx + 60)]
        ours, noise = (np.abs(frames[box].astype(int) - before[i][box]).mean() for frames in (after[i], reencoded[i]))
        assert ours <= 1.2 * noise + 0.3, (i, ours, noise)


class RecordingSwapper:
    """A classic swapper that notes, per call, each target's track, source and landmark centre."""

    name = "classic"
    resident_device = None

    def __init__(self) -> None:
        self.inner = ClassicSwapper()
        self.calls: list[list[tuple[int, int, np.ndarray]]] = []

    def set_sources(self, sources: Sequence[SourceSet]) -> None:
        self.inner.set_sources(sources)

    def set_source(self, source: SourceSet) -> None:
        self.inner.set_source(source)

    def swap_many(self, frame: np.ndarray, targets: Sequence[SwapTarget]) -> list[SwapResult | None]:
        self.calls.append([(t.track_id, t.source, t.landmarks.mean(0)) for t in targets])
        return self.inner.swap_many(frame, targets)


def _mapped_pipeline(crowd: Crowd, analyzer: DlibAnalyzer, live: bool) -> tuple[FaceSwapPipeline, RecordingSwapper]:
    """Walker A -> source 0 (NEW_A), walker B -> source 1 (NEW_B), the stander kept."""
    swapper = RecordingSwapper()
    swapper.set_sources([load_source(crowd.photos[k], analyzer).faces for k in (NEW_A, NEW_B)])
    people = [load_source(crowd.photos[k], analyzer).embedding[None] for k in (WALKER_A, WALKER_B)]
    options = PipelineOptions(people=people, similarity=analyzer.same_person_distance)
    return FaceSwapPipeline(analyzer, swapper, options, BackgroundDetection() if live else None), swapper


def _sources_by_track(calls: list[list[tuple[int, int, np.ndarray]]]) -> dict[int, set[int]]:
    seen: dict[int, set[int]] = {}
    for call in calls:
        for track, source, _ in call:
            seen.setdefault(track, set()).add(source)
    return seen


def test_each_track_keeps_one_source_and_it_is_its_persons(crowd: Crowd, dlib_analyzer: DlibAnalyzer) -> None:
    """Offline, through the crossing and a scene cut: the clip, then (a cut) its first second mirrored and darker."""
    pipeline, swapper = _mapped_pipeline(crowd, dlib_analyzer, live=False)
    shot = video_frames(crowd.clip)
    cut_at = len(shot)
    second = [np.ascontiguousarray((f[:, ::-1] * 0.6).astype(np.uint8)) for f in shot[: SPEC.fps]]
    for i, frame in enumerate(shot + second):
        pipeline.process(frame, i / SPEC.fps)
    assert len(swapper.calls) == cut_at + len(second)
    assert all(len(sources) == 1 for sources in _sources_by_track(swapper.calls).values())  # zero flips
    swapped: dict[tuple[int, bool], int] = {}  # (walker, after the cut) -> frames swapped
    for i, call in enumerate(swapper.calls):
        after_cut = i >= cut_at
        t = (i - cut_at if after_cut else i) / SPEC.fps
        positions = {k: (SPEC.width - x if after_cut else x, y)
                     for k, (x, y) in zip(CROWD, crowd_positions(t, SPEC), strict=True)}  # fmt: skip
        for _, source, centre in call:
            person = min(positions, key=lambda k: np.hypot(*(centre - positions[k])))
            assert person != STANDER, i  # the unmapped person is never swapped
            assert source == {WALKER_A: 0, WALKER_B: 1}[person], (i, person, source)  # never the other's source
            swapped[person, after_cut] = swapped.get((person, after_cut), 0) + 1
    # each walker is swapped in most frames: faces are only left alone while undecided or hidden at the crossing
    assert min(swapped.get((w, False), 0) for w in (WALKER_A, WALKER_B)) >= 0.7 * cut_at, swapped
    assert min(swapped.get((w, True), 0) for w in (WALKER_A, WALKER_B)) >= 0.5 * len(second), swapped
    before_cut = {t for call in swapper.calls[:cut_at] for t, _, _ in call}
    assert not before_cut & {t for call in swapper.calls[cut_at:] for t, _, _ in call}  # the cut started new tracks


def test_the_map_works_in_the_live_loop(crowd: Crowd, dlib_analyzer: DlibAnalyzer) -> None:
    pipeline, swapper = _mapped_pipeline(crowd, dlib_analyzer, live=True)
    report = LiveSession(FileSource(crowd.clip), pipeline, [NullSink()], status=None).run()
    assert report.end == "ended" and report.frames_output >= 10
    by_track = _sources_by_track(swapper.calls)
    assert by_track and all(len(sources) == 1 for sources in by_track.values())
    used = set().union(*by_track.values())
    assert used == {0, 1}, used  # both walkers got their sources
    for call in swapper.calls:
        assert all(centre[0] < 0.7 * SPEC.width for _, _, centre in call)  # the stander (right) is kept


def test_unmapped_faces_can_get_a_source_of_their_own(crowd: Crowd, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    frame = video_frames(crowd.clip)[0]
    still = write_photo(tmp_path / "still.png", frame)
    result = call_main("realtime.swap", still, out, "--map", f"{crowd.photos[WALKER_A]}={crowd.photos[NEW_A]}",
                       "--unmapped", "swap-with", crowd.photos[NEW_REST])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "everyone else -> 1 face(s)" in result.stderr
    after = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    for cx, cy in crowd_positions(0.0, SPEC):  # all three faces changed
        y0, y1, x0, x1 = int(cy - 40), int(cy + 40), int(cx - 40), int(cx + 40)
        assert np.abs(after[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1]).mean() > 4


def test_map_mistakes_are_one_line_errors(crowd: Crowd, tmp_path: Path) -> None:
    blank = tmp_path / "wall.jpg"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps({"9": str(crowd.photos[NEW_A])}))
    a, b = crowd.photos[WALKER_A], crowd.photos[WALKER_B]
    new_a, new_b = crowd.photos[NEW_A], crowd.photos[NEW_B]
    ppl = ("--people", crowd.people_json)
    out = tmp_path / "out.mp4"
    cases: list[tuple[tuple[object, ...], int, str]] = [
        ((*ppl, "--map", f"9={new_a}"), 2, r"person 9 is not in .*people\.json \(known ids: 1, 2, 3\)"),
        ((*ppl, "--map-file", map_file), 2, r"person 9 is not in"),
        (("--map", f"1={new_a}"), 2, "a people id needs --people"),
        ((*ppl, "--map", f"1={new_a}", "--map", f"1={new_b}"), 2, "person 1 is mapped twice"),
        (("--map", f"{a}={new_a}", "--map", f"{tmp_path / 'again.jpg'}={new_b}"), 2, "are the same person"),
        (("--map", f"{blank}={new_a}"), 1, "no face found in the --map target"),
        (("--map", f"{a}={blank}"), 1, "no face found in the --map source"),
        (("--map", f"{a}={new_a}", "--target-face", "largest"), 2, "cannot be used with --target-face"),
        (("--map", f"{a}={new_a}", "--source", new_b), 2, "--source and --map"),
        (("--map", f"{a}"), 2, "expected TARGET=SOURCE"),
        ((*ppl, "--source", new_a), 2, "--people and --unmapped go with --map"),
        (("--map", f"{b}={new_b}", "--unmapped", "swap"), 2, "--unmapped takes 'keep' or 'swap-with SOURCE'"),
        (("--map-file", tmp_path / "none.json"), 1, "map file not found"),
        ((), 2, "--source is required"),
    ]
    write_photo(tmp_path / "again.jpg", cv2.cvtColor(cv2.imread(str(a)), cv2.COLOR_BGR2RGB)[::1, ::-1])
    for args, code, message in cases:
        result: CliResult = call_main("realtime.swap", crowd.clip, out, "--quiet", *args)
        lines = result.error_lines()
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(lines) >= 1, result.stderr
        assert re.search(message, lines[-1]), (message, result.stderr)
        assert len(lines) == 1 or lines[0].startswith("usage:"), result.stderr
        assert not out.exists()
