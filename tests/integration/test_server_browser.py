"""The web UI in headless Chromium (Debian's chromium + chromedriver, no downloads):
profiles -> run -> job detail -> history -> job, and compare; charts drawn, no console
errors (CSP violations included), user text shown as text."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import replace

import pytest
import requests

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
XSS_TITLE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromium-driver are not installed (apt-get install)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="fioloadgen-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, css, timeout=30.0):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def charts_drawn(driver, minimum):
    from selenium.webdriver.support.ui import WebDriverWait

    def drawn(d):
        count = d.execute_script(
            "return [...document.querySelectorAll('canvas[data-chart-ready]')]"
            ".filter(c => window.Chart.getChart(c) && c.width > 0).length"
        )
        return count >= minimum and count

    return WebDriverWait(driver, 20).until(drawn)


def stable_port() -> int:
    import random
    import socket

    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_click_through_profiles_run_job_history_compare(start_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    live = start_server(executor=True)
    browser.get(live.url + "/#/profiles")
    wait_for(browser, "#run-form")
    token = browser.find_element(By.ID, "token")
    token.send_keys(live.token)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", token)
    Select(browser.find_element(By.ID, "run-profile")).select_by_value("randread-4k")
    browser.find_element(By.CSS_SELECTOR, "#profiles button.view").click()
    wait_for(browser, "#profile-text")
    time.sleep(0.3)
    assert "[" in browser.find_element(By.ID, "profile-text").text
    title = browser.find_element(By.ID, "run-title")
    title.send_keys(XSS_TITLE)
    browser.find_element(By.ID, "run-submit").click()

    # Job detail: refreshes itself until the run is there, then draws its charts.
    wait_for(browser, "#per-worker", timeout=60)
    assert browser.find_element(By.TAG_NAME, "h1").text == XSS_TITLE
    assert browser.title != "pwned"
    assert charts_drawn(browser, 3) >= 3
    assert "complete" in browser.find_element(By.ID, "job-summary").text

    browser.find_element(By.ID, "history-link").click()
    wait_for(browser, "#key-points")
    assert charts_drawn(browser, 1) >= 1
    browser.find_element(By.CSS_SELECTOR, "a.key-point-link").click()
    wait_for(browser, "#per-worker")

    # A second run of the same case, then compare the two from the jobs table.
    second = requests.post(
        live.url + "/api/v1/jobs",
        json={"profile": "randread-4k", "workers": 1, "title": "second"},
        headers=live.auth,
        timeout=10,
    ).json()["data"]["id"]
    deadline = time.time() + 60
    while (
        requests.get(f"{live.url}/api/v1/jobs/{second}", timeout=10).json()["data"]["status"]
        != "complete"
    ):
        assert time.time() < deadline
        time.sleep(0.5)
    browser.get(live.url + "/#/jobs")
    wait_for(browser, "#jobs input.pick")
    for box in browser.find_elements(By.CSS_SELECTOR, "#jobs input.pick"):
        box.click()
    browser.find_element(By.ID, "compare-selected").click()
    wait_for(browser, "#compare")
    assert charts_drawn(browser, 2) >= 2
    assert XSS_TITLE in browser.find_element(By.ID, "compare").text
    assert console_errors(browser) == []


def test_masthead_survives_a_server_restart(tmp_path, browser):
    from fioloadgen_server.wsgi import serving_in_thread
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.conftest import server_config

    # A port below the ephemeral range: otherwise, once the first server is gone, any
    # outgoing connection on this busy machine may take it as its local port.
    config = replace(server_config(tmp_path), port=stable_port())
    with serving_in_thread(config) as server:
        port = server.port
        browser.get(f"http://127.0.0.1:{port}/#/jobs")
        WebDriverWait(browser, 10).until(
            lambda d: "idle" in d.find_element(By.ID, "server-status").text
        )
    WebDriverWait(browser, 10).until(
        lambda d: "unreachable" in d.find_element(By.ID, "server-status").text
    )
    from pytest_fioloadgen.exceptions import ConfigError

    # The browser's keep-alive connections can hold the old port for a moment.
    deadline = time.time() + 20
    while True:
        try:
            restarted = serving_in_thread(replace(config, port=port))
            restarted.__enter__()
            break
        except ConfigError:
            assert time.time() < deadline
            time.sleep(0.5)
    try:
        WebDriverWait(browser, 10).until(
            lambda d: "idle" in d.find_element(By.ID, "server-status").text
        )
    finally:
        restarted.__exit__(None, None, None)
    # Failed polls while the server was down are network errors the page handled.
    severe = [e for e in console_errors(browser) if "Failed to load resource" not in e["message"]]
    assert [e for e in severe if "ERR_CONNECTION_REFUSED" not in e["message"]] == []
