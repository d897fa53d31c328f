"""A two-worker run over time, one worker frozen from outside for 2 s (its whole process
tree, through the cgroup freezer, as an operator would): the run is unstable with a
straggler and a stall named at the right time, and its timeline is drawn in the three
views. In the static site and the results server's UI, Chromium reads the charts' series
from the page and they are the stored timeline's; the report's SVG charts carry them too.
Screenshots of each view are test artifacts."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid

import pytest

from conftest import console_errors, save_screenshot
from pytest_fioloadgen.backends.cgroups import Freeze, freezer_controller
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.fio.timeline import timeline_of
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.report.html import outcome_html, page_styles
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.report.timeline_view import timeline_view
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.status import Status
from pytest_fioloadgen.verdicts.thresholds import Thresholds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or freezer_controller() is None,
        reason="needs root and the cgroup freezer (the project's CI has both)",
    ),
]

PROFILE = """# steady reads over time
[global]
ioengine=psync
direct=1
size=16m
time_based
runtime=9
ramp_time=1
rate_iops=500
[steady]
rw=randread
bs=4k
"""
FREEZE_AFTER_START_S = 3.5  # since worker 2's job started: 1 s ramp, then 2.5 s measured
FREEZE_FOR_S = 2.0
# fio's server forks a process per client connection, and that one a process per job.
JOB_PROCESSES = 2

# The datasets of a Chart.js chart, from the page: label, series tag and points.
DATASETS = """
const chart = Chart.getChart(document.getElementById(arguments[0]));
if (!chart) return null;
return {type: chart.scales.y.type, sets: chart.data.datasets.map(d => ({
  label: d.label, series: d.fioSeries, hidden: !!d.hidden,
  points: d.data.map(p => [p.x, p.y])}))};
"""


@pytest.fixture(scope="module")
def frozen_run(tmp_path_factory):
    """One real two-worker session with worker 2 frozen from outside mid-run."""
    base = tmp_path_factory.mktemp("timeline")
    target = base / "target"
    target.mkdir()
    backend = LocalBackend([LocalTarget("local", target)], session_id=uuid.uuid4().hex)
    store = open_store(str(base / "history.db"))
    session = BenchmarkSession(
        backend=backend, targets=["local"], max_workers=2, store=store,
        thresholds=Thresholds.empty(), timeline=True,
    )  # fmt: skip
    case = Case(parse_profile(PROFILE, name="steady"), workers=2, target="local", test="t")
    frozen: dict[str, float] = {}

    env = session.environment()
    worker = env.workers["local"][1]

    def freeze_worker_two() -> None:
        # Timed from the job's own start, not the client's: under load the start-up of a
        # worker takes seconds, and a freeze before its job ran would stall nothing measured.
        idle = len(backend.worker_pids(worker))
        deadline = time.monotonic() + 60
        while len(backend.worker_pids(worker)) < idle + JOB_PROCESSES:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        time.sleep(FREEZE_AFTER_START_S)
        freeze = Freeze(freezer_controller())
        freeze.freeze(backend.worker_pids(worker))
        frozen["from"] = time.time()
        time.sleep(FREEZE_FOR_S)
        freeze.thaw()
        frozen["to"] = time.time()

    thread = threading.Thread(target=freeze_worker_two)
    try:
        # The layout round first, so that the job processes the thread waits for are the run's.
        session.layout.ensure(env, case, session.prepare(case), backend.resolve(env, "local", 2))
        thread.start()
        outcome = session.run(case, test_id="t")
    finally:
        thread.join()
        session.close()
    yield base, store, outcome, frozen
    store.close()


def test_a_frozen_worker_makes_the_run_unstable_with_a_straggler_and_a_stall(frozen_run):
    _base, _store, outcome, frozen = frozen_run
    assert outcome.status is Status.UNSTABLE
    findings = outcome.record.evidence["timeline"]["findings"]
    codes = {finding["code"] for finding in findings}
    assert {"TL002", "TL004"} <= codes, findings
    timeline = timeline_of(outcome.record.raw)
    client_start = timeline.document["client_start_ms"] / 1000.0
    start, end = frozen["from"] - client_start, frozen["to"] - client_start
    straggler = next(f for f in findings if f["code"] == "TL002")
    stall = next(f for f in findings if f["code"] == "TL004" and f["worker"])
    for finding in (straggler, stall):
        # Named at the right time, to an interval (0.25 s) and a little scheduling slack.
        assert finding["span_s"][0] == pytest.approx(start, abs=0.6), (finding, start)
        assert finding["span_s"][1] == pytest.approx(end, abs=0.6), (finding, end)
        assert finding["worker"] == sorted(timeline.workers)[1] or "local-w1" in finding["message"]
    assert "local-w1" in straggler["message"]
    assert outcome.record.metrics["stall_s"] >= 1.5
    assert "TL002 straggler" in outcome.verdict.reason


def chart_series(browser, canvas_id):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return !!document.getElementById(arguments[0])", canvas_id)
    )
    return browser.execute_script(DATASETS, canvas_id)


def assert_page_draws_the_stored_timeline(browser, record):
    view = timeline_view(timeline_of(record.raw), record.evidence)
    iops = chart_series(browser, "chart-timeline-iops")
    merged = {s["series"]: s for s in iops["sets"]}
    points = merged["read:iops"]["points"]
    assert [p[0] for p in points] == view["times_s"]
    assert [p[1] for p in points] == view["directions"]["read"]["iops"]
    # Every worker's line is there, hidden until asked for.
    workers = [s for s in iops["sets"] if s["series"].startswith("worker:")]
    assert len(workers) == 2 and all(s["hidden"] for s in workers)
    latency = chart_series(browser, "chart-timeline-lat-read")
    assert latency["type"] == "logarithmic"
    p99 = next(s for s in latency["sets"] if s["series"] == "read:p99")
    assert [p[1] for p in p99["points"]] == view["directions"]["read"]["p99"]
    marks = browser.find_elements("css selector", "#timeline-marks li")
    kinds = {mark.get_attribute("data-kind") for mark in marks}
    assert {"straggler", "stall"} <= kinds, kinds
    # Per-worker lines on demand.
    browser.find_element("css selector", "#timeline-per-worker").click()
    shown = chart_series(browser, "chart-timeline-iops")
    assert not any(s["hidden"] for s in shown["sets"] if s["series"].startswith("worker:"))


def timeline_screenshot(browser, tmp_path, name):
    """The page scrolled to its timeline section, then a screenshot."""
    browser.execute_script("document.getElementById('timeline').scrollIntoView()")
    save_screenshot(browser, tmp_path, name)


def test_the_timeline_in_the_site_the_ui_and_the_report(
    frozen_run, browser, start_server, tmp_path
):
    from selenium.webdriver.support.ui import WebDriverWait

    base, store, outcome, _frozen = frozen_run
    record = store.get(outcome.record.run_id)
    site = tmp_path / "site"
    build_site(store, site)
    browser.get((site / "run.html").as_uri() + "#" + record.run_id)
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('run').dataset.rendered")
    )
    assert_page_draws_the_stored_timeline(browser, record)
    assert console_errors(browser) == []
    timeline_screenshot(browser, tmp_path, "site-run-timeline.png")

    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(tmp_path / "server"), store_uri=str(base / "history.db")
    )
    live = start_server(config=config)
    browser.get(f"{live.url}/#/job/{record.run_id}")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const r = document.getElementById('run'); return r && r.dataset.rendered"
        )
    )
    assert_page_draws_the_stored_timeline(browser, record)
    assert console_errors(browser) == []
    timeline_screenshot(browser, tmp_path, "ui-run-timeline.png")

    # The pytest-html report's fragment: the SVG timeline with its marks, in Chromium.
    fragment = outcome_html(outcome)
    assert "IOPS over time (all workers)" in fragment
    assert "latency percentiles over time (log axis)" in fragment
    page = tmp_path / "report.html"
    page.write_text(f"<html><head>{page_styles()}</head><body>{fragment}</body></html>")
    browser.get(page.as_uri())
    titles = browser.execute_script(
        "return [...document.querySelectorAll('svg.fioloadgen-chart .plot_title')]"
        ".map(t => t.textContent)"
    )
    assert any("IOPS over time" in title for title in titles), titles
    legends = browser.execute_script(
        "return [...document.querySelectorAll('svg.fioloadgen-chart .legend text')]"
        ".map(t => t.textContent)"
    )
    assert "straggler" in legends and "stall" in legends, legends
    save_screenshot(browser, tmp_path, "report-run-timeline.png")
