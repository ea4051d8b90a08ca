"""Face tracking across frames: identities by box overlap and, when known, identity descriptors; smoothed landmarks,
full detection every N frames or when a track is lost, and a scene-cut detector that resets the filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from realtime.faces.smoothing import OneEuroFilter
from realtime.faces.types import Face

__all__ = ["SceneCutDetector", "Track", "Tracker", "box_iou"]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class SceneCutDetector:
    """Flags frames whose downscaled grey image differs from the previous one by more than ``threshold`` (mean
    absolute difference, 0-255 scale). Camera motion and lighting changes stay well below a cut."""

    def __init__(self, threshold: float = 40.0) -> None:
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> bool:
        grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (64, 36), interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32)
        cut = self._previous is not None and float(np.abs(grey - self._previous).mean()) > self.threshold
        self._previous = grey
        return cut


@dataclass
class Track:
    """One face followed over time."""

    track_id: int
    face: Face
    filter: OneEuroFilter
    smoothed: np.ndarray  # [K,2] filtered landmarks
    embedding: np.ndarray | None = None
    missed: int = 0  # consecutive detection rounds without a match
    holding: bool = False  # the face is still: ``smoothed`` stays put (see Tracker)
    still_for: int = 0  # consecutive frames the filtered landmarks barely moved
    filtered: np.ndarray | None = None  # the filter's latest output
    anchor_box: np.ndarray | None = None  # the detector's box at the last detection
    anchor_centre: np.ndarray | None = None  # the landmarks' centre at that detection

    def refit_box(self) -> np.ndarray:
        """Box for re-fitting landmarks between detections: the last detector box, moved by how far the landmarks
        moved since. A still face gets the identical box (and so identical landmarks) frame after frame; deriving
        the box from the landmarks each frame instead feeds fitting noise back into the next fit and jitters."""
        assert self.anchor_box is not None and self.anchor_centre is not None
        shift = self.face.landmarks.mean(0) - self.anchor_centre
        return self.anchor_box + np.concatenate([shift, shift])

    def anchor(self, face: Face) -> None:
        self.anchor_box = face.bbox.copy()
        self.anchor_centre = face.landmarks.mean(0)


class Tracker:
    """Keeps :class:`Track` objects in step with the faces of each frame.

    Args:
        min_cutoff, beta: One-Euro settings for the landmarks (``min_cutoff=0`` disables smoothing).
        deadband, still_speed, still_frames: holding a still face still. Landmark fits wander by a pixel or so
            on a motionless face (dlib's points are whole pixels, and sensor noise flips them), and any change of
            the landmarks shifts the whole warped face: visible shimmer. Once the filtered landmarks have moved
            less than ``still_speed`` px per frame (mean over the points) for ``still_frames`` frames, the landmarks
            handed on are held; they follow again as soon as the filtered ones are ``deadband`` px away from them
            on average (or 3x that at some point). Moving faces are followed frame by frame, with no steps.
        iou_threshold: minimum box overlap for a detection to continue a track.
        max_missed: detection rounds a track may go unmatched before it is dropped.
        same_person: ``(embedding, embedding) -> bool`` from the analyzer; when both a track and a detection carry
            an embedding, a pair judged to be different people is never matched however much the boxes overlap
            (two faces crossing keep their identities), and same-person pairs are matched first.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.5,
        iou_threshold: float = 0.3,
        max_missed: int = 1,
        deadband: float = 0.75,
        still_speed: float = 0.35,
        still_frames: int = 3,
        same_person: Callable[[np.ndarray, np.ndarray], bool] | None = None,
    ) -> None:
        self.min_cutoff, self.beta, self.deadband = min_cutoff, beta, deadband
        self.still_speed, self.still_frames = still_speed, still_frames
        self.iou_threshold, self.max_missed = iou_threshold, max_missed
        self.same_person = same_person
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        """Forget every track (a scene cut)."""
        self.tracks = []

    def update_detections(self, faces: list[Face], t: float) -> list[Track]:
        """Match a full detection to the tracks (greedy by identity agreement, then IoU), start tracks for new
        faces, age the rest."""
        unmatched = list(range(len(faces)))
        pairs = []
        for i, track in enumerate(self.tracks):
            for j, face in enumerate(faces):
                iou = box_iou(track.face.bbox, face.bbox)
                same = self._same_person(track, face)
                if iou >= self.iou_threshold and same is not False:
                    pairs.append((same is True, iou, i, j))
        pairs.sort(reverse=True)
        used_tracks: set[int] = set()
        for _, _, i, j in pairs:
            if i in used_tracks or j not in unmatched:
                continue
            used_tracks.add(i)
            unmatched.remove(j)
            self._continue(self.tracks[i], faces[j], t)
            self.tracks[i].anchor(faces[j])
        for i, track in enumerate(self.tracks):
            if i not in used_tracks:
                track.missed += 1
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.max_missed]
        for j in unmatched:
            self.tracks.append(self._start(faces[j], t))
        return self.live()

    def _same_person(self, track: Track, face: Face) -> bool | None:
        """Whether the descriptors agree; None when either is missing or no comparison was given."""
        if self.same_person is None or track.embedding is None or face.embedding is None:
            return None
        return bool(self.same_person(track.embedding, face.embedding))

    def update_landmarks(self, track: Track, face: Face, t: float) -> None:
        """Continue ``track`` with landmarks re-fitted in this frame (between detections)."""
        self._continue(track, face, t)

    def live(self) -> list[Track]:
        """Tracks matched in the latest detection round."""
        return [tr for tr in self.tracks if tr.missed == 0]

    def _start(self, face: Face, t: float) -> Track:
        track = Track(
            track_id=self._next_id,
            face=face,
            filter=OneEuroFilter(self.min_cutoff, self.beta),
            smoothed=face.landmarks.copy(),
            embedding=face.embedding,
        )
        track.smoothed = track.filter(face.landmarks, t)
        track.anchor(face)
        face.track_id = track.track_id
        self._next_id += 1
        return track

    def _continue(self, track: Track, face: Face, t: float) -> None:
        face.track_id = track.track_id
        track.face = face
        track.missed = 0
        filtered = track.filter(face.landmarks, t)
        previous, track.filtered = track.filtered, filtered
        if self.min_cutoff == 0:  # no smoothing: no holding either
            track.smoothed = filtered
        elif track.holding:
            away = np.linalg.norm(filtered - track.smoothed, axis=1)
            if away.mean() > self.deadband or away.max() > 3 * self.deadband:
                track.holding, track.still_for, track.smoothed = False, 0, filtered
        else:
            track.smoothed = filtered
            speed = np.inf if previous is None else float(np.linalg.norm(filtered - previous, axis=1).mean())
            track.still_for = track.still_for + 1 if speed < self.still_speed else 0
            track.holding = track.still_for >= self.still_frames
        if face.embedding is not None:
            track.embedding = face.embedding
