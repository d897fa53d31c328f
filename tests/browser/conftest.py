"""Headless Debian Chromium driven by selenium (no browser downloads: the system
chromium and chromedriver, which bootstrap.sh installs for tests)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)


@contextlib.contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """A headless Chromium driven by chromedriver, with its profile in ``profile_dir``."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "chromium and chromedriver are not installed (./bootstrap.sh test installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    """A screenshot as a test artifact: in the test's tmp dir, and in $FIO_ARTIFACTS."""
    path = tmp_path / name
    driver.save_screenshot(str(path))
    artifacts = os.environ.get("FIO_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def save_full_page_screenshot(driver, tmp_path: Path, name: str) -> Path:
    """The whole page at the window's width (not only what the window shows), saved as
    save_screenshot saves: Chromium's DevTools capture beyond the viewport."""
    import base64

    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path = tmp_path / name
    path.write_bytes(base64.b64decode(shot["data"]))
    artifacts = os.environ.get("FIO_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def show_every_run_section(browser) -> None:
    """A run page's tabs all shown at once ("show all sections", run.js): for tests that
    read text or charts across them (hidden panels have no visible text)."""
    button = browser.find_element("css selector", "#run-all-sections")
    if button.get_attribute("aria-pressed") != "true":
        button.click()


def open_run_tab(browser, tab: str) -> None:
    """Select a run page's tab (run.js: timeline, distribution, workers, curve...)."""
    browser.find_element("css selector", f'#run [role=tab][data-tab="{tab}"]').click()
