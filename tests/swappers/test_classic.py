"""The classic swapper: head pose and mouth state, the choice of source picture per tracked face (closest pose,
with hysteresis), source sets from a folder or video, the mirror completion of a turned source, and shading that
follows the target's light."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.faces.pose import HeadPose, head_pose, mouth_openness
from realtime.faces.types import Face
from realtime.io.images import write_image
from realtime.metrics import face_masks
from realtime.samples import ClipSpec, face_image, make_clip, person_photos
from realtime.source import load_source
from realtime.swappers.base import SourceFace, SourceSet, SwapTarget
from realtime.swappers.choice import SourceChooser
from realtime.swappers.classic import ClassicSwapper

TURNED = 4  # the person of person_photos() with the most turned head (about 55 degrees of yaw)


@pytest.fixture(scope="module")
def photos(dlib_analyzer: DlibAnalyzer) -> list[tuple[np.ndarray, Face]]:
    """The seven package people, each with their face."""
    return [(p, max(dlib_analyzer.detect(p), key=lambda f: f.size)) for p in person_photos()]


def mirrored(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def test_pose_follows_mirroring_and_rotation(
    photos: list[tuple[np.ndarray, Face]], dlib_analyzer: DlibAnalyzer
) -> None:
    image, face = photos[TURNED]
    pose = head_pose(face.landmarks, image.shape[:2])
    assert abs(pose.yaw) > 35  # clearly turned
    flipped = max(dlib_analyzer.detect(mirrored(image)), key=lambda f: f.size)
    assert head_pose(flipped.landmarks, image.shape[:2]).yaw == pytest.approx(-pose.yaw, abs=6)
    upright, frontal = photos[6]  # the astronaut
    h, w = upright.shape[:2]
    assert abs(head_pose(frontal.landmarks, (h, w)).yaw) < 15
    rotated = cv2.warpAffine(upright, cv2.getRotationMatrix2D((w / 2, h / 2), -15, 1.0), (w, h))  # 15 deg clockwise
    tilted = max(dlib_analyzer.detect(rotated), key=lambda f: f.size)
    before, after = head_pose(frontal.landmarks, (h, w)), head_pose(tilted.landmarks, (h, w))
    assert after.roll == pytest.approx(before.roll + 15, abs=3)
    assert after.yaw == pytest.approx(before.yaw, abs=5)  # a tilt is no turn
    assert mouth_openness(frontal.landmarks) > mouth_openness(photos[0][1].landmarks)  # her smile shows teeth


def stand_in(yaw: float, mouth: float = 0.1) -> SourceFace:
    """A source picture that only its pose and mouth matter for (the chooser reads nothing else)."""
    points = np.zeros((68, 2))
    face = Face(bbox=np.zeros(4), score=1.0, landmarks=points, kps5=np.zeros((5, 2)))
    return SourceFace(np.zeros((4, 4, 3), np.uint8), face, HeadPose(yaw, 0.0, 0.0), mouth)


def test_the_closest_pose_is_chosen(photos: list[tuple[np.ndarray, Face]]) -> None:
    image, face = photos[TURNED]
    yaw = head_pose(face.landmarks, image.shape[:2]).yaw
    chooser = SourceChooser([stand_in(0.0), stand_in(yaw + 3), stand_in(-yaw)])
    assert chooser.choose(face.landmarks, image.shape[:2]) == 1
    frontal_image, frontal = photos[6]
    assert chooser.choose(frontal.landmarks, frontal_image.shape[:2]) == 0


def test_hysteresis_keeps_a_track_on_its_source_until_another_is_clearly_better_for_a_while(
    photos: list[tuple[np.ndarray, Face]],
) -> None:
    turned_image, turned = photos[TURNED]
    frontal = photos[6][1]
    size = turned_image.shape[:2]  # both sets of landmarks read in one frame size, as a tracked face's are
    yaw = head_pose(turned.landmarks, size).yaw
    chooser = SourceChooser([stand_in(0.0), stand_in(yaw)], margin=8.0, hold=5)
    assert chooser.choose(frontal.landmarks, size, track_id=7) == 0
    # four frames of the turned pose, then back: no flicker
    sequence = [turned] * 4 + [frontal]
    assert [chooser.choose(f.landmarks, size, track_id=7) for f in sequence] == [0] * 5
    # held for five frames in a row: the switch happens on the fifth
    assert [chooser.choose(turned.landmarks, size, track_id=7) for _ in range(5)] == [0, 0, 0, 0, 1]
    # another track decides for itself; a face seen once gets the closest straight away
    assert chooser.choose(turned.landmarks, size, track_id=8) == 1
    assert chooser.choose(frontal.landmarks, size) == 0


def test_a_source_folder_keeps_distinct_pictures(tmp_path: Path, dlib_analyzer: DlibAnalyzer) -> None:
    person = face_image("person")
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):  # three near-identical pictures (a pixel's shift): one is enough
        write_image(folder / f"same_{i}.png", np.roll(person, i, axis=1))
    write_image(folder / "mirrored.png", mirrored(person))  # turned the other way: distinct
    source = load_source(folder, dlib_analyzer)
    assert source.count == 4 and len(source.faces.faces) == 2
    yaws = sorted(f.pose.yaw for f in source.faces.faces)
    assert yaws[0] == pytest.approx(-yaws[1], abs=6)
    assert len(load_source(folder, dlib_analyzer, max_faces=1).faces.faces) == 1
    clip = make_clip(tmp_path / "person.mp4", ClipSpec(width=400, height=400, seconds=1.0, face="person"))
    video = load_source(clip, dlib_analyzer, max_faces=5)
    assert 1 <= len(video.faces.faces) <= 5 and video.count >= len(video.faces.faces)


def test_each_tracked_face_gets_the_picture_turned_like_it(photos: list[tuple[np.ndarray, Face]]) -> None:
    """A set of a frontal and a turned picture: a turned target is warped from the turned one."""
    swapper = ClassicSwapper()
    source = SourceSet((SourceFace.of(*photos[6]), SourceFace.of(*photos[TURNED])))
    swapper.set_source(source)
    image, face = photos[TURNED]
    assert SourceChooser(source.faces).choose(face.landmarks, image.shape[:2], 3) == 1
    (result,) = swapper.swap_many(image, [SwapTarget(face.landmarks, 3)])
    assert result is not None
    direct = swapper.swap(image, face.landmarks, 1)
    assert direct is not None and np.array_equal(result.face, direct.face)


def test_the_mirror_completes_a_turned_source(photos: list[tuple[np.ndarray, Face]]) -> None:
    """Warped onto a frontal target, a turned source's far side is its compressed side stretched (with the hair and
    background beside it); with the mirror it comes from the near side, so the swapped face becomes about as
    symmetric as a face is: the correlation between its two halves, reflected about the nose, rises well above
    that of the plain warp."""
    source = SourceSet.single(*photos[TURNED])
    target_image, target = photos[6]
    symmetry = []
    for mirror in (False, True):
        swapper = ClassicSwapper(color="none", mirror=mirror)
        swapper.set_source(source)
        result = swapper.swap(target_image, target.landmarks)
        assert result is not None
        grey = cv2.cvtColor(np.clip(result.face, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float64)
        inside = cv2.erode(result.mask, np.ones((5, 5), np.uint8)) > 0
        nose = round(target.landmarks[30, 0] - result.box[0])
        left, right = [], []
        for d in range(3, min(nose, grey.shape[1] - nose - 1)):
            both = inside[:, nose - d] & inside[:, nose + d]
            left.append(grey[both, nose - d])
            right.append(grey[both, nose + d])
        symmetry.append(float(np.corrcoef(np.concatenate(left), np.concatenate(right))[0, 1]))
    assert symmetry[1] > symmetry[0] + 0.2 and symmetry[1] > 0.6, symmetry


@pytest.mark.parametrize(("color", "follows"), [("shading", True), ("lab", True), ("none", False)])
def test_the_swapped_face_darkens_with_the_targets_light(
    photos: list[tuple[np.ndarray, Face]], color: str, follows: bool
) -> None:
    """A lighting ramp on the target (70% of the light) darkens the swapped face with it (the same share), unless
    the colour is left alone."""
    swapper = ClassicSwapper(color=color)
    swapper.set_source(SourceSet.single(*photos[2]))
    image, face = photos[6]
    dim = (image.astype(np.float32) * 0.7).round().astype(np.uint8)
    inner = face_masks(face.landmarks, image.shape)["inner"]
    brightness = []
    for frame in (image, dim):
        result = swapper.swap(frame, face.landmarks)
        assert result is not None
        x0, y0, x1, y1 = result.box
        region = inner[y0:y1, x0:x1] & (result.mask > 0)
        brightness.append(float(cv2.cvtColor(np.clip(result.face, 0, 255).astype(np.uint8),
                                             cv2.COLOR_RGB2GRAY)[region].mean()))  # fmt: skip
    share = brightness[1] / brightness[0]
    if follows:
        assert share == pytest.approx(0.7, abs=0.05), brightness
    else:
        assert share > 0.95, brightness
