"""One run, one verdict, in every view.

A scripted session gives four runs four statuses — pass, a threshold fail, a regression,
an inconclusive comparison — and each status is read back from what each view renders:
the terminal summary, the --fio-json export, the pytest-html report's DOM, the static
site's run page DOM, the results server's UI DOM, the API's JSON and the CLI's output.
Then a crawl of the UI over that store (plugin runs and a server job) finds no dead link.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest
import requests

from conftest import console_errors
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store

pytestmark = pytest.mark.slow

# Rate-limited: IOPS is steady (about 400), so seeded baselines decide the comparison.
STEADY = """[global]
ioengine=psync
size=4m
runtime=1
time_based
rate_iops=400
[steady]
rw=randread
bs=4k
"""
TESTS = """
import pytest

def test_pass(fio_case, fio_run):
    fio_run(fio_case)

@pytest.mark.fio(thresholds={"iops": {"min": 1e12}})
def test_fail(fio_case, fio_run):
    fio_run(fio_case)

def test_regression(fio_case, fio_run):
    fio_run(fio_case)

def test_inconclusive(fio_case, fio_run):
    fio_run(fio_case)
"""
LIMITS = '[gating]\nmetrics = ["iops"]\n[defaults]\niops = 1\n'
EXPECTED = {
    "test_pass": "pass",
    "test_fail": "fail",
    "test_regression": "regression",
    "test_inconclusive": "inconclusive",
}


def seed(store, test_name, values):
    """Replace the test's first run by baseline runs with these IOPS figures."""
    real = next(
        r
        for r in store.query(with_raw=True)
        if r.test_id.endswith(f"::{test_name}" + "[steady-w1-local]")
    )
    store.delete(real.run_id)
    for number, iops in enumerate(values):
        store.record(
            dataclasses.replace(
                real,
                run_id=f"seed-{test_name}-{number}",
                session_id=f"seed-{number}",
                started_at=real.started_at - 1000 + number,
                metrics={**real.metrics, "iops": iops},
            )
        )


def wait_for(driver, css, timeout=20):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def status_shown(driver, run_id, timeout=20):
    """The data-status of the verdict badge of run ``run_id``'s page, read in one step once
    the page shows that run: the UI keeps the previous run's page until the new one is
    drawn (a badge found then is the previous run's), and redraws a page when its status
    poll answers (a badge found earlier would be stale)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "const run = document.getElementById('run');"
            "if (!run || run.dataset.rendered !== arguments[0]) return null;"
            "const badge = run.querySelector('#verdict .fio-verdict');"
            "return badge ? badge.getAttribute('data-status') : null;",
            run_id,
        )
    )


@pytest.fixture
def session(pytester):
    pytester.makeini("[pytest]\n")
    (pytester.mkdir("profiles") / "steady.fio").write_text(STEADY)
    pytester.makefile(".toml", limits=LIMITS)
    pytester.makepyfile(test_truth=TESTS)
    args = ["-p", "no:cacheprovider", "--fio-profiles-dir", "profiles", "--fio-store", "h.db"]
    args += ["--fio-thresholds", "limits.toml", "--fio-confirm", "0"]
    pytester.runpytest(*args)
    store = open_store(str(pytester.path / "h.db"))
    try:
        seed(store, "test_regression", [500.0, 501.0, 499.0, 500.5])  # now 20% slower
        seed(store, "test_inconclusive", [150.0, 700.0, 250.0, 800.0])  # too noisy to tell
    finally:
        store.close()
    result = pytester.runpytest(*args, "--fio-json", "out.json", "--html", "report.html")
    document = json.loads((pytester.path / "out.json").read_text())
    run_ids = {run["test"].rsplit("::", 1)[1]: run["run_id"] for run in document["runs"]}
    return pytester, result, document, run_ids


def test_every_view_shows_the_same_status_for_each_run(session, browser, start_server, tmp_path):
    from selenium.webdriver.common.by import By

    pytester, result, document, run_ids = session
    assert set(run_ids) == set(EXPECTED)

    # 1. The terminal's summary table.
    terminal = {}
    for line in result.outlines:
        cells = line.split()
        if cells and cells[0] in EXPECTED and "steady-w1-local" in line:
            terminal[cells[0]] = cells[-1]
    assert terminal == EXPECTED

    # 2. The --fio-json export.
    exported = {
        run["test"].rsplit("::", 1)[1]: run["verdict"]["status"] for run in document["runs"]
    }
    assert exported == EXPECTED

    # 3. The pytest-html report, as Chromium renders it.
    browser.get((pytester.path / "report.html").as_uri())
    wait_for(browser, "td.col-fioverdict")
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody.results-table-row")
    html = {}
    for row in rows:
        name = row.find_element(By.CSS_SELECTOR, "td.col-testId").text
        test = name.split("::")[-1].split("[")[0]
        badge = row.find_element(By.CSS_SELECTOR, "td.col-fioverdict span.fio-verdict")
        html[test] = badge.get_attribute("data-status")
    assert html == EXPECTED

    # 4. The static site's run page.
    store = open_store(str(pytester.path / "h.db"))
    try:
        build_site(store, tmp_path / "site")
    finally:
        store.close()
    site = {}
    for test, run_id in run_ids.items():
        browser.get(f"{(tmp_path / 'site' / 'run.html').as_uri()}#{run_id}")
        site[test] = status_shown(browser, run_id)
    assert site == EXPECTED

    # 5.-7. The results server on the same store: UI, API, CLI.
    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(tmp_path / "server"), store_uri=str(pytester.path / "h.db")
    )
    live = start_server(config=config)
    ui, api, cli = {}, {}, {}
    for test, run_id in run_ids.items():
        browser.get(f"{live.url}/#/job/{run_id}")
        ui[test] = status_shown(browser, run_id)
        answer = requests.get(f"{live.url}/api/v1/jobs/{run_id}", timeout=10).json()["data"]
        api[test] = answer["verdict"]
        assert answer["run"]["run"]["verdict"] == answer["verdict"]
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest_fioloadgen.cli",
                "job",
                "show",
                run_id,
                "--url",
                live.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        cli[test] = next(
            line.split(":", 1)[1].strip()
            for line in shown.splitlines()
            if line.startswith("verdict")
        )
    assert ui == EXPECTED
    assert api == EXPECTED
    assert cli == EXPECTED
    assert console_errors(browser) == []
    crawl_without_dead_links(pytester, browser, start_server, tmp_path)


def crawl_without_dead_links(pytester, browser, start_server, tmp_path):
    """The UI over the same store plus a server job: every link leads somewhere."""

    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(tmp_path / "server-with-jobs", executor=True),
        store_uri=str(pytester.path / "h.db"),
    )
    live = start_server(config=config)
    job = requests.post(
        f"{live.url}/api/v1/jobs",
        json={"profile": "randread-4k", "workers": 1, "title": "a server job"},
        headers=live.auth,
        timeout=10,
    ).json()["data"]["id"]
    deadline = time.time() + 90
    while requests.get(f"{live.url}/api/v1/jobs/{job}", timeout=10).json()["data"]["status"] in (
        "queued",
        "running",
    ):
        assert time.time() < deadline
        time.sleep(0.3)
    listed = requests.get(f"{live.url}/api/v1/jobs", timeout=10).json()
    exported = requests.get(f"{live.url}/api/v1/export", timeout=30).json()["runs"]
    assert listed["total"] == len(exported)  # the list and the export agree
    assert {"queue", "recorded"} <= {entry["source"] for entry in listed["data"]}

    seen: set[str] = set()
    pending = ["#/jobs"]
    while pending and len(seen) < 80:
        link = pending.pop(0)
        if link in seen:
            continue
        seen.add(link)
        browser.get(f"{live.url}/{link}")
        wait_for(browser, "#view > *")
        time.sleep(0.2)
        # Read in one step: the UI may redraw the view (its status poll) between two reads.
        page = browser.execute_script(
            "const view = document.getElementById('view');"
            "return {text: view.innerText,"
            " error: document.querySelector('#view .error, #run-error') !== null,"
            " links: Array.from(document.querySelectorAll(\"a[href^='#/']\"),"
            " a => a.getAttribute('href'))};"
        )
        assert not page["error"], (link, page["text"][:200])
        assert "no job" not in page["text"] and "cannot load" not in page["text"], (
            link,
            page["text"][:200],
        )
        for href in page["links"]:
            if href.startswith("#/") and href not in seen:
                pending.append(href)
    assert len(seen) >= 10
    assert any(link.startswith("#/job/") for link in seen)
    assert any(link.startswith("#/history/") for link in seen)
    assert console_errors(browser) == []
