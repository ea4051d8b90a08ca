"""The per-frame face-swap pipeline: detect or track, smooth, swap, paste back, watermark.

One :class:`FaceSwapPipeline` processes a stream of frames (video, camera or a single image). A detection strategy
(:mod:`realtime.faces.detection`) decides when full detection runs and how its faces join the tracking: offline,
:class:`~realtime.faces.detection.InlineDetection` detects every N frames, after a scene cut, or when no face is
being tracked, and re-fits the 68 landmarks inside each track's predicted box in between (a small fraction of
detection's cost: ``bench/pipeline.py``); live sessions pass a background strategy instead. The landmarks are
smoothed by each track's One-Euro filter.

Where the frame lives: analysis always reads the host frame. With a swapper that swaps on a device (the neural one
on a GPU), the frame is uploaded once, swapped, masked, enhanced, pasted and watermarked there, and downloaded once
for the encoder (``resident``); the mask models read their crops from the host frame (which is there anyway) and
only box-sized maps go up, and the enhancer's crops cross to onnxruntime and back. Otherwise the frame stays on the
host, and a model or Poisson solve on ``device`` gets its crops or boxes uploaded and downloaded, a call at a
time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
import torch

from realtime.blend import paste, paste_all_on_device
from realtime.faces.detection import DetectionStrategy, InlineDetection, TrackedFaces
from realtime.faces.identity import UNKNOWN, IdentityDecider
from realtime.faces.tracker import SceneCutDetector, Track, Tracker
from realtime.faces.types import FaceAnalyzer
from realtime.processors.chain import FaceChain, default_masks
from realtime.swappers.base import ResidentSwapper, Swapper, SwapTarget
from realtime.watermark import Watermarker

__all__ = ["TARGET_MODES", "FaceSwapPipeline", "FramePlan", "FrameStats", "PipelineOptions"]

TARGET_MODES = ("all", "largest", "reference")


@dataclass
class PipelineOptions:
    """How targets are chosen, how often to detect, how much to smooth and how to blend.

    ``smoothing`` is the One-Euro strength: the still-face cutoff is 1/smoothing Hz (0 disables smoothing).
    ``similarity`` is the descriptor distance under which a face counts as the ``reference`` person, or as one of
    the ``people`` of a map.

    A people map (``people``, with ``target_face`` "all"): per mapped person, its reference descriptors (float
    [K,D]); a face decided to be person p (:class:`~realtime.faces.identity.IdentityDecider`) gets the swapper's
    source p, a face of nobody mapped gets source ``unmapped_source``, or is left as it is when that is None.
    """

    target_face: str = "all"
    reference_embedding: np.ndarray | None = None
    similarity: float = 0.6
    people: list[np.ndarray] | None = None
    unmapped_source: int | None = None
    confirm: int = 2  # descriptors running that decide who a face is when none is clear-cut (a single image: 1)
    smoothing: float = 1.0
    blend: str = "feather"  # realtime.blend's mode (the CLIs pick the swapper's best with --blend auto)
    device: str = "cpu"  # where the blend runs, and the frame when it stays on a device (``resident``)
    # Keep each frame on ``device`` from swap to watermark: True requires it (an error names what prevents it),
    # False never, None when the device is not the CPU and the swapper swaps there.
    resident: bool | None = None
    # Detections scoring below this are not tracked or swapped. For dlib's HOG, faces in video score ~0.4-2.5 and
    # the detector's recurring false hits (a badge, a pattern) ~0.1, so video uses 0.3; a single image keeps every
    # detection the analyzer returns (0.0), since it has no other frames to find a face in.
    min_score: float = 0.3
    watermark_id: int = 0  # 32-bit id carried by the invisible mark every output frame gets (realtime.watermark)


@dataclass
class FrameStats:
    """What happened in one frame."""

    detected: bool
    faces: int
    swapped: int
    scene_cut: bool


@dataclass
class FramePlan:
    """What analysing a frame decided (:meth:`FaceSwapPipeline.analyse`): the faces to swap, each with its source,
    whether full detection ran, how many faces are tracked, and whether the frame cut to a new scene."""

    targets: list[SwapTarget]
    detected: bool
    faces: int
    scene_cut: bool


class FaceSwapPipeline:
    """Swap the source identity into every selected face of each frame (in place on a copy).

    Args:
        analyzer: a face-analysis backend (``detect``, ``landmarks``, ``embed``, ``distance``).
        swapper: a :class:`~realtime.swappers.base.Swapper` with its source already set (``swap_many`` gets all
            faces of a frame at once, so neural swappers batch them).
        options: :class:`PipelineOptions`.
        detection: when full detection runs (default: :class:`~realtime.faces.detection.InlineDetection` every 5
            frames); a background strategy needs :meth:`close` after use.
        processors: masks and enhancer between swap and paste (default: the swapper's default masks,
            :data:`~realtime.processors.chain.DEFAULT_MASKS`, no enhancer).
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        swapper: Swapper,
        options: PipelineOptions | None = None,
        detection: DetectionStrategy | None = None,
        processors: FaceChain | None = None,
    ) -> None:
        self.analyzer, self.swapper = analyzer, swapper
        self.processors = processors or FaceChain(masks=default_masks(swapper.name))
        self.options = options or PipelineOptions()
        if self.options.target_face not in TARGET_MODES:
            raise ValueError(f"target_face must be one of {TARGET_MODES}")
        if self.options.target_face == "reference" and self.options.reference_embedding is None:
            raise ValueError("target_face='reference' needs a reference_embedding")
        if self.options.people is not None and self.options.target_face != "all":
            raise ValueError("a people map chooses the faces itself: target_face must be 'all'")
        self.identities = (
            None
            if self.options.people is None
            else IdentityDecider(
                self.options.people, analyzer.distance, self.options.similarity, confirm=self.options.confirm
            )
        )
        cutoff = 0.0 if self.options.smoothing <= 0 else 1.0 / self.options.smoothing
        threshold = analyzer.same_person_distance
        self.tracker = Tracker(
            min_cutoff=cutoff, beta=0.5, same_person=lambda a, b: analyzer.distance(a, b) < threshold
        )
        self.faces = TrackedFaces(
            analyzer,
            self.tracker,
            self.options.min_score,
            describe=self.options.target_face == "reference" or self.identities is not None,
            wants=None if self.identities is None else self.identities.wants,
        )
        self.detection = detection or InlineDetection()
        self.scene_cut = SceneCutDetector()
        self._frame_index = 0
        self.stage_seconds: dict[str, float] = defaultdict(float)  # cumulative time per stage (for bench/)
        self.faces_swapped = 0  # cumulative over all frames
        self.watermarker = Watermarker(self.options.watermark_id)
        self.resident, self._host_reason = self._where_frames_live()

    def _where_frames_live(self) -> tuple[bool, str]:
        """Whether frames stay on ``options.device`` (see :attr:`PipelineOptions.resident`), and if not, why."""
        wanted, device = self.options.resident, torch.device(self.options.device)
        held = self.swapper.resident_device
        if wanted is False:
            why = "as asked"
        elif held is None:
            why = f"the {self.swapper.name} swapper works on host frames"
        elif held != device:
            why = f"the swapper runs on {held}, not {device}"
        elif wanted is True or device.type != "cpu":
            return True, ""
        else:
            why = "the device is the CPU"
        if wanted:
            raise ValueError(f"frames cannot stay on {device}: {why}")
        return False, why

    def replica(self, confirm: int | None = None) -> FaceSwapPipeline:
        """A new pipeline with this one's analyzer, swapper, chain and options (``confirm`` replaced when given)
        but no tracking history, detecting inline at this one's interval: a preview of one frame with options
        that took a second to build, rendered as if it were the first frame of a stream."""
        options = self.options if confirm is None else replace(self.options, confirm=confirm)
        return FaceSwapPipeline(
            self.analyzer, self.swapper, options, InlineDetection(self.detection.every), self.processors
        )

    def describe_frames(self) -> str:
        """One line saying where frames live between decode and encode."""
        if self.resident:
            steps = {"swapped": True, "masked": self.processors.masking, "enhanced": self.processors.enhancing}
            device, done = self.options.device, ", ".join(step for step, on in steps.items() if on)
            return f"frames: uploaded to {device} once, {done}, pasted and watermarked there, downloaded once"
        return f"frames: on the host ({self._host_reason})"

    def close(self) -> None:
        """Release the detection strategy (a background thread); the pipeline cannot process frames afterwards."""
        self.detection.close()

    def process(self, frame: np.ndarray, t: float) -> tuple[np.ndarray, FrameStats]:
        """Swap faces in an RGB uint8 frame [H,W,3] taken at ``t`` seconds; returns (new frame, stats):
        :meth:`render` of :meth:`analyse`."""
        return self.render(frame, self.analyse(frame, t))

    def analyse(self, frame: np.ndarray, t: float) -> FramePlan:
        """The first half of :meth:`process`, on the host: scene cut, detection or tracking, smoothing, who each face
        is, and which faces to swap. Frames must be analysed in order; the plan's :meth:`render` may run on another
        thread, behind (the halves share nothing but :attr:`stage_seconds`, each its own stages), which a video job
        does when frames stay on a device, so the next frame's analysis overlaps this one's device work."""
        clock = time.perf_counter()
        cut = self.scene_cut(frame)
        if cut:
            self.tracker.reset()
        tracks, detect, stage = self.detection.step(self.faces, frame, t, self._frame_index, cut)
        self._lap(stage, clock)
        self._frame_index += 1
        if self.identities is not None and detect:
            for track in tracks:  # a face of this detection carries a descriptor when one was taken for it
                if track.face.embedding is not None:
                    self.identities.observe(track.track_id, track.face.embedding)
            self.identities.new_round(tr.track_id for tr in self.tracker.tracks)
        return FramePlan(self._targets(tracks), detected=detect, faces=len(tracks), scene_cut=cut)

    def render(self, frame: np.ndarray, plan: FramePlan) -> tuple[np.ndarray, FrameStats]:
        """The second half of :meth:`process`: swap the plan's faces into a copy of the frame, paste and watermark
        it (on the device when frames stay there); frames must be rendered in the order they were analysed."""
        clock = time.perf_counter()
        targets = plan.targets
        if self.processors.masking:  # read from the host frame on both paths (it is there anyway)
            targets = self.processors.prepare(frame, targets)
            clock = self._lap("masks", clock)
        swap = self._swap_on_device if self.resident else self._swap_on_host
        out, swapped = swap(frame, targets, clock)
        self.faces_swapped += swapped
        return out, FrameStats(detected=plan.detected, faces=plan.faces, swapped=swapped, scene_cut=plan.scene_cut)

    def _swap_on_host(self, frame: np.ndarray, targets: list[SwapTarget], clock: float) -> tuple[np.ndarray, int]:
        """Swap, chain, paste and watermark on a host copy of the frame (the targets carry their masks' keep maps):
        (marked frame, faces pasted)."""
        out = frame.copy()
        results = self.swapper.swap_many(out, targets)
        clock = self._lap("swap", clock)
        if not self.processors.idle:
            results = self.processors.process(frame, targets, results)
            clock = self._lap("enhance", clock)
        pasted = 0
        for result in results:
            if result is not None:
                paste(out, result, self.options.blend, device=self.options.device)
                pasted += 1
        clock = self._lap("blend", clock)
        out = self.watermarker.embed(out)  # every frame, with or without faces: the whole output is synthetic
        self._lap("watermark", clock)
        return out, pasted

    def _swap_on_device(self, frame: np.ndarray, targets: list[SwapTarget], clock: float) -> tuple[np.ndarray, int]:
        """:meth:`_swap_on_host` with the frame uploaded to the device once and downloaded once (the keep maps go
        up, box-sized). The stage times are host times: without a synchronisation between stages, GPU work can be
        counted in a later stage (the download waits for all of it)."""
        swapper: ResidentSwapper = self.swapper  # type: ignore[assignment]  # resident_device checked at init
        on_device = torch.from_numpy(frame).to(self.options.device, copy=True)
        results = swapper.swap_on_device(on_device, targets)
        clock = self._lap("swap", clock)
        if not self.processors.idle:
            results = self.processors.process_on_device(on_device, targets, results)  # before it is pasted on
            clock = self._lap("enhance", clock)
        pasted = paste_all_on_device(on_device, results, self.options.blend)  # the solves of all faces at once
        clock = self._lap("blend", clock)
        self.watermarker.embed_on_device(on_device)
        out = on_device.cpu().numpy()
        self._lap("watermark", clock)
        return out, pasted

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stage_seconds[stage] += now - since
        return now

    def _targets(self, tracks: list[Track]) -> list[SwapTarget]:
        """The faces to swap this frame and the source each one gets."""
        if self.identities is None:
            return [SwapTarget(track.smoothed, track.track_id) for track in self._select(tracks)]
        targets = []
        for track in tracks:
            person = self.identities.person(track.track_id)
            source = self.options.unmapped_source if person == UNKNOWN else person
            if source is not None:  # undecided, or nobody mapped and kept: left as it is
                targets.append(SwapTarget(track.smoothed, track.track_id, source=source))
        return targets

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
