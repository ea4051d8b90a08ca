"""The studio in a real browser (headless Chromium): the whole swap as a user does it (upload a source and a clip,
map one person, preview frames, run, download, verify), a second Run queued and Cancel leaving nothing, bad
uploads answered with a message while the app stays usable, the Live tab's messages and a file-sink session, and
the Models tab's install. Each step saves a screenshot in the test's output folder (printed at the end)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.cli import call_main
from tests.studio.browser import choose, click, element, screenshot, start_browser, text_of, upload, wait_for
from tests.studio.conftest import Media, RunningStudio


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def page(running_studio: RunningStudio, downloads: Path) -> Iterator[WebDriver]:
    driver = start_browser(downloads)
    driver.get(running_studio.url)
    wait_for(lambda: driver.find_elements(By.ID, "run"), 60, "the app to load")
    try:
        yield driver
    finally:
        driver.quit()
        print(f"\nstudio screenshots: {running_studio.shots}")


@pytest.fixture(autouse=True)
def screenshot_on_failure(request: pytest.FixtureRequest, running_studio: RunningStudio) -> Iterator[None]:
    """A failed test leaves the page as it was then: FAILED-<test>.png beside the step screenshots."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and "page" in request.fixturenames:
        screenshot(request.getfixturevalue("page"), running_studio.shots, f"FAILED-{request.node.name}")


def _tab(page: WebDriver, name: str) -> None:
    button = page.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{name}']")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def _outputs(studio: RunningStudio) -> list[Path]:
    return sorted(p for p in studio.workspace.glob("*/outputs/*") if p.is_file())


def _load(page: WebDriver, media: Media, studio: RunningStudio) -> None:
    """Source and target uploaded and the target's people found (the state every Swap test starts from), unless
    they are there already."""
    _tab(page, "Swap")
    shown = text_of(page, "source").replace("\n", "") + text_of(page, "target").replace("\n", "")
    if "astronaut.jpg" in shown and "crowd.mp4" in shown:
        return
    upload(page, "source", media.source)
    wait_for(lambda: "Source: astronaut.jpg" in text_of(page, "message"), 60, "the source to be taken")
    upload(page, "target", media.crowd)
    wait_for(lambda: "people found" in text_of(page, "message"), 90, "the target's people")


def _pick(page: WebDriver, elem_id: str, value: str) -> None:
    """Choose ``value`` in the dropdown ``elem_id`` (typed, then Enter, as a keyboard user does)."""
    box = element(page, elem_id).find_element(By.CSS_SELECTOR, "input")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'});", box)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value, Keys.ENTER)


def _set_frame(page: WebDriver, index: int) -> None:
    number = element(page, "frame").find_element(By.CSS_SELECTOR, "input[type=number]")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'});", number)
    number.send_keys(Keys.CONTROL, "a")
    number.send_keys(str(index), Keys.ENTER)


def test_swap_a_clip_from_upload_to_verified_download(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio, downloads: Path
) -> None:
    shots = running_studio.shots
    _load(page, studio_media, running_studio)
    thumbs = element(page, "people").find_elements(By.CSS_SELECTOR, ".thumbnail-item")
    assert len(thumbs) == 3, text_of(page, "message")
    screenshot(page, shots, "1-people")

    thumbs[0].click()  # person 1 becomes the astronaut; the others are kept
    wait_for(lambda: element(page, "person").find_elements(By.CSS_SELECTOR, "input:checked"), 10, "person 1 chosen")
    choose(page, "person-source", "astronaut.jpg")
    wait_for(lambda: "person 1 → astronaut.jpg" in text_of(page, "mapping"), 10, "the map to show person 1")
    wait_for(lambda: "1 swapped" in text_of(page, "preview-info"), 60, "a preview swapping one face")
    assert element(page, "preview").find_elements(By.CSS_SELECTOR, "img"), "no preview image"
    screenshot(page, shots, "2-mapped-preview")

    _set_frame(page, 40)
    wait_for(lambda: "frame 40" in text_of(page, "preview-info"), 30, "the preview of frame 40")
    screenshot(page, shots, "3-frame-40")

    click(page, "run")
    wait_for(lambda: "done" in text_of(page, "progress") or "failed" in text_of(page, "progress"), 180, "the run")
    assert "done: 60 frames" in text_of(page, "progress"), text_of(page, "progress") + text_of(page, "message")
    assert "Marked as synthetic" in text_of(page, "provenance")
    assert element(page, "result").find_elements(By.CSS_SELECTOR, "video"), "no player for the result"
    screenshot(page, shots, "4-result")

    click(page, "download")
    got = wait_for(lambda: sorted(downloads.glob("*.mp4")), 30, "the download")
    verified = call_main("realtime.verify", got[0])  # type: ignore[index]
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_second_run_waits_in_the_queue_and_cancel_keeps_nothing(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio
) -> None:
    _load(page, studio_media, running_studio)
    before = _outputs(running_studio)
    click(page, "run")
    wait_for(lambda: "frames" in text_of(page, "progress"), 60, "the first run to start")
    click(page, "run")

    # one reading of the list shows both: a second reading could come after the 2-second first run has ended
    def first_running_second_queued() -> bool:
        shown = text_of(page, "queue")
        return "running: swap crowd.mp4 (yours)" in shown and "queued: swap crowd.mp4 (yours)" in shown

    wait_for(first_running_second_queued, 30, "the second run queued behind the first")
    screenshot(page, running_studio.shots, "5-queued")
    click(page, "cancel")
    wait_for(lambda: "cancelled" in text_of(page, "progress"), 60, "the cancel")
    wait_for(lambda: "Queue: empty" in text_of(page, "queue"), 30, "the queue to empty")
    screenshot(page, running_studio.shots, "6-cancelled")
    assert _outputs(running_studio) == before  # no partial file, no temporary file


def test_a_failing_job_shows_its_error_and_the_app_keeps_serving(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio
) -> None:
    _load(page, studio_media, running_studio)
    _pick(page, "enhancer", "gfpgan")  # its model is not in this store: the preview says so, and so does a run
    says = "model file not found: gfpgan_1.4"
    wait_for(lambda: says in text_of(page, "preview-info"), 30, "the preview's message")
    click(page, "run")
    wait_for(lambda: "failed:" in text_of(page, "progress"), 60, "the failed run")
    assert says in text_of(page, "progress") and len(text_of(page, "progress").splitlines()) == 1
    screenshot(page, running_studio.shots, "6b-failed-run")
    _pick(page, "enhancer", "none")
    wait_for(lambda: "swapped" in text_of(page, "preview-info"), 30, "a preview after the failure")


def test_bad_uploads_get_a_message_and_the_app_stays_usable(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio
) -> None:
    _tab(page, "Swap")
    upload(page, "target", studio_media.text)
    wait_for(lambda: "notes.txt is not a video or an image" in text_of(page, "message"), 30, "the bad target message")
    screenshot(page, running_studio.shots, "7-text-target")
    upload(page, "source", studio_media.no_face)
    wait_for(lambda: "no face found in the source grey.png" in text_of(page, "message"), 30, "the no-face message")
    screenshot(page, running_studio.shots, "8-no-face-source")
    upload(page, "target", studio_media.big)
    body = lambda: page.find_element(By.TAG_NAME, "body").text  # noqa: E731
    wait_for(lambda: "exceed the maximum allowed size of 2.0 Mb" in body(), 30, "the upload limit message")
    screenshot(page, running_studio.shots, "9-too-big")
    upload(page, "source", studio_media.source)  # still serving: a good file goes through
    wait_for(lambda: "Source: astronaut.jpg" in text_of(page, "message"), 60, "the source after the bad uploads")


def test_live_tab_says_what_is_missing_and_runs_a_file_session(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio
) -> None:
    _tab(page, "Swap")
    if "astronaut.jpg" not in text_of(page, "source").replace("\n", ""):
        upload(page, "source", studio_media.source)  # the live session's source is the Swap tab's
        wait_for(lambda: "Source: astronaut.jpg" in text_of(page, "message"), 60, "the source")
    _tab(page, "Live")
    camera = element(page, "live-camera").find_element(By.CSS_SELECTOR, "input, textarea")
    camera.send_keys(Keys.CONTROL, "a")
    camera.send_keys("/dev/video-none")
    click(page, "live-start")
    wait_for(lambda: "⚠️" in text_of(page, "live-status") and "camera" in text_of(page, "live-status"), 30,
             "the no-camera message")  # fmt: skip
    screenshot(page, running_studio.shots, "10-live-no-camera")
    upload(page, "live-input", studio_media.crowd)
    wait_for(lambda: "crowd" in text_of(page, "live-input"), 30, "the played clip")
    click(page, "live-start")  # virtual camera: none on a machine without v4l2loopback
    wait_for(lambda: "⚠️" in text_of(page, "live-status") and "virtual camera" in text_of(page, "live-status"), 30,
             "the no-virtual-camera message")  # fmt: skip
    screenshot(page, running_studio.shots, "11-live-no-virtual-camera")
    choose(page, "live-sink", "file")
    click(page, "live-start")
    wait_for(lambda: "Ended:" in text_of(page, "live-status"), 60, "the file session to end")
    assert "frames out of" in text_of(page, "live-status")
    assert element(page, "live-download").is_displayed()
    screenshot(page, running_studio.shots, "12-live-ended")


def test_models_tab_lists_installs_and_imports(
    page: WebDriver, studio_media: Media, running_studio: RunningStudio
) -> None:
    _tab(page, "Models")
    wait_for(lambda: "tiny_test_model" in text_of(page, "models"), 30, "the models table")
    _pick(page, "model-name", "tiny_test_model")
    click(page, "install")
    wait_for(lambda: "installed at" in text_of(page, "models-status"), 60, "the install")
    assert running_studio.store.find(running_studio.store.entry("tiny_test_model")) is not None
    wait_for(lambda: "yes" in text_of(page, "models"), 10, "the table to show it installed")
    screenshot(page, running_studio.shots, "13-models")
    upload(page, "model-file", studio_media.text)  # a file the manifest does not know: registered, with a warning
    click(page, "import")
    wait_for(lambda: "notes: installed at" in text_of(page, "models-status"), 30, "the import")
    assert "not in the manifest" in text_of(page, "models-status")
    wait_for(lambda: "notes" in text_of(page, "models"), 10, "the table to list the imported file")


def test_a_closed_session_leaves_no_files(studio_media: Media, running_studio: RunningStudio, downloads: Path) -> None:
    other = start_browser(downloads)
    try:
        other.get(running_studio.url)
        wait_for(lambda: other.find_elements(By.ID, "run"), 60, "the app to load")
        before = {p.name for p in running_studio.workspace.iterdir()}
        upload(other, "source", studio_media.source)
        wait_for(lambda: "Source: astronaut.jpg" in text_of(other, "message"), 60, "the source to be taken")
        mine = {p.name for p in running_studio.workspace.iterdir()} - before
        assert len(mine) == 1, mine
        folder = running_studio.workspace / mine.pop()
        assert any(folder.rglob("astronaut.jpg"))
    finally:
        other.quit()  # the tab closes: the session ends
    wait_for(lambda: not folder.exists(), 60, "the closed session's folder to be deleted")
