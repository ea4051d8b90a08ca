"""Faces followed through a stream of frames and gathered into people: what ``python -m realtime.people`` runs.

Tracking is the swap pipeline's own (:class:`~realtime.faces.detection.TrackedFaces`: full detection every few
frames, landmarks re-fitted in between, descriptors deciding when faces cross). Each track is described when it
starts and again every ``describe_every`` detection rounds (up to ``max_descriptors``), keeps the clearest view of
its face (largest and most frontal), and counts the frames it is on screen. :meth:`PeopleScan.people` then groups
the tracks into people (:func:`~realtime.faces.grouping.group_tracks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from realtime.faces.detection import InlineDetection, TrackedFaces
from realtime.faces.grouping import group_tracks
from realtime.faces.pick import frontality
from realtime.faces.tracker import Tracker
from realtime.faces.types import Face, FaceAnalyzer

__all__ = ["FoundPerson", "PeopleScan"]


@dataclass
class _TrackLog:
    frames: int = 0
    first: int = -1
    last: int = -1
    first_x: float = 0.0  # the face's centre, across the frame, where the track began
    descriptors: list[np.ndarray] = field(default_factory=list)
    described_round: int = -(10**9)
    view: np.ndarray | None = None  # RGB uint8 crop around the face
    view_score: float = -1.0


@dataclass
class FoundPerson:
    """One person: ``frames`` on screen, first and last frame index, where across the frame (x, pixels) they were
    first seen, number of ``tracks``, mean ``embedding`` (float32 [D]) and the clearest ``view`` of their face (RGB
    uint8 crop)."""

    frames: int
    first: int
    last: int
    first_x: float
    tracks: int
    embedding: np.ndarray
    view: np.ndarray


def _view(frame: np.ndarray, face: Face, margin: float = 0.35) -> np.ndarray:
    """A square RGB crop around ``face``'s box grown by ``margin`` of its size, clipped to the frame."""
    x0, y0, x1, y1 = face.bbox
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h, w = frame.shape[:2]
    left, top = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
    right, bottom = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
    return np.ascontiguousarray(frame[top:bottom, left:right])


class PeopleScan:
    """Feed frames with :meth:`add`, then read :meth:`people`.

    Args:
        analyzer: the face-analysis backend (its descriptors group the tracks).
        every: full detection every this many frames.
        min_score: detections scoring below this are ignored (0 for a single image).
        describe_every: detection rounds between a track's descriptors.
        max_descriptors: descriptors kept per track.
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        every: int = 5,
        min_score: float = 0.3,
        describe_every: int = 3,
        max_descriptors: int = 12,
    ) -> None:
        self.analyzer = analyzer
        threshold = analyzer.same_person_distance
        self.tracker = Tracker(same_person=lambda a, b: analyzer.distance(a, b) < threshold)
        self.faces = TrackedFaces(analyzer, self.tracker, min_score, describe=True, wants=self._wants)
        self.detection = InlineDetection(every)
        self.describe_every, self.max_descriptors = describe_every, max_descriptors
        self.logs: dict[int, _TrackLog] = {}
        self.apart: set[tuple[int, int]] = set()  # track id pairs seen in one frame
        self._round = 0

    def _wants(self, track_id: int) -> bool:
        log = self.logs.get(track_id)
        return log is None or (
            len(log.descriptors) < self.max_descriptors and self._round - log.described_round >= self.describe_every
        )

    def add(self, frame: np.ndarray, index: int, t: float, cut: bool = False) -> int:
        """Track the faces of frame number ``index`` (RGB uint8 [H,W,3], at ``t`` seconds; ``cut``: a scene cut
        just before it, which ends every track); returns how many faces are on screen."""
        if cut:
            self.tracker.reset()
        tracks, detected, _ = self.detection.step(self.faces, frame, t, index, cut)
        for track in tracks:
            x0, _, x1, _ = track.face.bbox
            log = self.logs.setdefault(track.track_id, _TrackLog(first=index, first_x=float(x0 + x1) / 2))
            log.frames += 1
            log.last = index
            face = track.face
            if detected and face.embedding is not None:
                log.descriptors.append(np.asarray(face.embedding, np.float32))
                log.described_round = self._round
                score = face.size * frontality(face)
                if score > log.view_score:
                    log.view, log.view_score = _view(frame, face), score
        self.apart.update(combinations(sorted(tr.track_id for tr in tracks), 2))
        if detected:
            self._round += 1
        return len(tracks)

    def people(self, min_frames: int = 1) -> list[FoundPerson]:
        """The people, most frames on screen first (then the first seen, then left to right: the people of an image
        in reading order); tracks of fewer than ``min_frames`` frames (a false detection, a face glimpsed) are left
        out."""
        ids = [k for k, log in self.logs.items() if log.frames >= min_frames and log.view is not None]
        means = [self._mean(self.logs[k].descriptors) for k in ids]
        index = {k: i for i, k in enumerate(ids)}
        apart = {(index[a], index[b]) for a, b in self.apart if a in index and b in index}
        found = []
        for group in group_tracks(means, self.analyzer.distance, self.analyzer.same_person_distance, apart):
            logs = [self.logs[ids[i]] for i in group]
            clearest = max(logs, key=lambda log: log.view_score)
            assert clearest.view is not None
            found.append(
                FoundPerson(
                    frames=sum(log.frames for log in logs),
                    first=min(log.first for log in logs),
                    first_x=min(logs, key=lambda log: log.first).first_x,
                    last=max(log.last for log in logs),
                    tracks=len(logs),
                    embedding=self._mean([means[i] for i in group]),
                    view=clearest.view,
                )
            )
        return sorted(found, key=lambda p: (-p.frames, p.first, p.first_x))

    def _mean(self, vectors: list[np.ndarray]) -> np.ndarray:
        """The mean descriptor; re-normalised when the backend's descriptors are unit vectors (ArcFace)."""
        mean = np.mean(vectors, axis=0).astype(np.float32)
        unit = all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-3 for v in vectors)
        return mean / max(float(np.linalg.norm(mean)), 1e-12) if unit else mean
