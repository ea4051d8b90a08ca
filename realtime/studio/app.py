"""The studio's Blocks: the Swap, Live and Models tabs over one :class:`~realtime.studio.context.StudioContext`.
:func:`build_app` makes everything the app holds (no module-level state) and :class:`Studio` closes it again:
jobs cancelled, the live session stopped, every session's files deleted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from realtime.models.store import ModelStore
from realtime.studio.context import StudioContext
from realtime.studio.jobqueue import JobQueue
from realtime.studio.live_tab import LiveRunner, build_live_tab
from realtime.studio.models_tab import build_models_tab
from realtime.studio.swap_tab import build_swap_tab
from realtime.studio.workspace import Workspace

__all__ = ["THEME_FONTS", "Studio", "build_app"]

# System fonts only: Gradio's default theme loads its fonts from a font service, and nothing may leave the machine.
THEME_FONTS = ["ui-sans-serif", "system-ui", "DejaVu Sans", "sans-serif"]
CSS = """
#progress progress { width: 60%; height: 1.1em; vertical-align: middle; }
.error { color: #b91c1c; }
"""


@dataclass
class Studio:
    """A built app: its ``blocks`` (to launch), ``context`` and live ``runner``."""

    blocks: gr.Blocks
    context: StudioContext
    runner: LiveRunner

    def theme(self) -> gr.themes.Base:
        """The theme to launch with (system fonts)."""
        return gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])

    def launch(self, host: str, port: int, max_upload_mb: float, open_browser: bool = False) -> str:
        """Serve the app on ``host``:``port`` in the background (Gradio's queue, one event of a kind at a time;
        uploads over ``max_upload_mb`` refused; no share link, analytics, monitoring or MCP endpoint); returns its
        URL. OSError when the port is taken."""
        _, url, _ = self.blocks.queue(default_concurrency_limit=1).launch(
            server_name=host, server_port=port, inbrowser=open_browser, share=False, prevent_thread_lock=True,
            quiet=True, max_file_size=f"{max_upload_mb:g}mb", allowed_paths=[str(self.context.workspace.root)],
            theme=self.theme(), css=CSS, ssr_mode=False, mcp_server=False, enable_monitoring=False, footer_links=[],
        )  # fmt: skip
        return str(url)

    def close(self) -> None:
        """Stop serving, the live session and the jobs, and delete every session's files."""
        self.blocks.close()
        self.runner.stop()
        self.context.jobs.close()
        self.context.workspace.close()


def build_app(max_upload_mb: float = 4096, workspace_root: Path | None = None, store: ModelStore | None = None
              ) -> Studio:  # fmt: skip
    """The studio for uploads up to ``max_upload_mb`` MB, sessions' files in a new folder inside ``workspace_root``
    (default: the system's temp folder) and models from ``store`` (default: the user's model store)."""
    context = StudioContext(Workspace(workspace_root), JobQueue(), store or ModelStore(), int(max_upload_mb * 2**20))
    runner = LiveRunner()
    # Gradio's copies of uploads and results older than a day are swept every hour (a long-open tab keeps its own)
    with gr.Blocks(title="realtime studio", analytics_enabled=False, delete_cache=(3600, 86400)) as blocks:
        gr.Markdown("# realtime studio\nEvery output carries an invisible watermark and synthetic-media tags.")
        with gr.Tabs():
            with gr.Tab("Swap", id="swap"):
                build_swap_tab(context)
            with gr.Tab("Live", id="live"):
                build_live_tab(context, runner)
            with gr.Tab("Models", id="models-tab"):
                build_models_tab(context)

        def on_unload(request: gr.Request) -> None:
            key, _ = context.session(request)
            context.jobs.cancel_owner(key)
            context.workspace.end(key)

        blocks.unload(on_unload)
    return Studio(blocks, context, runner)
