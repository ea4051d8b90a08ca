"""The Swap tab's work without a browser: the form as pipeline options (the CLIs' checks), sources and targets
refused with a message, a preview of an image target, and the Models tab's install when offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime.errors import InputError, UsageError
from realtime.io.images import write_image
from realtime.io.people import PeopleFile
from realtime.models.store import Manifest, ModelEntry, ModelStore
from realtime.options import parse_pipeline_options
from realtime.samples import face_image
from realtime.studio.form import SwapChoices, pipeline_argv
from realtime.studio.models_tab import install, model_rows
from realtime.studio.swap_logic import add_sources, preview, set_target
from realtime.studio.workspace import Session, Workspace


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Workspace(tmp_path / "ws").session("test")


def _store(tmp_path: Path, url: str | None = None) -> ModelStore:
    entries = [ModelEntry("tiny", "enhancer", "t/tiny.onnx", url, None, None, "test only", "the test")] if url else []
    return ModelStore(tmp_path / "home", Manifest({e.name: e for e in entries}, ()), tmp_path / "insightface")


def test_the_form_is_the_clis_options(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="upload a source face first"):
        pipeline_argv(session, SwapChoices())
    session.sources = [session.folder / "a.jpg", session.folder / "b.jpg"]
    single = parse_pipeline_options(pipeline_argv(session, SwapChoices(masks=("box", "mouth"), watermark_id=7)))
    assert (single.source, single.mask, single.watermark_id, single.map) == (session.sources[0], "box,mouth", 7, [])
    session.people = PeopleFile("clip.mp4", "dlib", [])
    session.mapping, session.unmapped = {2: 1}, 0
    mapped = parse_pipeline_options(pipeline_argv(session, SwapChoices(blend="poisson")))
    assert mapped.source is None and mapped.blend == "poisson"
    assert [(m.target, m.source) for m in mapped.map] == [("2", session.sources[1])]
    assert mapped.unmapped == ["swap-with", str(session.sources[0])]
    session.one_person = True  # every file shows one person: the folder is the source
    assert parse_pipeline_options(pipeline_argv(session, SwapChoices())).map[0].source == session.folder
    with pytest.raises(UsageError, match="--smoothing must be >= 0"):
        parse_pipeline_options(pipeline_argv(session, SwapChoices(smoothing=-1)))


def test_bad_sources_and_targets_are_refused_with_a_message(session: Session, tmp_path: Path) -> None:
    grey, text = tmp_path / "grey.png", tmp_path / "notes.txt"
    write_image(grey, np.full((200, 200, 3), 128, np.uint8))
    text.write_text("hello")
    store = _store(tmp_path)
    with pytest.raises(InputError, match=r"no face found in the source grey\.png"):
        add_sources(session, [str(grey)], store, 2**30)
    assert session.sources == [] and not any((session.folder / "sources").iterdir())
    with pytest.raises(InputError, match=r"notes\.txt is not a video or an image"):
        set_target(session, str(text), 2**30)
    fake_video = tmp_path / "fake.mp4"
    fake_video.write_text("not really a video")
    with pytest.raises(InputError, match=r"fake\.mp4"):
        set_target(session, str(fake_video), 2**30)
    assert session.target is None and not any((session.folder / "target").iterdir())


def test_preview_of_an_image_target(session: Session, tmp_path: Path) -> None:
    source, target = tmp_path / "astronaut.jpg", tmp_path / "person.png"
    write_image(source, face_image("astronaut"))
    photo = face_image("person")
    write_image(target, photo)
    store = _store(tmp_path)
    assert add_sources(session, [str(source)], store, 2**30) == ["astronaut.jpg"]
    assert set_target(session, str(target), 2**30) == 1
    side, line = preview(session, SwapChoices(), 0, store)
    assert line == "frame 0: 1 face(s) found, 1 swapped"
    half = side.shape[1] // 2
    assert side.shape == (round(photo.shape[0] * half / photo.shape[1]), 2 * half, 3)
    before, after = side[:, :half].astype(int), side[:, half:].astype(int)
    assert np.abs(before - after).mean() > 2  # the face changed
    again, _ = preview(session, SwapChoices(), 0, store)  # the cached pipeline, replayed from a clean state
    assert np.array_equal(again, side)
    other = tmp_path / "other" / "astronaut.jpg"  # another face under the same name: no stale pipeline
    other.parent.mkdir()
    write_image(other, face_image("group")[:, : face_image("group").shape[1] // 2])
    add_sources(session, [str(other)], store, 2**30)
    changed, _ = preview(session, SwapChoices(), 0, store)
    assert not np.array_equal(changed, side)


def test_models_tab_rows_and_an_offline_install(tmp_path: Path, closed_port: int) -> None:
    store = _store(tmp_path, f"http://127.0.0.1:{closed_port}/tiny.onnx")
    assert model_rows(store) == [["tiny", "enhancer", "?", "test only", "no", "python -m realtime.models fetch tiny"]]
    line = install(store, "tiny", lambda *args, **kwargs: None, retries=0)  # type: ignore[arg-type]
    assert line.startswith("⚠️ tiny: offline or unreachable:")
    assert "import it below" in line
    assert store.find(store.entry("tiny")) is None
