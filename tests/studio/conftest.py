"""The studio under test: the app served in this process on a free loopback port (its sessions' files in a
known folder, its model store with one small model the loopback server offers), headless Chromium driving it, and
the media the tests upload."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from realtime.io.images import write_image
from realtime.models.store import Manifest, ModelEntry, ModelStore
from realtime.samples import ClipSpec, face_image, make_clip
from tests.loopback import closed_port, loopback_server  # noqa: F401  (closed_port: a fixture)
from tests.studio.browser import find_browser

TINY_MODEL = b"realtime studio test model\n" * 4000  # ~100 kB: the Models tab's download


@dataclass
class Media:
    """Files a user would upload."""

    source: Path  # the astronaut's face: someone none of the crowd is
    crowd: Path  # 640x360, 2 s, three people
    no_face: Path  # a grey picture
    text: Path  # a text file
    big: Path  # over the test app's upload limit


@pytest.fixture(scope="session")
def studio_media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("studio_media")
    source = root / "astronaut.jpg"
    write_image(source, face_image("astronaut"))
    crowd = make_clip(root / "crowd.mp4", ClipSpec(width=640, height=360, seconds=2.0, face="crowd"))
    no_face = root / "grey.png"
    write_image(no_face, __import__("numpy").full((240, 320, 3), 128, "uint8"))
    text = root / "notes.txt"
    text.write_text("this is not a video\n")
    big = root / "big.mp4"
    big.write_bytes(os.urandom(3 * 2**20))
    return Media(source, crowd, no_face, text, big)


def browser_or_skip() -> None:
    """Skip when Chromium or its driver is missing, except in CI (.ci/run installs them): there it fails."""
    if find_browser() is None:
        if os.environ.get("CI") or os.environ.get("REALTIME_REQUIRE_BROWSER"):
            pytest.fail("chromium and chromium-driver are missing (.ci/run installs them with apt-get)")
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningStudio:
    url: str
    workspace: Path  # the sessions' folders are in here
    store: ModelStore
    shots: Path


@pytest.fixture(scope="module")
def running_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStudio]:
    """The app on a free loopback port, uploads limited to 2 MB, its store offering "tiny_test_model" from a
    loopback server."""
    browser_or_skip()
    from realtime.studio.app import build_app

    root = tmp_path_factory.mktemp("studio")
    with loopback_server({"/tiny.onnx": TINY_MODEL}) as server:
        digest = hashlib.sha256(TINY_MODEL).hexdigest()
        url = f"{server.base}/tiny.onnx"
        entry = ModelEntry("tiny_test_model", "enhancer", "test/tiny.onnx", url, digest, len(TINY_MODEL), "test only",
                           "the test")  # fmt: skip
        store = ModelStore(root / "home", Manifest({entry.name: entry}, ()), root / "insightface")
        studio = build_app(2, root / "sessions", store)
        served = studio.launch("127.0.0.1", free_port(), 2)
        try:
            yield RunningStudio(served, studio.context.workspace.root, store, root / "screenshots")
        finally:
            studio.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the test item, so a fixture can see whether its test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
