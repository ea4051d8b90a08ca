"""What every tab of one app shares: the sessions' workspace, the job queue, the model store and the upload
limit. One is made per app (no module-level state) and handed to each tab's builder."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from realtime.models.store import ModelStore
from realtime.studio.jobqueue import JobQueue
from realtime.studio.workspace import Session, Workspace

__all__ = ["StudioContext"]


@dataclass
class StudioContext:
    """The app's shared services; ``max_upload_bytes`` bounds every upload."""

    workspace: Workspace
    jobs: JobQueue
    store: ModelStore
    max_upload_bytes: int

    def session(self, request: gr.Request | None) -> tuple[str, Session]:
        """(session key, Session) of the browser session that sent ``request``."""
        key = (request.session_hash if request is not None else None) or "anonymous"
        return key, self.workspace.session(key)
