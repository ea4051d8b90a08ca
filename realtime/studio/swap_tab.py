"""The Swap tab: sources and target, the target's people and who becomes whom, a before/after preview of any
frame, the options, Run with progress and Cancel, the result with its provenance. The work is
:mod:`~realtime.studio.swap_logic`'s; this module lays out the components (with the stable ``elem_id`` s tests
and scripts use: source, target, people, frame, preview, run, cancel, progress, result, provenance) and wires
them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from realtime.errors import UserError
from realtime.io.images import IMAGE_SUFFIXES
from realtime.studio.context import StudioContext
from realtime.studio.form import BLENDS, ENHANCERS, MASKS, SWAPPERS, SwapChoices, model_choices
from realtime.studio.swap_logic import (
    SwapResult,
    add_sources,
    clear_target,
    find_target_people,
    preview,
    progress_html,
    queue_html,
    set_target,
    submit_swap,
)

__all__ = ["build_swap_tab"]

KEEP = "keep as they are"
NO_CHANGE = "keep this person"


def _warn(err: UserError) -> str:
    return f"⚠️ {err}"


def _source_choices(names: list[str], one_person: bool) -> list[str]:
    return names[:1] if one_person else names


def _mapping_text(ctx: StudioContext, request: gr.Request) -> str:
    _, session = ctx.session(request)
    if session.people is None:
        return ""
    if not session.mapping:
        return "Every face gets the first source (map a person to give people different sources)."
    lines = [f"- person {p} → {session.source_argument(s).name}" for p, s in sorted(session.mapping.items())]
    rest = KEEP if session.unmapped is None else f"→ {session.source_argument(session.unmapped).name}"
    return "\n".join([*lines, f"- everyone else: {rest}"])


def build_swap_tab(ctx: StudioContext) -> None:
    """Add the Swap tab to the Blocks being built."""
    with gr.Row():
        with gr.Column():
            source = gr.File(label="Source face(s): images or videos, one person each", file_count="multiple",
                             elem_id="source")  # fmt: skip
            one_person = gr.Checkbox(label="All source files show one person", elem_id="one-person")
            target = gr.File(label="Target: the video or image to change", elem_id="target")
            message = gr.Markdown(elem_id="message")
        with gr.Column():
            people = gr.Gallery(label="People in the target (click one to choose who they become)", columns=4,
                                height=220, allow_preview=False, elem_id="people")  # fmt: skip
            person = gr.Radio(label="Person", choices=[], elem_id="person")
            person_source = gr.Radio(label="Becomes", choices=[NO_CHANGE], elem_id="person-source")
            unmapped = gr.Radio(label="Everyone else", choices=[KEEP], value=KEEP, elem_id="unmapped")
            mapping = gr.Markdown(elem_id="mapping")
    with gr.Row():
        with gr.Column(scale=3):
            frame = gr.Slider(0, 1, value=0, step=1, label="Frame", interactive=False, elem_id="frame")
            shown = gr.Image(label="Before | after", interactive=False, format="png", elem_id="preview")
            shown_info = gr.Markdown(elem_id="preview-info")
        with gr.Column(scale=2):
            models, missing = model_choices(ctx.store)
            swapper = gr.Dropdown(list(SWAPPERS), value="auto", label="Swapper", elem_id="swapper")
            model = gr.Dropdown(models, value=models[0], label="Swapper model (installed)", elem_id="model")
            gr.Markdown(("Not installed: `" + "`, `".join(missing) + "`") if missing else "", elem_id="model-help")
            enhancer = gr.Dropdown(list(ENHANCERS), value="none", label="Enhancer", elem_id="enhancer")
            masks = gr.CheckboxGroup(list(MASKS), label="Masks (none: the swapper's default)", elem_id="masks")
            blend = gr.Radio(list(BLENDS), value="auto", label="Blend", elem_id="blend")
            smoothing = gr.Slider(0, 3, value=1.0, step=0.1, label="Landmark smoothing", elem_id="smoothing")
            detect_every = gr.Slider(1, 30, value=5, step=1, label="Detect every N frames", elem_id="detect-every")
            watermark = gr.Number(0, precision=0, minimum=0, maximum=2**32 - 1, label="Watermark id",
                                  elem_id="watermark-id")  # fmt: skip
    with gr.Row():
        run = gr.Button("Run", variant="primary", elem_id="run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="cancel")
    progress = gr.HTML(progress_html(None), elem_id="progress")
    queue = gr.HTML("<p>Queue: empty</p>", elem_id="queue")
    with gr.Row():
        with gr.Column(elem_id="result"):
            result_video = gr.Video(label="Result", interactive=False, visible=False, elem_id="result-video")
            result_image = gr.Image(label="Result", interactive=False, visible=False, elem_id="result-image")
            download = gr.DownloadButton("Download the result", visible=False, elem_id="download")
        provenance = gr.Markdown(elem_id="provenance")

    options = [swapper, model, enhancer, masks, blend, smoothing, detect_every, watermark]

    def choices_of(sw: str, mo: str, en: str, ma: list[str] | None, bl: str, sm: float, de: float, wm: float | None
                   ) -> SwapChoices:  # fmt: skip
        return SwapChoices(sw, mo, en, tuple(ma or ()), bl, float(sm), int(de), int(wm or 0))

    def on_sources(files: list[str] | None, together: bool, request: gr.Request):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        session.one_person = together
        names: list[str] = []
        text = ""
        try:
            with session.lock:
                names = add_sources(session, list(files or []), ctx.store, ctx.max_upload_bytes)
            if names:
                text = f"Source: {', '.join(names)}" + (" (one person)" if together and len(names) > 1 else "")
        except UserError as err:
            text = _warn(err)
        listed = _source_choices(names, together)
        return (text, gr.update(choices=[NO_CHANGE, *listed], value=None),
                gr.update(choices=[KEEP, *listed], value=KEEP), _mapping_text(ctx, request))  # fmt: skip

    def on_target(file: str | None, request: gr.Request):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        if file is None:
            with session.lock:
                clear_target(session)
            return "", gr.update(maximum=1, value=0, interactive=False), [], gr.update(choices=[], value=None), ""
        try:
            with session.lock:
                frames = set_target(session, file, ctx.max_upload_bytes)
        except UserError as err:
            return (
                _warn(err),
                gr.update(maximum=1, value=0, interactive=False),
                [],
                gr.update(choices=[], value=None),
                "",
            )
        name = session.target.name if session.target else ""
        slider = gr.update(maximum=max(frames - 1, 1), value=0, interactive=frames > 1)
        no_people = gr.update(choices=[], value=None)
        return f"Target: {name} ({frames} frame(s)); finding people…", slider, [], no_people, ""

    def on_people(request: gr.Request, bar: gr.Progress = gr.Progress()):  # type: ignore[no-untyped-def]  # noqa: B008
        _, session = ctx.session(request)
        if session.target is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()

        def step(done: int, total: int | None, faces: int) -> None:
            bar((done, total) if total else None, desc="finding people", unit="frames")

        try:
            with session.lock:
                found = find_target_people(session, ctx.store, step)
        except UserError as err:
            return _warn(err), [], gr.update(choices=[], value=None), ""
        ids = [f"person {p.id}" for p in (session.people.people if session.people else [])]
        text = (
            f"Target: {session.target.name}: {len(found)} people found"
            if found
            else (f"Target: {session.target.name}: no face found (the output would be the input, watermarked)")
        )
        return text, found, gr.update(choices=ids, value=None), _mapping_text(ctx, request)

    def on_gallery(request: gr.Request, evt: gr.SelectData):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        if session.people is None or evt.index is None:
            return gr.skip()
        index = evt.index if isinstance(evt.index, int) else evt.index[0]
        return gr.update(value=f"person {session.people.people[index].id}")

    def on_person(choice: str | None, request: gr.Request):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        if not choice:
            return gr.update(value=None)
        mapped = session.mapping.get(int(choice.split()[-1]))
        return gr.update(value=NO_CHANGE if mapped is None else session.source_argument(mapped).name)

    def on_person_source(choice: str | None, who: str | None, request: gr.Request):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        if not who or choice is None:
            return "⚠️ choose a person first (click them in the gallery)", _mapping_text(ctx, request)
        person_id = int(who.split()[-1])
        if choice == NO_CHANGE:
            session.mapping.pop(person_id, None)
        else:
            session.mapping[person_id] = [p.name for p in session.sources].index(choice)
        return "", _mapping_text(ctx, request)

    def on_unmapped(choice: str, request: gr.Request):  # type: ignore[no-untyped-def]
        _, session = ctx.session(request)
        session.unmapped = None if choice == KEEP else [p.name for p in session.sources].index(choice)
        return _mapping_text(ctx, request)

    def on_preview(index: float, sw: str, mo: str, en: str, ma: list[str] | None, bl: str, sm: float, de: float,
                   wm: float | None, request: gr.Request):  # type: ignore[no-untyped-def]  # fmt: skip
        _, session = ctx.session(request)
        if session.target is None or not session.sources:
            return None, "Preview: upload a source face and a target."
        try:
            with session.lock:
                image, line = preview(session, choices_of(sw, mo, en, ma, bl, sm, de, wm), int(index), ctx.store)
        except UserError as err:
            return None, _warn(err)
        return image, line

    def on_run(sw: str, mo: str, en: str, ma: list[str] | None, bl: str, sm: float, de: float, wm: float | None,
               request: gr.Request) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        key, session = ctx.session(request)
        hidden = gr.update(visible=False)
        try:
            job = submit_swap(session, key, choices_of(sw, mo, en, ma, bl, sm, de, wm), ctx.jobs, ctx.store)
        except UserError as err:
            yield progress_html(None), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), _warn(err)
            return
        session.cache["job"] = job
        yield (progress_html(job), queue_html(ctx.jobs, key), hidden, hidden, hidden, "", "")
        while not ctx.jobs.wait(job, 0.5):
            yield progress_html(job), queue_html(ctx.jobs, key), *[gr.skip()] * 5
        if job.state != "done":
            message = _warn(UserError(job.error)) if job.error else ""
            yield progress_html(job), queue_html(ctx.jobs, key), hidden, hidden, hidden, "", message
            return
        done: SwapResult = job.result
        is_image = done.output.suffix.lower() in IMAGE_SUFFIXES
        video = gr.update(value=None if is_image else str(done.output), visible=not is_image)
        image = gr.update(value=str(done.output) if is_image else None, visible=is_image)
        report = done.report
        verdict = (f"**Marked as synthetic**, watermark id {report.watermark_id}" if report.marked
                   else "**Not marked** (the watermark did not read back)")  # fmt: skip
        signed = f"**Content Credentials**: {report.credentials.describe()}"
        facts = f"{verdict}\n\n{signed}\n\n`{report.line().replace(report.path, done.output.name)}`"
        notes = "\n".join(f"- {n}" for n in done.notes)
        yield (progress_html(job), queue_html(ctx.jobs, key), video, image,
               gr.update(value=str(done.output), visible=True), facts, notes)  # fmt: skip

    def on_cancel(request: gr.Request) -> str:
        key, _ = ctx.session(request)
        ctx.jobs.cancel_owner(key)
        return "Cancelling…"

    def on_tick(request: gr.Request) -> str:
        key, _ = ctx.session(request)
        return queue_html(ctx.jobs, key)

    preview_inputs = [frame, *options]
    preview_outputs = [shown, shown_info]
    render = {"fn": on_preview, "inputs": preview_inputs, "outputs": preview_outputs, "trigger_mode": "always_last"}
    source.change(on_sources, [source, one_person], [message, person_source, unmapped, mapping]).then(**render)
    one_person.input(on_sources, [source, one_person], [message, person_source, unmapped, mapping]).then(**render)
    target.change(on_target, [target], [message, frame, people, person, mapping]).then(
        on_people, None, [message, people, person, mapping]
    ).then(**render)
    people.select(on_gallery, None, [person])
    person.change(on_person, [person], [person_source])
    person_source.input(on_person_source, [person_source, person], [message, mapping]).then(**render)
    unmapped.input(on_unmapped, [unmapped], [mapping]).then(**render)
    frame.input(**render)  # while dragging too: "always_last" renders the newest position once the last one is done
    for option in options:
        option.change(**render)
    outputs = [progress, queue, result_video, result_image, download, provenance, message]
    # "multiple": a Run while one is running is queued behind it, not ignored
    run.click(on_run, options, outputs, concurrency_limit=None, trigger_mode="multiple")
    cancel.click(on_cancel, None, [message], concurrency_limit=None)
    gr.Timer(1.0).tick(on_tick, None, [queue], concurrency_limit=None, show_progress="hidden")
