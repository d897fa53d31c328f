"""The percentile distribution plot (HdrHistogram style) in Chromium: on the static site's
and the UI's run pages, with the baseline band the distribution gate held the run to, and
overlaid on both compare pages; the axes' types and every point read from the page
against the stored spectra."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from conftest import console_errors, open_run_tab, save_screenshot
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.fio.spectrum import SPECTRUM, run_spectrum
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.distribution import DistributionPolicy, compare_spectrum

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
KEY = "d" * 16
ODDS = {name: 1 / (1 - percentile / 100) for name, percentile in SPECTRUM}

# Each dataset of a Chart.js chart: its tag and points, and the axes' types.
DATASETS = """
const chart = Chart.getChart(document.getElementById(arguments[0]));
if (!chart) return null;
return {x: chart.scales.x.type, y: chart.scales.y.type,
        xticks: chart.scales.x.ticks.map(t => t.label),
        sets: chart.data.datasets.map(d => ({tag: d.fioSpectrum, points: d.data.map(p => [p.x, p.y])}))};
"""


@pytest.fixture
def spectra_store(tmp_path):
    from test_report_site import run

    store = open_store(str(tmp_path / "h.db"))
    baseline = []
    for index in range(5):
        record = run(f"s{index}", KEY, 100.0 + index, golden="randrw-w4.json")
        spectrum = run_spectrum(parse_result(record.raw))
        baseline.append(spectrum)
        store.record(dataclasses.replace(record, spectrum=spectrum))
    # The last run: the tail above p99 three times slower (a slow path on 1 % of I/Os).
    slow = {
        direction: {
            name: (value * 3 if value and name in ("p995", "p999", "p9995", "p9999") else value)
            for name, value in ladder.items()
        }
        for direction, ladder in baseline[-1].items()
    }
    judged = [
        compare_spectrum(direction, [slow], baseline, DistributionPolicy()).as_dict()
        for direction in slow
    ]
    record = run("slow", KEY, 200.0, golden="randrw-w4.json")
    store.record(dataclasses.replace(record, spectrum=slow, evidence={"distribution": judged}))
    yield store, slow
    store.close()


def assert_plot_matches(browser, canvas_id, spectrum, *, band: bool):
    found = browser.execute_script(DATASETS, canvas_id)
    assert found["x"] == "logarithmic" and found["y"] == "logarithmic", found
    assert {"50%", "90%", "99%", "99.9%"} <= set(found["xticks"]), found["xticks"]
    current = next(
        s for s in found["sets"] if s["tag"] in ("current",) or s["tag"].endswith("read")
    )
    expected = [
        [ODDS[name], value]
        for name, _percentile in SPECTRUM
        if (value := spectrum.get(name)) is not None
    ]
    assert len(current["points"]) == len(expected)
    for (x, y), (want_x, want_y) in zip(current["points"], expected, strict=True):
        assert x == pytest.approx(want_x) and y == pytest.approx(want_y)
    tags = {s["tag"] for s in found["sets"]}
    assert ({"band-low", "band-high", "baseline"} <= tags) is band, tags


@pytest.mark.slow
def test_the_distribution_plot_on_run_and_compare_pages(
    browser, spectra_store, tmp_path, start_server
):
    from selenium.webdriver.support.ui import WebDriverWait

    store, slow = spectra_store
    site = tmp_path / "site"
    build_site(store, site)
    browser.get((site / "run.html").as_uri() + "#slow")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('run').dataset.rendered")
    )
    open_run_tab(browser, "distribution")
    assert_plot_matches(browser, "chart-distribution-read", slow["read"], band=True)
    reason = browser.find_element("css selector", "#distribution p[data-direction=read]").text
    assert reason.startswith("latency distribution: read p99.5-p99.9") and " up 3.0x" in reason
    browser.execute_script("document.getElementById('distribution').scrollIntoView()")
    save_screenshot(browser, tmp_path, "site-run-distribution.png")

    browser.get((site / "compare.html").as_uri() + "#s0,slow")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const m = document.getElementById('compare'); return m && m.dataset.rendered"
        )
    )
    overlay = browser.execute_script(DATASETS, "compare-distribution-read")
    assert overlay["x"] == "logarithmic" and len(overlay["sets"]) == 2
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "site-compare-distribution.png")

    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(tmp_path / "server"), store_uri=str(tmp_path / "h.db")
    )
    live = start_server(config=config)
    browser.get(f"{live.url}/#/job/slow")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const r = document.getElementById('run'); return r && r.dataset.rendered"
        )
    )
    open_run_tab(browser, "distribution")
    assert_plot_matches(browser, "chart-distribution-read", slow["read"], band=True)
    browser.execute_script("document.getElementById('distribution').scrollIntoView()")
    save_screenshot(browser, tmp_path, "ui-run-distribution.png")
    browser.get(f"{live.url}/#/job/s0")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const r = document.getElementById('run'); return r && r.dataset.rendered === 's0'"
        )
    )
    # A run judged against no baseline: its own spectrum, no band.
    open_run_tab(browser, "distribution")
    assert_plot_matches(
        browser, "chart-distribution-read", store.get("s0").spectrum["read"], band=False
    )
    assert console_errors(browser) == []
