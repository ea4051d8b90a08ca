"""What the Swap tab does, without Gradio: take sources and a target into a session, find the target's people,
keep the people map, render a before/after preview of one frame, and run the whole file as a queued job. Each
function raises UserErrors whose one-line message the tab shows; :mod:`swap_tab` only lays out and wires."""

from __future__ import annotations

import argparse
import html
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import InputError
from realtime.faces.types import FaceAnalyzer
from realtime.io.images import IMAGE_SUFFIXES, read_image
from realtime.io.video import VIDEO_SUFFIXES, probe, read_frame
from realtime.jobs import EncodeSettings, find_people, swap_image, swap_video
from realtime.models.store import ModelStore
from realtime.options import make_analyzer, make_pipeline, make_signer, parse_pipeline_options
from realtime.provenance.signing import SIGNABLE
from realtime.source import load_source
from realtime.studio.form import SwapChoices, pipeline_argv
from realtime.studio.jobqueue import Job, JobQueue
from realtime.studio.workspace import Session
from realtime.verify import Report, verify_file

__all__ = [
    "PREVIEW_WIDTH",
    "SwapResult",
    "add_sources",
    "analyzer_for",
    "clear_target",
    "find_target_people",
    "preview",
    "progress_html",
    "queue_html",
    "set_target",
    "submit_swap",
]

PREVIEW_WIDTH = 640  # each side of the before/after preview, pixels


@dataclass(frozen=True)
class SwapResult:
    """A finished swap job: the output file and what ``realtime.verify`` reads from it."""

    output: Path
    report: Report
    notes: tuple[str, ...]


def analyzer_for(session: Session, store: ModelStore) -> FaceAnalyzer:
    """The session's face analyzer (the CLIs' default: an insightface pack when one is found, else dlib), made
    once and kept: previews and source checks reuse it. Jobs make their own (they run on another thread)."""
    analyzer = session.cache.get("analyzer")
    if analyzer is None:
        analyzer = make_analyzer(argparse.Namespace(detector="auto", models_dir=None), "cpu", store)
        session.cache["analyzer"] = analyzer
    return analyzer


def add_sources(session: Session, uploads: list[str], store: ModelStore, max_bytes: int) -> list[str]:
    """Replace the session's sources with ``uploads`` (images or videos, each one person unless
    ``session.one_person``); each must show a face. Returns their names; InputError naming the first bad one
    (the sources are then left empty)."""
    for old in session.sources:
        old.unlink(missing_ok=True)
    session.sources, session.mapping, session.unmapped = [], {}, None
    session.cache.pop("preview", None)  # a new file may reuse an old name: the key would not change
    if not uploads:
        return []
    taken = [session.take_upload(u, "sources", max_bytes) for u in uploads]
    analyzer = analyzer_for(session, store)
    for path in taken:
        if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            _remove(taken)
            raise InputError(f"{path.name}: a source must be an image or a video")
        try:
            load_source(path, analyzer, max_faces=4)
        except InputError:
            _remove(taken)
            raise InputError(f"no face found in the source {path.name}: choose a picture that shows one") from None
    session.sources = taken
    return [p.name for p in taken]


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def clear_target(session: Session) -> None:
    """Forget the target, its people and the map (their files too)."""
    if session.target is not None:
        session.target.unlink(missing_ok=True)
    session.target, session.people, session.mapping, session.unmapped = None, None, {}, None
    session.cache.pop("preview", None)


def set_target(session: Session, upload: str, max_bytes: int) -> int:
    """Take the target (a video or an image) into the session; returns its frame count (1 for an image).
    InputError (and no target) when it is neither or cannot be read."""
    clear_target(session)
    path = session.take_upload(upload, "target", max_bytes)
    suffix = path.suffix.lower()
    try:
        if suffix in IMAGE_SUFFIXES:
            read_image(path)
            frames = 1
        elif suffix in VIDEO_SUFFIXES:
            frames = max(1, probe(path).frames)
        else:
            raise InputError(f"{path.name} is not a video or an image this app reads")
    except InputError:
        path.unlink(missing_ok=True)
        raise
    session.target = path
    return frames


def find_target_people(
    session: Session, store: ModelStore, on_frame: Callable[[int, int | None, int], None] | None = None
) -> list[tuple[Path, str]]:
    """Find the target's people (``realtime.people``'s job) into ``session.people_dir``; returns (crop, caption)
    per person, most screen time first."""
    if session.target is None:
        raise InputError("upload a target first")
    session.people_dir.mkdir(parents=True, exist_ok=True)
    found = find_people(analyzer_for(session, store), session.target, session.people_dir, on_frame=on_frame)
    session.people, session.mapping = found, {}
    session.cache.pop("preview", None)  # people.json changed under the same path
    return [(session.people_dir / p.crop, f"person {p.id} · {p.screen_time:.1f} s") for p in found.people]


def _target_frame(session: Session, index: int) -> np.ndarray:
    assert session.target is not None
    if session.target.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(session.target)
    return read_frame(session.target, index).image


def _labelled(image: np.ndarray, label: str) -> np.ndarray:
    h, w = image.shape[:2]
    small = cv2.resize(image, (PREVIEW_WIDTH, max(1, round(h * PREVIEW_WIDTH / w))), interpolation=cv2.INTER_AREA)
    cv2.putText(small, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(small, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
    return small


def preview(session: Session, choices: SwapChoices, index: int, store: ModelStore) -> tuple[np.ndarray, str]:
    """Frame ``index`` of the target before and after the swap, side by side (RGB uint8, PREVIEW_WIDTH a side),
    and a line saying what happened. The pipeline is built once per set of options and replayed from a clean
    tracking state for every frame, so moving the slider costs one frame's work."""
    if session.target is None:
        raise InputError("upload a target first")
    argv = pipeline_argv(session, choices)
    key = " ".join(argv)
    cached = session.cache.get("preview")
    if cached is None or cached[0] != key:
        session.cache.pop("preview", None)
        args = parse_pipeline_options(argv)
        pipeline = make_pipeline(args, single_image=True, store=store, analyzer=analyzer_for(session, store))
        cached = session.cache["preview"] = (key, pipeline)
    frame = _target_frame(session, index)
    out, stats = cached[1].replica(confirm=1).process(frame, 0.0)
    side = np.concatenate([_labelled(frame, "before"), _labelled(out, "after")], axis=1)
    return side, f"frame {index}: {stats.faces} face(s) found, {stats.swapped} swapped"


def submit_swap(session: Session, owner: str, choices: SwapChoices, jobs: JobQueue, store: ModelStore) -> Job:
    """Queue the whole target's swap with the options of ``choices``; the options are checked here, so a usage
    problem is reported before anything is queued. The job's result is a :class:`SwapResult`."""
    if session.target is None:
        raise InputError("upload a target first")
    argv = pipeline_argv(session, choices)
    parse_pipeline_options(argv)
    target = session.target
    image = target.suffix.lower() in IMAGE_SUFFIXES

    def work(job: Job) -> SwapResult:
        args = parse_pipeline_options(argv)
        signer = make_signer(args)
        pipeline = make_pipeline(args, job.note, single_image=image, store=store)
        suffix = target.suffix.lower()  # a format Content Credentials cannot go into is written as MP4 or PNG
        output = session.next_output(suffix if suffix in SIGNABLE else ".png" if image else ".mp4")
        if image:
            swap_image(pipeline, target, output, signer)
            job.advance(1, 1)
        else:
            swap_video(pipeline, target, output, EncodeSettings(),
                       on_frame=lambda done, total, _: job.advance(done, total), signer=signer)  # fmt: skip
        inside = f"{session.folder}{os.sep}"  # the session's folder means nothing to the user: names only
        notes = tuple(line.replace(inside, "") for line in job.notes)
        return SwapResult(output, verify_file(output), notes)

    return jobs.submit(owner, f"swap {target.name}", work)


def progress_html(job: Job | None) -> str:
    """A progress bar and a line for ``job``: frames done of total, frames per second, time left; or its end."""
    if job is None:
        return "<p>No job yet.</p>"
    total = job.total or 0
    bar = f'<progress value="{job.done}" max="{max(total, 1)}"></progress>'
    if job.state == "queued":
        return f"<p>{bar} queued: waiting for the job before it</p>"
    if job.state == "running":
        eta = f"{job.eta:.0f} s left" if job.eta is not None else "time left unknown"
        of = f"/{total}" if total else ""
        return f"<p>{bar} frames {job.done}{of} · {job.fps:.1f} fps · {eta}</p>"
    if job.state == "done":
        return f'<p><progress value="1" max="1"></progress> done: {job.done} frames, {job.fps:.1f} fps</p>'
    if job.state == "cancelled":
        return "<p>cancelled: no output was kept</p>"
    return f'<p class="error">failed: {html.escape(job.error or "")}</p>'


def queue_html(jobs: JobQueue, owner: str) -> str:
    """The app's queue: the running job and the waiting ones, this session's marked."""
    waiting = jobs.waiting()
    if not waiting:
        return "<p>Queue: empty</p>"
    rows = "".join(
        f"<li>{html.escape(j.state)}: {html.escape(j.label)}{' (yours)' if j.owner == owner else ''}</li>"
        for j in waiting
    )
    return f"<p>Queue:</p><ol>{rows}</ol>"
