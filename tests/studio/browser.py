"""Driving the studio in a real browser: Debian's headless Chromium through its chromedriver (installed by
``.ci/run``; nothing is downloaded at run time), with a few waits and actions that know Gradio's markup."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    browser = next((p for p in CHROMIUM if os.path.exists(p)), None) or shutil.which("chromium")
    driver = next((p for p in DRIVER if os.path.exists(p)), None) or shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def start_browser(downloads: Path) -> webdriver.Chrome:
    """Headless Chromium at 1400x1800 that saves downloads in ``downloads``."""
    found = find_browser()
    assert found is not None, (
        "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1800", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def wait_for(condition: Callable[[], object], timeout: float, what: str, poll: float = 0.2) -> object:
    """Poll ``condition`` until it returns something truthy (returned); AssertionError naming ``what`` after
    ``timeout`` seconds. Exceptions of a page still re-rendering count as "not yet"."""
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < end:
        try:
            value = condition()
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as exc:
            last = exc
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last: {last})" if last else ""))


def element(driver: webdriver.Chrome, elem_id: str) -> WebElement:
    """The element with Gradio ``elem_id``."""
    return driver.find_element(By.ID, elem_id)


def text_of(driver: webdriver.Chrome, elem_id: str) -> str:
    """The visible text of the element with ``elem_id`` ("" while it is not there)."""
    found = driver.find_elements(By.ID, elem_id)
    return found[0].text if found else ""


def upload(driver: webdriver.Chrome, elem_id: str, *paths: Path) -> None:
    """Give files to the upload component ``elem_id`` (its hidden file input), as a user picking them would; files
    it holds already are cleared first (its "Clear" button)."""
    box = element(driver, elem_id)
    for clear in box.find_elements(By.CSS_SELECTOR, "button[aria-label='Clear']"):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", clear)
        clear.click()
    field = wait_for(lambda: box.find_elements(By.CSS_SELECTOR, "input[type=file]"), 10, f"#{elem_id}'s file input")
    field = field[0]  # type: ignore[index]
    field.send_keys("\n".join(str(p) for p in paths))


def click(driver: webdriver.Chrome, elem_id: str) -> None:
    """Click the button with ``elem_id`` (the element itself is the button in Gradio)."""
    target = element(driver, elem_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", target)
    target.click()


def choose(driver: webdriver.Chrome, elem_id: str, label: str) -> None:
    """Pick the option labelled ``label`` of the radio group ``elem_id``."""
    for option in element(driver, elem_id).find_elements(By.CSS_SELECTOR, "label"):
        if option.text.strip() == label:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", option)
            option.click()
            return
    raise AssertionError(f"no option {label!r} in #{elem_id}")


def settle(driver: webdriver.Chrome, timeout: float = 60) -> None:
    """Wait until no Gradio event is still processing (its "processing" overlays are gone)."""
    wait_for(lambda: "processing |" not in driver.find_element(By.TAG_NAME, "body").text, timeout, "the page to settle")


def screenshot(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """Save the whole page as ``folder/name.png``, once no event is processing."""
    settle(driver)
    folder.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, max(1000, min(int(height) + 40, 4000)))
    driver.execute_script("window.scrollTo(0, 0);")
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
