"""Every chart kind, in headless Chromium: a screenshot of each page AND, from the page
itself, each chart's axis type and data ranges (Chart.js charts of the static site and the
results server's UI; the report's pygal SVG charts).

The data are made to catch the readability faults of issue 13: a latency that jumps from
0.4 to 8 ms (a linear axis flattens the early runs), thresholds far from the data (they
used to set the scale), 4k and 1 MiB profiles in one scaling matrix (one axis crushed the
1 MiB curves), and IOPS in the tens of thousands (ticks read 2.9e+04).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from conftest import console_errors, save_screenshot, show_every_run_section
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.fio.spectrum import run_spectrum
from pytest_fioloadgen.report import charts
from pytest_fioloadgen.report.html import history_sparkline, page_styles
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))
GOLDEN = ROOT / "tests" / "data" / "golden"
KEY = "c" * 16

# Per Chart.js canvas: its id, the y scale's type, min and max, the range of the data
# (reference lines such as thresholds excluded), the reference values, and tick labels.
CHART_AXES = """
return [...document.querySelectorAll(arguments[0])].map(c => {
  const chart = Chart.getChart(c);
  if (!chart) return {id: c.id, missing: true};
  const y = chart.scales.y;
  const data = [], refs = [];
  chart.data.datasets.forEach(d => d.data.forEach(p => {
    const v = (p !== null && typeof p === 'object') ? p.y : p;
    if (v === null || v === undefined) return;
    (d.fioReference ? refs : data).push(v);
  }));
  const button = c.parentNode.querySelector('.fio-save-png');
  return {id: c.id, type: y.type, min: y.min, max: y.max,
          dataMin: Math.min(...data), dataMax: Math.max(...data), refs: refs,
          ticks: y.ticks.map(t => t.label),
          title: (chart.options.plugins.title || {}).text, legend: chart.data.datasets.map(d => d.label),
          save: !!button,
          png: c.toDataURL('image/png').slice(0, 21)};
});
"""


def assert_scaled_to_data(axis):
    """The scale is the data's range plus a margin: it covers every data point and is not
    stretched by a reference line beyond the data."""
    assert axis["min"] <= axis["dataMin"] and axis["max"] >= axis["dataMax"], axis
    if axis["type"] == "logarithmic":
        assert axis["max"] <= axis["dataMax"] * 2 and axis["min"] >= axis["dataMin"] / 2, axis
    else:
        span = (axis["dataMax"] - axis["dataMin"]) or abs(axis["dataMax"]) or 1
        assert axis["max"] <= axis["dataMax"] + 0.2 * span + 1e-9, axis
        assert axis["min"] >= min(0, axis["dataMin"] - 0.2 * span) - 1e-9, axis
    for label in axis["ticks"]:
        assert "e+" not in label and "e-" not in label, axis["ticks"]
    assert axis["save"] and axis["png"] == "data:image/png;base64", axis


def series(jump: bool):
    return {
        "interval_ms": 500,
        "workers": {
            worker: {
                "read_iops": [[t * 500, 29000.0 + (t * 37 % 11) * 100] for t in range(1, 40)],
                "read_lat_ms": [
                    [t * 500, (8.0 if jump and t > 30 else 0.4) + (t % 5) * 0.01]
                    for t in range(1, 40)
                ],
            }
            for worker in ("127.0.0.2:8765", "127.0.0.3:8765")
        },
    }


@pytest.fixture
def site_store(tmp_path):
    from test_report_site import run  # the golden records of the site's unit tests

    store = open_store(str(tmp_path / "h.db"))
    for index in range(6):
        # p99 read latency 0.4 ms for five runs, then 8 ms: spans more than a decade.
        p99 = 8.0 if index == 5 else 0.4 + index * 0.01
        record = run(f"r{index}", KEY, 100.0 + index, iops=29000.0 + 150 * index)
        raw = {**record.raw, "fioloadgen": {"timeseries": series(jump=index == 5)}}
        metrics = {**record.metrics, "read_lat_p99_ms": p99}
        fingerprint = {
            "host": "vm",
            "fio_version": "fio-3.33",
            "target": {"filesystem": "ext4", "device": "nvme0n1"},
        }
        store.record(dataclasses.replace(record, raw=raw, metrics=metrics, fingerprint=fingerprint))
    yield store
    store.close()


@pytest.mark.slow
def test_site_and_ui_charts_axes_ranges_and_screenshots(
    browser, site_store, tmp_path, start_server
):
    from selenium.webdriver.support.ui import WebDriverWait

    limits = tmp_path / "t.toml"
    # Far from the data on purpose: IOPS ~29k vs a floor of 100; p99 ~0.4-8 ms vs 500 ms.
    limits.write_text("[defaults]\niops = 100\nread_lat_p99_ms = 500\n")
    site = tmp_path / "site"
    build_site(site_store, site, thresholds=Thresholds.load(limits))

    # The key page: IOPS trend and p99 latency trend.
    browser.get((site / "index.html").as_uri())
    assert (
        "last 29.8k · 29.0k to 29.8k"
        in browser.find_element("css selector", "table.fio-index").text
    )
    browser.find_elements("css selector", "table.fio-index a")[0].click()
    (iops,) = browser.execute_script(CHART_AXES, "#key-trend")
    # The key page's picker: another metric is another view of the same page.
    key_page = browser.current_url.split("#")[0]
    browser.get(key_page + "#metric=read_lat_p99_ms")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "return document.getElementById('key').dataset.rendered === 'read_lat_p99_ms'"
        )
    )
    (latency,) = browser.execute_script(CHART_AXES, "#key-trend")
    assert iops["type"] == "linear" and latency["type"] == "logarithmic", (iops, latency)
    for axis in (iops, latency):
        assert_scaled_to_data(axis)
    # The thresholds are drawn (their lines exist) but outside the scale, and say so.
    assert 100 in iops["refs"] and iops["min"] > 100
    assert any("(off scale)" in label for label in iops["legend"]), iops["legend"]
    assert 500 in latency["refs"] and latency["max"] < 500
    assert any(label.endswith("k") for label in iops["ticks"]), iops["ticks"]
    assert any(label.endswith(" ms") for label in latency["ticks"]), latency["ticks"]
    assert any(label.endswith(" µs") for label in latency["ticks"]), latency["ticks"]
    save_screenshot(browser, tmp_path, "site-key-trends.png")

    # The run page of the run with the jump: workers, latency histogram, time series.
    browser.get((site / "run.html").as_uri() + "#r5")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script("return document.getElementById('run').dataset.rendered")
    )
    show_every_run_section(browser)
    axes = {a["id"]: a for a in browser.execute_script(CHART_AXES, "canvas.fio-run-chart")}
    assert {
        "chart-workers",
        "chart-latency-read",
        "chart-timeseries-iops",
        "chart-timeseries-lat",
    } <= set(axes)
    assert axes["chart-workers"]["type"] == "linear" and axes["chart-workers"]["min"] == 0
    assert axes["chart-timeseries-iops"]["type"] == "linear"
    assert axes["chart-timeseries-lat"]["type"] == "logarithmic"  # 0.4 -> 8 ms
    histogram = axes["chart-latency-read"]
    assert histogram["type"] == (
        "logarithmic" if histogram["dataMax"] / max(histogram["dataMin"], 1e-9) >= 10 else "linear"
    )
    for axis in axes.values():
        assert_scaled_to_data(axis)
    # Read/write named on every latency chart and table; the environment is a table.
    text = browser.find_element("css selector", "#run").text
    assert axes["chart-latency-read"]["title"] == "read latency distribution"
    assert axes["chart-timeseries-lat"]["title"] == "read/write mean latency over the run"
    assert "read latency\n" in text
    environment = browser.find_element("css selector", "#fingerprint")
    assert environment.find_elements("css selector", "table.fio-nested")
    assert "{" not in environment.text and "filesystem" in environment.text
    metrics = browser.find_element("css selector", "#metrics").text
    assert "8.00 ms" in metrics and "29.8k" in metrics
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "site-run-charts.png")

    # The results server's UI on the same store: the history chart and the run page.
    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(tmp_path / "server", thresholds=str(limits)), store_uri=str(tmp_path / "h.db")
    )
    live = start_server(config=config)
    browser.get(f"{live.url}/#/history/{KEY}/read_lat_p99_ms")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements(
            "css selector", "#key[data-rendered='read_lat_p99_ms'] #key-trend"
        )
    )
    (history,) = browser.execute_script(CHART_AXES, "#key-trend")
    assert history["type"] == "logarithmic", history
    assert_scaled_to_data(history)
    save_screenshot(browser, tmp_path, "ui-history-latency.png")
    browser.get(f"{live.url}/#/history/{KEY}/iops")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements("css selector", "#key[data-rendered='iops'] #key-trend")
    )
    (history,) = browser.execute_script(CHART_AXES, "#key-trend")
    assert history["type"] == "linear" and any(t.endswith("k") for t in history["ticks"])
    assert_scaled_to_data(history)
    browser.get(f"{live.url}/#/job/r5")
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const r = document.getElementById('run'); return r && r.dataset.rendered"
        )
    )
    show_every_run_section(browser)
    axes = {a["id"]: a for a in browser.execute_script(CHART_AXES, "canvas.fio-run-chart")}
    assert axes["chart-timeseries-lat"]["type"] == "logarithmic"
    for axis in axes.values():
        assert_scaled_to_data(axis)
    save_screenshot(browser, tmp_path, "ui-run-charts.png")
    # The builder's fields stand apart: "70 block size", not "70block size".
    browser.get(f"{live.url}/#/profiles")
    WebDriverWait(browser, 10).until(lambda b: b.find_elements("css selector", "#builder"))
    gap = browser.execute_script(
        "const r = document.getElementById('b-read').getBoundingClientRect();"
        "const l = document.getElementById('b-bs').parentNode.getBoundingClientRect();"
        "return l.left - r.right;"
    )
    assert gap >= 10, gap
    assert console_errors(browser) == []


# Per pygal chart: its title, the y tick labels, whether the axis is logarithmic (pygal
# marks log charts' ticks at 1-2-5 of each decade here), and the data points drawn.
SVG_AXES = """
return [...document.querySelectorAll('svg.fioloadgen-chart')].map(svg => {
  // pygal wraps a long title over several text elements.
  const title = [...svg.querySelectorAll('text.plot_title')].map(t => t.textContent).join(' ');
  const ticks = [...svg.querySelectorAll('.axis.y .guides text, .axis.y text')].map(t => t.textContent);
  return {title: title, ticks: [...new Set(ticks)],
          dots: svg.querySelectorAll('.dots, circle.dot').length,
          lines: new Set([...svg.querySelectorAll('g.series')].map(g => g.getAttribute('class'))).size,
          box: svg.getBoundingClientRect().height};
});
"""


@pytest.mark.slow
def test_report_pygal_charts_read_right(browser, tmp_path):
    """The pygal charts of the report: latency by percentile on a log axis with units,
    small multiples for scaling (a 1 MiB panel on its own scale), SI ticks, a sparkline
    with its last value and range, and a save-as-SVG link on the summary's charts."""
    result = parse_result(json.loads((GOLDEN / "randrw-w4.json").read_text()))
    from pytest_fioloadgen.store import RunRecord

    history = [
        RunRecord(
            run_id=f"h{i}",
            session_id="s",
            profile_name="p",
            profile_hash="h",
            profile_text="",
            workers=1,
            backend="local",
            target="t",
            started_at=100.0 - i,
            finished_at=101.0 - i,
            metrics={"iops": 29000.0 + 100 * i},
        )
        for i in range(8)
    ]
    curves = {
        "randread-4k on local": [(1, 29000.0), (2, 55000.0), (4, 98000.0)],
        "seqread-1m on local": [(1, 410.0), (2, 640.0), (4, 700.0)],
    }
    panels = charts.scaling(curves)
    parts = [
        charts.percentile_distribution(run_spectrum(result)),
        charts.worker_iops(result),
        charts.timeseries(series(jump=True), "iops"),
        charts.timeseries(series(jump=True), "lat"),
        history_sparkline(history, "h0"),
        *(f"<div>{svg}{charts.svg_download(svg, 'scaling')}</div>" for svg in panels),
    ]
    page = tmp_path / "charts.html"
    page.write_text(
        f"<!doctype html><meta charset=utf-8>{page_styles()}<body>{''.join(p for p in parts if p)}</body>"
    )
    browser.get(page.as_uri())
    found = browser.execute_script(SVG_AXES)
    by_title = {chart["title"]: chart for chart in found}
    # The HdrHistogram plot: latency (log, with units) against 1/(1-p) labelled in percent.
    percentiles = by_title["latency by percentile (HdrHistogram style, log axes)"]
    assert all(t.endswith(("µs", "ms", "s")) for t in percentiles["ticks"] if t), percentiles
    assert {t.split()[0][0] for t in percentiles["ticks"] if t} <= {"1", "2", "5"}, percentiles
    x_labels = browser.execute_script(
        "return [...document.querySelectorAll('svg.fioloadgen-chart .axis.x text')]"
        ".map(t => t.textContent)"
    )
    assert {"50%", "90%", "99%", "99.9%"} <= set(x_labels), x_labels
    lat = next(c for t, c in by_title.items() if t.startswith("read/write mean latency"))
    assert "(log axis)" in lat["title"] and any(t.endswith("ms") for t in lat["ticks"])
    iops = by_title["read+write IOPS over time"]
    assert any(t.endswith("k") for t in iops["ticks"]) and not any("e+" in t for t in iops["ticks"])
    one_mib, four_k = by_title["seqread-1m on local"], by_title["randread-4k on local"]
    # Small multiples: the 1 MiB panel has its own scale, below 1k, the 4k one reaches 100k.
    assert max(float(t) for t in one_mib["ticks"] if t and t[-1].isdigit()) < 1000, one_mib
    assert any(t.endswith("k") for t in four_k["ticks"]), four_k
    assert one_mib["lines"] == 2 and four_k["lines"] == 2  # measured and ideal
    sparkline = browser.find_element("css selector", ".fio-sparkline").text
    assert "last 29.0k" in sparkline and "29.0k to 29.7k" in sparkline
    links = browser.find_elements("css selector", "a.fio-save-svg")
    assert len(links) == 2 and links[0].get_attribute("href").startswith(
        "data:image/svg+xml;base64,"
    )
    assert links[0].get_attribute("download") == "scaling.svg"
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "report-pygal-charts.png")


@pytest.mark.slow
def test_ui_compares_sessions_and_runs_side_by_side(browser, tmp_path, start_server):
    """Pick two plugin sessions in the UI: the delta table with the gate's verdict per
    metric; pick two runs: metrics with deltas, latency histograms and time series
    overlaid (each chart's axes checked from the page)."""
    from selenium.webdriver.support.ui import WebDriverWait
    from test_report_site import run

    from tests.conftest import server_config

    store = open_store(str(tmp_path / "h.db"))
    try:
        for side, level in (("old", 29000.0), ("new", 20000.0)):
            for index in range(3):
                record = run(
                    f"{side}{index}",
                    KEY,
                    (200.0 if side == "new" else 100.0) + index,
                    iops=level + 100 * index,
                )
                raw = {**record.raw, "fioloadgen": {"timeseries": series(jump=side == "new")}}
                store.record(
                    dataclasses.replace(
                        record,
                        session_id=f"session-{side}",
                        raw=raw,
                        test_id="tests/test_x.py::test_storage[randread-4k-w2-fast]",
                    )
                )
    finally:
        store.close()
    config = dataclasses.replace(
        server_config(tmp_path / "server"), store_uri=str(tmp_path / "h.db")
    )
    live = start_server(config=config)

    browser.get(f"{live.url}/#/sessions")
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements("css selector", "#sessions tr[data-session]")
    )
    rows = browser.find_elements("css selector", "#sessions tr[data-session]")
    assert [r.get_attribute("data-session") for r in rows] == ["session-new", "session-old"]
    for row in rows:
        row.find_element("css selector", "input.pick-session").click()
    assert browser.find_element("id", "set-a").get_attribute("value") == "session:session-old"
    browser.find_element("id", "compare-sets").click()
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements("css selector", "#compare-sets-table tr[data-metric]")
    )
    iops = browser.find_element("css selector", '#compare-sets-table tr[data-metric="iops"]')
    assert "regression" in iops.find_element("css selector", "td.verdict").get_attribute(
        "data-verdict"
    )
    assert "-30.9%" in iops.text and "29.1k (n=3)" in iops.text and "20.1k (n=3)" in iops.text
    assert "B regressed against A" in browser.find_element("id", "compare-outcome").text
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "ui-compare-sessions.png")

    browser.get(f"{live.url}/#/compare/old0,new0")
    WebDriverWait(browser, 10).until(
        lambda b: (
            len(b.find_elements("css selector", "#compare-charts canvas[data-chart-ready]")) >= 3
        )
    )
    deltas = {
        c.get_attribute("data-metric"): c
        for c in browser.find_elements("css selector", "#compare td.delta")
    }
    assert deltas["iops"].text == "-31.0%" and "worse" in deltas["iops"].get_attribute("class")
    axes = {a["id"]: a for a in browser.execute_script(CHART_AXES, "#compare-charts canvas")}
    assert {"compare-latency-read", "compare-timeseries-iops", "compare-timeseries-lat"} <= set(
        axes
    )
    x_types = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#compare-charts canvas')]"
        ".map(c => [c.id, Chart.getChart(c).scales.x.type]))"
    )
    assert x_types["compare-latency-read"] == "logarithmic"  # bucket edges: µs to ms
    assert x_types["compare-timeseries-iops"] == "linear"
    assert axes["compare-timeseries-lat"]["type"] == "logarithmic"  # 0.4 and 8 ms overlaid
    for axis in axes.values():
        assert len(axis["legend"]) >= 2  # both runs drawn in one chart
        assert_scaled_to_data(axis)
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "ui-compare-runs.png")


@pytest.mark.slow
def test_site_compares_the_runs_ticked_on_a_key_page(browser, site_store, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    site = tmp_path / "site"
    build_site(site_store, site)
    browser.get((site / "index.html").as_uri())
    browser.find_elements("css selector", "table.fio-index a")[0].click()
    boxes = {
        b.get_attribute("value"): b for b in browser.find_elements("css selector", "input.key-pick")
    }
    boxes["r5"].click()
    boxes["r0"].click()
    browser.find_element("id", "key-compare").click()
    WebDriverWait(browser, 10).until(
        lambda b: b.execute_script(
            "const m = document.getElementById('compare'); return m && m.dataset.rendered"
        )
    )
    # The older run first whatever the order they were ticked in: r5 compared with r0.
    deltas = {
        c.get_attribute("data-metric"): c
        for c in browser.find_elements("css selector", "#compare-table td.delta")
    }
    assert deltas["read_lat_p99_ms"].text == "+1900%"  # 0.4 ms -> 8 ms
    assert "worse" in deltas["read_lat_p99_ms"].get_attribute("class")
    assert deltas["iops"].text == "+2.6%" and "worse" not in deltas["iops"].get_attribute("class")
    axes = {a["id"]: a for a in browser.execute_script(CHART_AXES, "#compare canvas")}
    assert {"compare-latency-read", "compare-timeseries-iops", "compare-timeseries-lat"} <= set(
        axes
    )
    assert axes["compare-timeseries-lat"]["type"] == "logarithmic"
    for axis in axes.values():
        assert len(axis["legend"]) == 2
        assert_scaled_to_data(axis)
    assert console_errors(browser) == []
    save_screenshot(browser, tmp_path, "site-compare-runs.png")
