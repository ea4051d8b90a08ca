"""The Live tab: the swap on a camera (or a video played as one) out to the virtual camera, a window or a file,
with the source chosen on the Swap tab; Start/Stop, and the session's status line (fps, latency, drops) once a
second. One live session per app (a camera serves one reader); no camera or no virtual camera is a clear
message, not a crash. The session is :func:`realtime.live.launch.open_live`, as ``realtime.webcam`` runs it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from realtime.cli import user_message
from realtime.errors import UserError
from realtime.live.launch import open_live
from realtime.live.session import LiveSession, SessionReport
from realtime.options import parse_pipeline_options
from realtime.studio.context import StudioContext
from realtime.studio.form import SwapChoices, pipeline_argv
from realtime.studio.workspace import Session

__all__ = ["LiveRunner", "build_live_tab"]

LIVE_SINKS = ("virtualcam", "window", "file")


@dataclass
class LiveRunner:
    """The app's one live session and the thread that runs it."""

    session: LiveSession | None = None
    thread: threading.Thread | None = None
    report: SessionReport | None = None
    error: str | None = None
    output: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, owner: Session, camera: str, input_file: Path | None, sink: str) -> None:
        """Open and start a live session with ``owner``'s sources and default options; UserError (nothing left
        open) when the camera, the virtual camera or the source is missing, or one is already running."""
        with self.lock:
            if self.running:
                raise UserError("a live session is already running: stop it first")
            args = parse_pipeline_options(pipeline_argv(owner, SwapChoices()))
            self.output = owner.next_output(".mp4") if sink == "file" else None
            live = open_live(args, sink, camera=camera.strip() or "0", input_file=input_file, output=self.output,
                             status=None)  # fmt: skip
            self.session, self.report, self.error = live, None, None
            self.thread = threading.Thread(target=self._run, name="studio-live", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        assert self.session is not None
        try:
            self.report = self.session.run()
        except UserError as err:
            self.error = user_message(err)
        except Exception as err:  # the live loop's bug: shown, the app keeps serving
            self.error = f"internal error: {type(err).__name__}: {err}"

    def stop(self) -> None:
        """Stop the running session (its recording is finished) and wait for it."""
        if self.session is not None:
            self.session.stop()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def status(self) -> str:
        """The status line while running, then how the session ended."""
        if self.running and self.session is not None:
            return f"Live: {self.session.status_text()}"
        if self.error:
            return f"⚠️ {self.error}"
        if self.report is not None:
            kept = f"; written to {self.output.name}" if self.output is not None else ""
            return f"Ended: {self.report.line()}{kept}"
        return "Not running."


def build_live_tab(ctx: StudioContext, runner: LiveRunner) -> None:
    """Add the Live tab to the Blocks being built."""
    gr.Markdown(
        "Uses the source face chosen on the Swap tab. On Linux the virtual camera is v4l2loopback "
        "(`sudo modprobe v4l2loopback devices=1 exclusive_caps=1`); elsewhere OBS's virtual camera."
    )
    with gr.Row():
        camera = gr.Textbox("0", label="Camera (index or device path)", elem_id="live-camera")
        played = gr.File(label="…or a video played as the camera", elem_id="live-input")
        sink = gr.Radio(list(LIVE_SINKS), value="virtualcam", label="Output", elem_id="live-sink")
    with gr.Row():
        start = gr.Button("Start", variant="primary", elem_id="live-start")
        stop = gr.Button("Stop", elem_id="live-stop")
    status = gr.Markdown("Not running.", elem_id="live-status")
    recording = gr.DownloadButton("Download the recording", visible=False, elem_id="live-download")

    def finished() -> tuple[str, dict[str, object]]:
        kept = runner.output is not None and runner.output.is_file()
        return runner.status(), gr.update(value=str(runner.output) if kept else None, visible=kept)

    def on_start(cam: str, video: str | None, where: str, request: gr.Request) -> Iterator[tuple[str, object]]:
        _, session = ctx.session(request)
        try:
            played_path = session.take_upload(video, "live", ctx.max_upload_bytes) if video else None
            runner.start(session, cam, played_path, where)
        except UserError as err:
            yield f"⚠️ {user_message(err)}", gr.update(visible=False)
            return
        while runner.running:
            yield runner.status(), gr.update(visible=False)
            time.sleep(1.0)
        yield finished()

    def on_stop() -> tuple[str, dict[str, object]]:
        runner.stop()
        return finished()

    start.click(on_start, [camera, played, sink], [status, recording], concurrency_limit=None)
    stop.click(on_stop, None, [status, recording], concurrency_limit=None)
