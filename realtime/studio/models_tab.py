"""The Models tab: ``python -m realtime.models list`` as a table, Install (download with progress, hash-checked)
and Import (a file you already have), through the same :class:`~realtime.models.store.ModelStore`."""

from __future__ import annotations

import gradio as gr

from realtime.errors import UserError
from realtime.models.download import DownloadFailed
from realtime.models.store import ModelStore
from realtime.studio.context import StudioContext

__all__ = ["build_models_tab", "model_rows"]

COLUMNS = ["name", "kind", "size (MB)", "licence", "installed", "where / how to get it"]


def model_rows(store: ModelStore) -> list[list[str]]:
    """One row per known model: name, kind, size, licence, installed or not, and its path or fetch command."""
    rows = []
    for entry in store.entries():
        path = store.find(entry)
        size = path.stat().st_size if path is not None else entry.size
        rows.append([entry.name, entry.kind, f"{size / 1e6:.1f}" if size else "?", entry.licence,
                     "yes" if path is not None else "no",
                     str(path) if path is not None else f"python -m realtime.models fetch {entry.name}"])  # fmt: skip
    return rows


def install(store: ModelStore, name: str, progress: gr.Progress, retries: int = 2) -> str:
    """Fetch model ``name`` into the store (progress in bytes; ``retries`` further attempts after a failure); a
    line saying what happened."""
    entry = store.entry(name)
    found = store.find(entry)
    if found is not None:
        return f"{name} is already installed at {found}"

    def step(done: int, total: int | None) -> None:
        progress((done, total) if total else None, desc=f"downloading {name}", unit="bytes")

    try:
        path = store.fetch(entry, progress=step, retries=retries)
    except DownloadFailed as err:
        state = "offline or unreachable" if err.offline else "download failed"
        return (f"⚠️ {name}: {state}: {err}; get {entry.file} some other way and import it below "
                f"(or: python -m realtime.models import FILE --name {name})")  # fmt: skip
    return f"{name}: installed at {path} ({entry.licence})"


def build_models_tab(ctx: StudioContext) -> None:
    """Add the Models tab to the Blocks being built."""
    store = ctx.store
    gr.Markdown(f"Models live in `{store.root}`. Several are licensed for non-commercial research only.")
    table = gr.Dataframe(model_rows(store), headers=COLUMNS, interactive=False, elem_id="models")
    with gr.Row():
        name = gr.Dropdown([e.name for e in store.entries()], label="Model", elem_id="model-name")
        fetch = gr.Button("Install", elem_id="install")
    with gr.Row():
        upload = gr.File(label="Import a model file you have", elem_id="model-file")
        upload_name = gr.Textbox(label="Its name (blank: found by its hash or file name)", elem_id="model-import-name")
        bring = gr.Button("Import", elem_id="import")
    status = gr.Markdown(elem_id="models-status")

    def on_fetch(chosen: str | None, progress: gr.Progress = gr.Progress()):  # type: ignore[no-untyped-def]  # noqa: B008
        if not chosen:
            return "⚠️ choose a model first", gr.skip()
        try:
            line = install(store, chosen, progress)
        except UserError as err:
            line = f"⚠️ {err}"
        return line, model_rows(store)

    def on_import(file: str | None, given: str, request: gr.Request):  # type: ignore[no-untyped-def]
        if not file:
            return "⚠️ upload a model file first", gr.skip()
        _, session = ctx.session(request)
        try:
            copy = session.take_upload(file, "models", ctx.max_upload_bytes)  # a safe name, inside the session
            entry, path, warning = store.import_file(copy, given.strip() or None, None)
            copy.unlink(missing_ok=True)
        except UserError as err:
            return f"⚠️ {err}", gr.skip()
        return f"{entry.name}: installed at {path}" + (f" ({warning})" if warning else ""), model_rows(store)

    fetch.click(on_fetch, [name], [status, table])
    bring.click(on_import, [upload, upload_name], [status, table])
