"""The studio's preview at 720p: how long a user waits for the before/after image after moving the frame slider
or changing an option, on this CPU.

Two measurements, each in this fresh process:
  library   ``swap_logic.preview`` called directly: the first preview (face analysis and pipeline built), frame
            changes (the pipeline reused), option changes (the pipeline rebuilt: blend toggled)
  browser   the same actions in headless Chromium against the served app, from the click or key press to the new
            image shown (upload, HTTP, Gradio's queue, PNG encode, the browser's decode); needs Debian's chromium
            and chromium-driver

The target is a 1280x720 crowd clip (three people) and the source the astronaut; classic swapper (the default).

Examples:
    python bench/studio.py                 # saves bench/results/studio-<date>.json
    python bench/studio.py --no-browser --no-save

Target (issue 18): a preview re-renders in about a second for 720p on this CPU when an option changes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import report

TARGET_S = 1.0


def _library(root: Path, clip: Path, source: Path, repeats: int) -> list[dict[str, object]]:
    from realtime.models.store import ModelStore
    from realtime.studio.form import SwapChoices
    from realtime.studio.swap_logic import add_sources, preview, set_target
    from realtime.studio.workspace import Workspace

    store = ModelStore(root / "home")
    session = Workspace(root / "ws").session("bench")
    add_sources(session, [str(source)], store, 2**31)
    frames = set_target(session, str(clip), 2**31)
    start = time.perf_counter()
    preview(session, SwapChoices(), 0, store)
    first = time.perf_counter() - start
    moves, changes = [], []
    for k in range(repeats):
        start = time.perf_counter()
        preview(session, SwapChoices(), (k * 37 + 11) % frames, store)
        moves.append(time.perf_counter() - start)
        blend = ("poisson", "feather")[k % 2]
        start = time.perf_counter()
        preview(session, SwapChoices(blend=blend), (k * 37 + 11) % frames, store)
        changes.append(time.perf_counter() - start)
    return [
        _row("library", "first preview (pipeline built; analyzer made on upload)", [first]),
        _row("library", "frame slider moved", moves),
        _row("library", "option changed (blend: pipeline rebuilt)", changes),
    ]


def _row(where: str, action: str, seconds: list[float]) -> dict[str, object]:
    median = statistics.median(seconds)
    return {
        "where": where,
        "action": action,
        "n": len(seconds),
        "median_s": median,
        "max_s": max(seconds),
        "target": f"<= ~{TARGET_S:.0f} s: " + ("met" if median <= TARGET_S * 1.2 else "MISSED"),
    }


def _browser(root: Path, clip: Path, source: Path, repeats: int) -> list[dict[str, object]]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from realtime.models.store import ModelStore
    from realtime.studio.app import build_app
    from tests.studio.browser import choose, element, settle, start_browser, text_of, upload, wait_for
    from tests.studio.conftest import free_port

    studio = build_app(4096, root / "sessions", ModelStore(root / "home"))
    url = studio.launch("127.0.0.1", free_port(), 4096)
    driver = start_browser(root / "downloads")
    try:
        driver.get(url)
        wait_for(lambda: driver.find_elements(By.ID, "run"), 60, "the app")
        upload(driver, "source", source)
        wait_for(lambda: "Source:" in text_of(driver, "message"), 60, "the source")
        upload(driver, "target", clip)
        wait_for(lambda: "swapped" in text_of(driver, "preview-info"), 120, "the first preview")
        settle(driver)

        def image_src() -> str:
            found = element(driver, "preview").find_elements(By.CSS_SELECTOR, "img")
            return found[0].get_attribute("src") or "" if found else ""

        def timed(action: object) -> float:
            before = image_src()
            start = time.perf_counter()
            action()  # type: ignore[operator]
            wait_for(lambda: image_src() not in ("", before), 60, "the new preview", poll=0.02)
            return time.perf_counter() - start

        number = element(driver, "frame").find_element(By.CSS_SELECTOR, "input[type=number]")

        def move(index: int) -> None:
            number.send_keys(Keys.CONTROL, "a")
            number.send_keys(str(index), Keys.ENTER)

        moves, changes = [], []
        for k in range(repeats):
            moves.append(timed(lambda k=k: move((k * 37 + 11) % 120)))
            settle(driver)
            changes.append(timed(lambda k=k: choose(driver, "blend", ("poisson", "feather")[k % 2])))
            settle(driver)
    finally:
        driver.quit()
        studio.close()
    return [
        _row("browser", "frame slider moved (typed frame number)", moves),
        _row("browser", "option changed (blend: pipeline rebuilt)", changes),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=6, help="slider moves and option changes each (default 6)")
    parser.add_argument("--no-browser", action="store_true", help="only the library measurement")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    from realtime.io.images import write_image
    from realtime.samples import ClipSpec, face_image, make_clip

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip = make_clip(root / "crowd720.mp4", ClipSpec(width=1280, height=720, seconds=4.0, face="crowd"))
        source = root / "astronaut.jpg"
        write_image(source, face_image("astronaut"))
        rows = _library(root / "lib", clip, source, args.repeats)
        if not args.no_browser:
            rows += _browser(root / "web", clip, source, args.repeats)
    columns = ["where", "action", "n", "median_s", "max_s", "target"]
    return report("studio", rows, columns, save=not args.no_save, cuda_note=None)


if __name__ == "__main__":
    sys.exit(main())
