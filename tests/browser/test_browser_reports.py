"""report.html (pytest-html with our extras) and the static history site, opened in
headless Chromium: the extras and charts are there, drawn, and the console is clean."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conftest import console_errors, save_screenshot, show_every_run_section
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

QUICK = """# quick {rw}
[global]
ioengine=psync
size=4m
runtime=1
time_based
[job]
rw={rw}
bs=4k
"""

# Sizes of every drawn chart: [width, height, number of marks (paths, rects, circles)].
CHART_BOXES = """
return [...document.querySelectorAll(arguments[0])].map(svg => {
  const box = svg.getBoundingClientRect();
  return [box.width, box.height, svg.querySelectorAll('path, rect, circle').length];
});
"""


def assert_drawn(boxes, at_least):
    assert len(boxes) >= at_least, boxes
    for width, height, marks in boxes:
        assert width > 50 and height > 20 and marks > 3, boxes


@pytest.mark.slow
def test_pytest_html_report_in_chromium(pytester, browser, tmp_path):
    pytester.makeini("[pytest]\n")
    profiles = pytester.mkdir("profiles")
    (profiles / "quick.fio").write_text(QUICK.format(rw="randread"))
    (profiles / "mixed.fio").write_text(QUICK.format(rw="randrw"))
    pytester.makepyfile(
        test_storage="def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
    )
    args = ["--fio-profiles-dir", str(profiles), "--fio-workers", "1,2", "--fio-runtime", "1"]
    args += [
        "--fio-size",
        "4m",
        "--fio-store",
        str(pytester.path / "h.db"),
        "-p",
        "no:cacheprovider",
    ]
    pytester.runpytest(*args).assert_outcomes(passed=4)  # a first session: history for sparklines
    result = pytester.runpytest(*args, "--html", "report.html", "--self-contained-html")
    result.assert_outcomes(passed=4)

    # "?collapsed=" opens every row's extras (pytest-html collapses passed tests).
    browser.get((pytester.path / "report.html").as_uri() + "?collapsed=")
    assert browser.find_elements("css selector", ".fioloadgen-result")
    extras = browser.find_elements("css selector", ".fioloadgen-result")
    assert len(extras) == 4
    headers = [th.text for th in browser.find_elements("css selector", "#results-table th")]
    assert {
        "IOPS",
        "p99 latency (the slower direction)",
        "delta vs baseline",
        "fio verdict",
    } <= set(headers)
    iops_cells = browser.find_elements("css selector", "td.col-fioiops")
    # 3 significant digits and an SI prefix: 12.3k, never 12,345 or 1.2e+04
    assert len(iops_cells) == 4 and all(re.fullmatch(r"\d+(\.\d+)?k?", c.text) for c in iops_cells)
    p99_cells = browser.find_elements("css selector", "td.col-fiop99")
    assert all(re.fullmatch(r"(read|write) [\d.]+ (µs|ms)", c.text) for c in p99_cells), [
        c.text for c in p99_cells
    ]
    # per case: latency percentiles, IOPS per worker, IOPS and latency over time, sparkline
    assert_drawn(browser.execute_script(CHART_BOXES, ".fioloadgen-result svg.fioloadgen-chart"), 20)
    for extra in extras:
        assert len(extra.find_elements("css selector", "svg.fioloadgen-chart")) == 5
        assert extra.find_elements("css selector", "table.fio-summary tr")
        assert extra.find_elements("css selector", "table.fio-workers tr")
    sparklines = browser.find_elements("css selector", ".fio-sparkline")
    assert len(sparklines) == 4 and "2 runs" in sparklines[0].text
    # the session summary: the matrix and the scaling chart with its ideal lines
    matrix = browser.find_element("css selector", ".fioloadgen-summary table.fio-matrix")
    assert "quick" in matrix.text and "2 workers" in matrix.text
    assert_drawn(browser.execute_script(CHART_BOXES, ".fioloadgen-summary svg"), 1)
    # small multiples: a panel per profile on target, measured and ideal, savable as SVG
    panels = [
        svg.get_attribute("innerHTML")
        for svg in browser.find_elements("css selector", ".fioloadgen-summary svg")
    ]
    assert len(panels) == 2  # quick and mixed, each on its own scale
    assert all("on local" in panel and "ideal (linear)" in panel for panel in panels)
    assert browser.find_elements("css selector", ".fioloadgen-summary a.fio-save-svg")
    environment = browser.find_element("id", "environment").text
    assert "fioloadgen fingerprint" in environment and "fio_version" in environment
    # sorting re-renders the table (the extras found above are gone): last
    browser.find_element("css selector", 'th[data-column-type="fioiops"]').click()
    shown = [
        float(c.text.rstrip("k")) * (1000 if c.text.endswith("k") else 1)
        for c in browser.find_elements("css selector", "td.col-fioiops")
    ]
    assert shown in (sorted(shown), sorted(shown, reverse=True))  # numeric order, not text
    assert console_errors(browser) == []
    assert save_screenshot(browser, tmp_path, "pytest-html-report.png").stat().st_size > 10_000

    site = tmp_path / "site"
    store = open_store(str(pytester.path / "h.db"))
    try:
        build_site(store, site)
    finally:
        store.close()
    check_site(browser, site, tmp_path)


# Canvases drawn by Chart.js: [chart id, datasets, width, pixels with ink].
CANVAS_INK = """
return [...document.querySelectorAll(arguments[0])].map(c => {
  const chart = Chart.getChart(c);
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0; for (let i = 3; i < px.length; i += 4) { if (px[i]) ink++; }
  return [c.id, chart ? chart.data.datasets.length : 0, c.width, ink];
});
"""


def assert_canvases_drawn(drawn, at_least):
    assert len(drawn) >= at_least, drawn
    for _id, datasets, width, ink in drawn:
        assert datasets >= 1 and width > 100 and ink > 1000, drawn


def check_site(browser, site: Path, tmp_path: Path, *, timeseries: bool = False) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((site / "index.html").as_uri())
    links = browser.find_elements("css selector", "table.fio-index a")
    assert links
    links[0].click()
    assert_canvases_drawn(browser.execute_script(CANVAS_INK, "canvas"), 1)
    save_screenshot(browser, tmp_path, "site-key.png")
    browser.find_elements("css selector", "table.fio-runs a")[0].click()
    # The one run page renders the run's data file.
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('run').dataset.rendered")
    )
    show_every_run_section(browser)
    charts = browser.execute_script(CANVAS_INK, "canvas.fio-run-chart")
    names = {chart[0] for chart in charts}
    assert {"chart-workers", "chart-latency-read"} <= names, names
    if timeseries:
        assert {"chart-timeseries-iops", "chart-timeseries-lat"} <= names, names
    assert_canvases_drawn(charts, 2)
    workers = browser.find_elements("css selector", "#per-worker table.fio-workers tbody tr")
    assert len(workers) >= 1
    source = browser.page_source
    assert "profile as run" in source and "environment" in source
    assert browser.find_element("css selector", "#key-link").get_attribute("href").endswith(".html")
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "site-run.png")
    # Another run through the same page: its hash names it.
    browser.get((site / "run.html").as_uri() + "#no-such-run")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements("css selector", "#run-error"))
    assert "no data for run no-such-run" in browser.find_element("css selector", "#run-error").text


def test_static_site_in_chromium(browser, tmp_path):
    """The site of a store of golden runs (thresholds, a change point, time series)."""
    import dataclasses

    from test_report_site import run  # the golden records of the site's unit tests

    store = open_store(str(tmp_path / "h.db"))
    series = {
        "interval_ms": 500,
        "workers": {
            worker: {
                "read_iops": [[t * 500, 900.0 + (t * 37 % 11) * 10] for t in range(1, 40)],
                "read_lat_ms": [[t * 500, 0.2 + (t % 5) * 0.01] for t in range(1, 40)],
            }
            for worker in ("127.0.0.2:8765", "127.0.0.3:8765")
        },
    }
    for index in range(5):
        record = run(f"a{index}", "a" * 16, 100.0 + index, iops=1000.0 + 10 * index)
        raw = {**record.raw, "fioloadgen": {"timeseries": series}}
        store.record(dataclasses.replace(record, raw=raw))
    from pytest_fioloadgen.verdicts.thresholds import Thresholds

    limits = tmp_path / "t.toml"
    limits.write_text("[defaults]\niops = 1005\n")
    try:
        build_site(
            store,
            tmp_path / "site",
            thresholds=Thresholds.load(limits),
        )
    finally:
        store.close()
    check_site(browser, tmp_path / "site", tmp_path, timeseries=True)


def test_site_run_page_shows_every_field_of_the_record(browser, tmp_path):
    """Fields the page has no section for (a later record's) are shown, as text."""
    import json

    from pytest_fioloadgen.report.site import copy_assets, run_data_path, run_page

    site = tmp_path / "site"
    copy_assets(site)
    (site / "run.html").write_text(run_page())
    document = {
        "format": 1,
        "key": {"history_key": "k" * 16, "title": "p w1 local/t", "page": "keys/k.html"},
        "run": {
            "run_id": "odd id/ü",
            "session_id": "s",
            "history_key": "k" * 16,
            "started_at": 1.7e9,
            "finished_at": 1.7e9 + 5,
            "status": "complete",
            "metrics": {"iops": 1234.5},
            "labels": {"git_commit": "<b>abc</b>"},
            "fingerprint": {"host": "h"},
            "notes": ["directory= removed"],
            "profile_text": "[job]\nrw=randread\n",
            "verdict": {"status": "regression", "summary": "iops -20%"},
            "comparisons": [{"metric": "iops", "status": "regression", "p_value": 0.001}],
            "minimum_detectable_effect": {"iops": 4.2},
        },
        "derived": {"per_worker": [], "latency": {}, "timeseries": None},
    }
    path = site / run_data_path("odd id/ü")
    path.parent.mkdir(parents=True)
    path.write_text(f"fioloadgenRun({json.dumps(document)});")
    from urllib.parse import quote

    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((site / "run.html").as_uri() + "#" + quote("odd id/ü", safe=""))
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('run').dataset.rendered")
    )
    show_every_run_section(browser)
    text = browser.find_element("css selector", "#run").text
    assert "run odd id/ü" in text
    assert "iops -20%" in browser.find_element("css selector", "#verdict").text
    assert "0.001" in browser.find_element("css selector", "#comparisons").text
    assert "minimum_detectable_effect" in browser.find_element("css selector", "#other").text
    assert "<b>abc</b>" in browser.find_element("css selector", "#labels").text
    assert "directory= removed" in browser.find_element("css selector", "#notes").text
    assert console_errors(browser) == []
