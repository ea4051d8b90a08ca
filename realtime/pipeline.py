"""The per-frame face-swap pipeline: detect or track, smooth, swap, paste back, watermark.

One :class:`FaceSwapPipeline` processes a stream of frames (video, camera or a single image). Full detection runs
every ``detect_every`` frames, after a scene cut, or when no face is being tracked; in between, the 68 landmarks
are re-fitted inside each track's predicted box (~2 ms a face), then smoothed by the track's One-Euro filter.

Live use (``background_detection``): detection runs on a background thread instead (see
:mod:`realtime.live.detector`), landmarks are re-fitted on every frame, and a finished detection joins the tracking
on the next frame, so no frame waits for the detector.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from realtime.blend import paste
from realtime.faces.tracker import SceneCutDetector, Track, Tracker, box_iou
from realtime.faces.types import Face
from realtime.live.detector import BackgroundDetector
from realtime.watermark import Watermarker

__all__ = ["TARGET_MODES", "FaceSwapPipeline", "PipelineOptions"]

TARGET_MODES = ("all", "largest", "reference")


@dataclass
class PipelineOptions:
    """How targets are chosen, how often to detect, how much to smooth and how to blend.

    ``smoothing`` is the One-Euro strength: the still-face cutoff is 1/smoothing Hz (0 disables smoothing).
    ``similarity`` is the descriptor distance under which a face counts as the ``reference`` person.
    """

    target_face: str = "all"
    reference_embedding: np.ndarray | None = None
    similarity: float = 0.6
    detect_every: int = 5
    smoothing: float = 1.0
    blend: str = "poisson"
    device: str = "cpu"  # where the blend runs
    # Detections scoring below this are not tracked or swapped. For dlib's HOG, faces in video score ~0.4-2.5 and
    # the detector's recurring false hits (a badge, a pattern) ~0.1, so video uses 0.3; a single image keeps every
    # detection the analyzer returns (0.0), since it has no other frames to find a face in.
    min_score: float = 0.3
    watermark_id: int = 0  # 32-bit id carried by the invisible mark every output frame gets (realtime.watermark)
    background_detection: bool = False  # live: detect on a background thread (close() the pipeline after use)


@dataclass
class FrameStats:
    """What happened in one frame."""

    detected: bool
    faces: int
    swapped: int
    scene_cut: bool


class FaceSwapPipeline:
    """Swap the source identity into every selected face of each frame (in place on a copy).

    Args:
        analyzer: a face-analysis backend (``detect``, ``landmarks``, ``embed``, ``distance``).
        swapper: a swapper with ``swap_many(frame, [landmarks, ...]) -> [SwapResult | None, ...]`` (all faces of a
            frame at once, so neural swappers batch them) and its source already set.
        options: :class:`PipelineOptions`.
    """

    def __init__(self, analyzer, swapper, options: PipelineOptions | None = None) -> None:  # type: ignore[no-untyped-def]
        self.analyzer, self.swapper = analyzer, swapper
        self.options = options or PipelineOptions()
        if self.options.target_face not in TARGET_MODES:
            raise ValueError(f"target_face must be one of {TARGET_MODES}")
        if self.options.target_face == "reference" and self.options.reference_embedding is None:
            raise ValueError("target_face='reference' needs a reference_embedding")
        cutoff = 0.0 if self.options.smoothing <= 0 else 1.0 / self.options.smoothing
        threshold = analyzer.same_person_distance
        self.tracker = Tracker(
            min_cutoff=cutoff, beta=0.5, same_person=lambda a, b: analyzer.distance(a, b) < threshold
        )
        self.scene_cut = SceneCutDetector()
        self._frame_index = 0
        self.stage_seconds: dict[str, float] = defaultdict(float)  # cumulative time per stage (for bench/)
        self.faces_swapped = 0  # cumulative over all frames
        self.watermarker = Watermarker(self.options.watermark_id)
        self.detect_every = self.options.detect_every  # live sessions adapt it to the load
        self._background: BackgroundDetector | None = None
        if self.options.background_detection:
            self._background = BackgroundDetector(self._detect)
        self._last_submit = -(10**9)
        self._cut_index = 0

    def close(self) -> None:
        """Stop the background detector (live use); the pipeline cannot process frames afterwards."""
        if self._background is not None:
            self._background.close()

    def _detect(self, frame: np.ndarray) -> list[Face]:
        """Full detection for tracking: faces above ``min_score``, with descriptors in reference mode."""
        faces = [f for f in self.analyzer.detect(frame) if f.score >= self.options.min_score]
        if self.options.target_face == "reference" and self._background is not None:
            for face in faces:  # off the live thread, so every face can be described
                self.analyzer.embed(frame, face)
        return faces

    def process(self, frame: np.ndarray, t: float) -> tuple[np.ndarray, FrameStats]:
        """Swap faces in an RGB uint8 frame [H,W,3] taken at ``t`` seconds; returns (new frame, stats)."""
        clock = time.perf_counter()
        cut = self.scene_cut(frame)
        if cut:
            self.tracker.reset()
            self._cut_index = self._frame_index
        if self._background is not None:
            tracks, detect = self._track_live(frame, t, cut)
            clock = self._lap("landmarks", clock)
        elif cut or self._frame_index % max(1, self.detect_every) == 0 or not self.tracker.live():
            detect = True
            faces = self._detect(frame)
            if self.options.target_face == "reference":
                self._embed_new(frame, faces)
            tracks = self.tracker.update_detections(faces, t)
            clock = self._lap("detect", clock)
        else:
            detect = False
            tracks = self._refit_tracks(frame, t)
            clock = self._lap("landmarks", clock)
        self._frame_index += 1
        out = frame.copy()
        swapped = 0
        results = self.swapper.swap_many(out, [track.smoothed for track in self._select(tracks)])
        clock = self._lap("swap", clock)
        for result in results:
            if result is not None:
                paste(out, result, self.options.blend, device=self.options.device)
                swapped += 1
        clock = self._lap("blend", clock)
        self.faces_swapped += swapped
        out = self.watermarker.embed(out)  # every frame, with or without faces: the whole output is synthetic
        self._lap("watermark", clock)
        return out, FrameStats(detected=detect, faces=len(tracks), swapped=swapped, scene_cut=cut)

    def _refit_tracks(self, frame: np.ndarray, t: float) -> list[Track]:
        tracks = self.tracker.live()
        for track in tracks:
            face = self.analyzer.landmarks(frame, track.refit_box(), track.face.score)
            self.tracker.update_landmarks(track, face, t)
        return tracks

    def _track_live(self, frame: np.ndarray, t: float, cut: bool) -> tuple[list[Track], bool]:
        """Background detection: take a finished detection (its faces re-fitted on this frame) or re-fit the
        tracks, then hand this frame to the detector when a detection is due and it is idle."""
        assert self._background is not None
        result = self._background.poll()
        detected = result is not None and result[1] >= self._cut_index  # a detection from before a cut is stale
        if detected:
            assert result is not None
            faces = []
            for found in result[0]:
                face = self.analyzer.landmarks(frame, found.bbox, found.score)
                face.embedding = found.embedding
                faces.append(face)
            tracks = self.tracker.update_detections(faces, t)
        else:
            tracks = self._refit_tracks(frame, t)
        due = cut or not tracks or self._frame_index - self._last_submit >= max(1, self.detect_every)
        if due and self._background.submit(frame, self._frame_index):
            self._last_submit = self._frame_index
        return tracks, detected

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _embed_new(self, frame: np.ndarray, faces: list[Face]) -> None:
        """Descriptors for the faces reference mode must check: those that do not clearly continue one known track.
        A face overlapping no track is new; one overlapping several tracks, or a track another face also
        overlaps, is ambiguous (faces crossing) and the descriptors decide the match. ~90 ms a face with dlib, so
        a face that plainly continues its track is not described again."""
        known = [tr for tr in self.tracker.tracks if tr.embedding is not None]
        threshold = self.tracker.iou_threshold
        overlaps = [[tr for tr in known if box_iou(tr.face.bbox, f.bbox) >= threshold] for f in faces]
        for j, face in enumerate(faces):
            shared = any(
                tr in overlaps[k] for k in range(len(faces)) if k != j for tr in overlaps[j]
            )  # one of its tracks is contested by another face
            if len(overlaps[j]) != 1 or shared:
                self.analyzer.embed(frame, face)

    def _select(self, tracks: list[Track]) -> list[Track]:
        mode = self.options.target_face
        if mode == "all" or not tracks:
            return tracks
        if mode == "largest":
            return [max(tracks, key=lambda tr: tr.face.size)]
        ref = self.options.reference_embedding
        return [
            tr
            for tr in tracks
            if tr.embedding is not None and self.analyzer.distance(tr.embedding, ref) < self.options.similarity
        ]
