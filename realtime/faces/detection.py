"""When full face detection runs, and how its faces join the tracking: the strategies a pipeline is given.

A stream's faces come from two sources: full detection (the detector over the whole frame: new faces, lost faces,
fresh boxes) and landmark re-fitting inside each track's predicted box, many times cheaper (``bench/pipeline.py``
reports both per frame).
:class:`TrackedFaces` holds what both need for one stream (analyzer, tracker, score threshold, descriptors); a
:class:`DetectionStrategy` decides, frame by frame, which of the two runs:

- :class:`InlineDetection` (offline): detection on this thread every ``every`` frames, after a scene cut or when
  no face is tracked; re-fitting in between.
- ``realtime.live.detector.BackgroundDetection`` (live): detection on a background thread, re-fitting on every
  frame, a finished detection joining on the next frame, so no frame waits for the detector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from realtime.faces.tracker import Track, Tracker, box_iou
from realtime.faces.types import Face, FaceAnalyzer

__all__ = ["DetectionStrategy", "InlineDetection", "TrackedFaces", "TrackingStep"]


class TrackedFaces:
    """The faces of one stream: full detection, landmark re-fitting and the tracker they feed.

    Args:
        analyzer: the face-analysis backend.
        tracker: the stream's :class:`~realtime.faces.tracker.Tracker`.
        min_score: detections scoring below this are ignored.
        describe: compute identity descriptors (reference mode and people maps need them to tell people apart).
        wants: ``track_id -> bool``, whether a face plainly continuing that track needs a descriptor anyway (a
            people map deciding or rechecking who the track is, :meth:`~realtime.faces.identity.IdentityDecider.
            wants`); None: such faces are not described again.
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        tracker: Tracker,
        min_score: float,
        describe: bool,
        wants: Callable[[int], bool] | None = None,
    ) -> None:
        self.analyzer, self.tracker = analyzer, tracker
        self.min_score, self.describe, self.wants = min_score, describe, wants

    def detect(self, frame: np.ndarray, describe_all: bool = False) -> list[Face]:
        """Faces of an RGB uint8 frame [H,W,3] scoring at least ``min_score``; with ``describe_all`` (and
        ``describe``) each gets its descriptor, for callers off the frame's critical path."""
        faces = [f for f in self.analyzer.detect(frame) if f.score >= self.min_score]
        if self.describe and describe_all:
            for face in faces:
                self.analyzer.embed(frame, face)
        return faces

    def describe_ambiguous(self, frame: np.ndarray, faces: list[Face]) -> None:
        """Descriptors for the faces that do not clearly continue one known track (when ``describe``). A face
        overlapping no track is new; one overlapping several tracks, or a track another face also overlaps, is
        ambiguous (faces crossing) and the descriptors decide the match. A descriptor costs about as much as a
        detection with dlib, so a face that plainly continues its track is described again only when ``wants``
        says its track needs one."""
        if not self.describe:
            return
        known = [tr for tr in self.tracker.tracks if tr.embedding is not None]
        threshold = self.tracker.iou_threshold
        overlaps = [[tr for tr in known if box_iou(tr.face.bbox, f.bbox) >= threshold] for f in faces]
        for j, face in enumerate(faces):
            shared = any(
                tr in overlaps[k] for k in range(len(faces)) if k != j for tr in overlaps[j]
            )  # one of its tracks is contested by another face
            wanted = self.wants is not None and len(overlaps[j]) == 1 and self.wants(overlaps[j][0].track_id)
            if len(overlaps[j]) != 1 or shared or wanted:
                self.analyzer.embed(frame, face)

    def join(self, faces: list[Face], t: float) -> list[Track]:
        """Detected ``faces`` at time ``t`` (seconds) update the tracks; returns the live tracks."""
        return self.tracker.update_detections(faces, t)

    def refit(self, frame: np.ndarray, t: float) -> list[Track]:
        """Re-fit every live track's landmarks inside its predicted box on ``frame``; returns the live tracks."""
        tracks = self.tracker.live()
        for track in tracks:
            face = self.analyzer.landmarks(frame, track.refit_box(), track.face.score)
            self.tracker.update_landmarks(track, face, t)
        return tracks


class TrackingStep(NamedTuple):
    """One frame's tracking: the live ``tracks``, whether a detection joined them (``detected``), and the stage
    that took this thread's time ("detect" or "landmarks", for the pipeline's timing)."""

    tracks: list[Track]
    detected: bool
    stage: str


class DetectionStrategy(ABC):
    """Decides per frame whether full detection runs; ``every`` is the detection interval in frames (a live
    session adapts it to the load). :meth:`close` releases what the strategy holds (a thread)."""

    def __init__(self, every: int = 5) -> None:
        if every < 1:
            raise ValueError(f"the detection interval must be >= 1 frame, got {every}")
        self.every = every

    @abstractmethod
    def step(self, faces: TrackedFaces, frame: np.ndarray, t: float, index: int, cut: bool) -> TrackingStep:
        """Track the faces of frame number ``index`` (RGB uint8 [H,W,3], taken at ``t`` seconds); ``cut`` says a
        scene cut came just before it (the tracker was reset)."""

    def close(self) -> None:  # noqa: B027  (nothing to release by default)
        """Release threads or other resources; the strategy is not used afterwards."""


class InlineDetection(DetectionStrategy):
    """Full detection on the calling thread every ``every`` frames, after a scene cut, or when no face is
    tracked; landmarks re-fitted in between."""

    def step(self, faces: TrackedFaces, frame: np.ndarray, t: float, index: int, cut: bool) -> TrackingStep:
        if cut or index % self.every == 0 or not faces.tracker.live():
            found = faces.detect(frame)
            faces.describe_ambiguous(frame, found)
            return TrackingStep(faces.join(found, t), True, "detect")
        return TrackingStep(faces.refit(frame, t), False, "landmarks")
