"""The run page in real headless Chromium at 1280 px, on the static site and in the
results server's UI (one renderer, run.js): a summary first (the stored verdict, its
reason, the flags, the gated metrics with their deltas), then ARIA tabs that switch by
click and by arrow keys; no sideways scroll with a wide comparison and a timeline; a
swept run draws the response curve of its sweep siblings, read back from the chart's
data against the store. Screenshots are test artifacts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.store.sqlite import SQLiteStore
from tests.browser.conftest import console_errors, save_screenshot
from tests.timeline_cases import raw_with_timeline

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
LONG_TEST = "tests/performance/test_block_storage_under_rebuild.py::test_random_read_latency"
REASON = "regression: read_lat_p99_ms +62.5% (tolerance 10%, mann-whitney, p=0.0012)"
COMPARED = [
    "iops",
    "read_iops",
    "read_bw_mib_s",
    "read_lat_mean_ms",
    "read_lat_p99_ms",
    "read_lat_p999_ms",
]
FINDINGS = [
    {"code": "TL003", "name": "imbalance", "message": "workers' IOPS vary 38 % (CV)",
     "unstable": False, "span_s": None, "worker": None},
    {"code": "TL004", "name": "stall", "message": "stall: p99 above 10x its median 1.0-1.5 s",
     "unstable": False, "span_s": [1.0, 1.5], "worker": None},
]  # fmt: skip
EXPECTED_FLAGS = ["cache?", "imbalance", "stalls", "imported"]
DEPTHS = ("1", "8", "32")

# A Chart.js chart's datasets: series tag and points.
DATASETS = """
const chart = Chart.getChart(document.getElementById(arguments[0]));
if (!chart) return null;
return chart.data.datasets.map(d => ({series: d.fioSeries, points: d.data.map(p => [p.x, p.y])}));
"""
TABS = """
return [...document.querySelectorAll('#run [role=tab]')].map(t => ({
  id: t.dataset.tab, selected: t.getAttribute('aria-selected'), tabindex: t.tabIndex,
  focused: document.activeElement === t,
  panel: !document.getElementById(t.getAttribute('aria-controls')).hidden}));
"""


def timeline_raw(directory: Path) -> dict:
    """A real two-worker fio document with its timeline (tests/data/timeline)."""
    return raw_with_timeline("phases-w2", directory)


def comparison(metric: str, current: float) -> dict:
    higher = not metric.endswith("_ms")
    return {
        "metric": metric, "status": "regression" if metric == "read_lat_p99_ms" else "unchanged",
        "current": current, "baseline_center": current * (0.9 if higher else 0.62),
        "baseline_spread": current * 0.01, "baseline_n": 10,
        "delta_pct": 11.1 if higher else 62.5, "tolerance_pct": 10.0,
        "test": "mann-whitney", "p_value": 0.0012, "mde_pct": 4.25, "repeats_needed": 3,
        "higher_is_better": higher,
    }  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, RunRecord, list[RunRecord]]:
    """A store with a regressed run (wide comparison, timeline, flags) and a session
    that swept iodepth over three points, one of them repeated."""
    base = tmp_path_factory.mktemp("run-page")
    raw = timeline_raw(base)
    metrics = parse_result(raw).metrics
    regressed = RunRecord(
        run_id="regressed-0123456789abcdef0123456789abcdef",
        session_id="session-2026-12-07T16:00:00-0123456789abcdef",
        profile_name="randread-4k-qd16-direct-libaio",
        profile_hash="f" * 64,
        profile_text="[global]\nioengine=libaio\ndirect=1\n[phases]\nrw=randread\nbs=4k\n",
        workers=2,
        backend="local",
        target="ceph-rbd-replicated-ssd-storage-class",
        started_at=1_796_636_344.0,
        finished_at=1_796_636_349.0,
        metrics=metrics,
        labels={"git_commit": "0123456789abcdef0123456789abcdef01234567",
                "imported-from": "fio-json"},
        fingerprint={"host": "vm", "fio_version": "fio-3.33"},
        raw=raw,
        notes=("likely cache hit: read 9100 MiB/s beyond the target's ceiling",),
        test_id=LONG_TEST + "[randread-4k-qd16-direct-libaio-w2-ceph-rbd-replicated-ssd]",
        verdict="regression",
        history_key="0123456789abcdef",
        evidence={
            "reason": REASON, "checks": [],
            "comparisons": [comparison(m, metrics.get(m) or 1.0) for m in COMPARED],
            "timeline": {"findings": FINDINGS},
        },
    )  # fmt: skip
    golden = json.loads((DATA / "golden" / "randread-w1.json").read_text())
    swept = []
    for index, (depth, repeat) in enumerate([("1", 0), ("8", 0), ("8", 1), ("32", 0)]):
        qd = int(depth)
        swept.append(
            RunRecord(
                run_id=f"sweep-qd{depth}-r{repeat}",
                session_id="sweep-session",
                profile_name="rr",
                profile_hash=f"h{depth}",
                profile_text=f"[rr]\nrw=randread\nbs=4k\niodepth={depth}\n",
                workers=1,
                backend="local",
                target="local",
                started_at=1_796_600_000.0 + index,
                finished_at=1_796_600_001.0 + index,
                metrics={
                    "iops": 1000.0 * qd**0.5 + repeat * 100,
                    "read_iops": 1000.0 * qd**0.5,
                    "read_lat_mean_ms": 0.1 * qd + repeat * 0.05,
                    "read_lat_p99_ms": 0.4 * qd,
                },
                raw=golden,
                repeat=repeat,
                test_id=f"tests/test_q.py::test_q[rr-qd{depth}-w1-local]",
                verdict="pass",
                history_key=f"{qd:016x}",
                sweep={"axes": {"iodepth": list(DEPTHS)}, "point": {"iodepth": depth}, "fixed": {}},
            )
        )
    store = SQLiteStore(base / "history.db")
    for run in [regressed, *swept]:
        store.record(run)
    store.close()
    build_site(SQLiteStore(base / "history.db"), base / "site", processes=1)
    return base, regressed, swept


def wait_rendered(browser, run_id: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(
        lambda b: (
            b.execute_script(
                "const r = document.getElementById('run'); return r && r.dataset.rendered", run_id
            )
            == run_id
        )
    )


def open_site(browser, base: Path, run_id: str) -> None:
    browser.get((base / "site" / "run.html").as_uri() + "#" + run_id)
    wait_rendered(browser, run_id)


def open_ui(browser, start_server, base: Path, run_id: str) -> None:
    from tests.conftest import server_config

    config = dataclasses.replace(
        server_config(base / f"server-{run_id[:8]}"), store_uri=str(base / "history.db")
    )
    live = start_server(config=config)
    browser.get(f"{live.url}/#/job/{run_id}")
    wait_rendered(browser, run_id)


def assert_summary_and_no_sideways_scroll(browser, run: RunRecord) -> None:
    assert browser.execute_script("return window.innerWidth") == 1280
    width = browser.execute_script(
        "const d = document.documentElement; return [d.scrollWidth, d.clientWidth]"
    )
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"
    find = browser.find_element
    # The summary comes first, above the tabs, and says what is stored.
    order = browser.execute_script(
        "const s = document.getElementById('summary'), t = document.getElementById('run-tabs');"
        "return !!(s.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING)"
    )
    assert order
    badge = find("css selector", "#summary #verdict .fio-verdict")
    assert badge.get_attribute("data-status") == run.verdict
    assert find("css selector", "#verdict-reason").text == run.evidence["reason"]
    flags = [
        li.get_attribute("data-flag")
        for li in browser.find_elements("css selector", "#run-flags li")
    ]
    assert flags == EXPECTED_FLAGS
    rows = browser.find_elements("css selector", "#comparisons tbody tr[data-metric]")
    assert [r.get_attribute("data-metric") for r in rows] == COMPARED
    p99 = find("css selector", '#comparisons tr[data-metric="read_lat_p99_ms"]')
    assert p99.find_element("css selector", "td.delta").text == "+62.5%"
    assert (
        p99.find_element("css selector", ".fio-verdict").get_attribute("data-status")
        == "regression"
    )
    # The timeline is the first tab, shown, with its chart drawn.
    tabs = browser.execute_script(TABS)
    assert tabs[0]["id"] == "timeline" and tabs[0]["selected"] == "true" and tabs[0]["panel"]
    assert browser.execute_script(DATASETS, "chart-timeline-iops")
    assert console_errors(browser) == []


def test_the_summary_comes_first_and_nothing_scrolls_sideways_at_1280(
    history, browser, start_server, tmp_path
):
    base, run, _swept = history
    open_site(browser, base, run.run_id)
    assert_summary_and_no_sideways_scroll(browser, run)
    save_screenshot(browser, tmp_path, "site-run-summary-1280.png")
    # Every section at once (to read through or print) still fits.
    browser.find_element("css selector", "#run-all-sections").click()
    assert all(tab["panel"] for tab in browser.execute_script(TABS))
    width = browser.execute_script(
        "const d = document.documentElement; return [d.scrollWidth, d.clientWidth]"
    )
    assert width[0] <= width[1], f"the page scrolls sideways with every section: {width}"

    open_ui(browser, start_server, base, run.run_id)
    assert_summary_and_no_sideways_scroll(browser, run)
    save_screenshot(browser, tmp_path, "ui-run-summary-1280.png")


def test_tabs_switch_by_click_and_by_arrow_keys(history, browser):
    from selenium.webdriver.common.keys import Keys

    base, run, _swept = history
    open_site(browser, base, run.run_id)
    ids = [tab["id"] for tab in browser.execute_script(TABS)]
    # A tab for what the run has: no fault phases, no sweep here.
    assert ids == ["timeline", "distribution", "workers", "metrics", "environment", "raw"]

    def state() -> dict:
        found = browser.execute_script(TABS)
        selected = [t["id"] for t in found if t["selected"] == "true"]
        shown = [t["id"] for t in found if t["panel"]]
        assert selected == shown, found  # one tab selected, its panel alone shown
        assert [t["id"] for t in found if t["tabindex"] == 0] == selected  # roving tabindex
        return {"selected": selected[0], "focused": [t["id"] for t in found if t["focused"]]}

    browser.find_element("css selector", '[role=tab][data-tab="distribution"]').click()
    assert state()["selected"] == "distribution"
    assert browser.execute_script(DATASETS, "chart-latency-read") is not None  # drawn when shown
    tab = browser.switch_to.active_element
    tab.send_keys(Keys.ARROW_RIGHT)
    after = ids[ids.index("distribution") + 1]
    assert state() == {"selected": after, "focused": [after]}
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    assert state() == {"selected": "distribution", "focused": ["distribution"]}
    browser.switch_to.active_element.send_keys(Keys.END)
    assert state() == {"selected": ids[-1], "focused": [ids[-1]]}
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)  # wraps round
    assert state() == {"selected": ids[0], "focused": [ids[0]]}
    browser.switch_to.active_element.send_keys(Keys.ARROW_LEFT)
    assert state() == {"selected": ids[-1], "focused": [ids[-1]]}
    # Each panel is named by its tab.
    for tab_id in ids:
        panel = browser.find_element("css selector", f"#panel-{tab_id}")
        assert panel.get_attribute("role") == "tabpanel"
        assert panel.get_attribute("aria-labelledby") == f"tab-{tab_id}"
    assert console_errors(browser) == []


def selected_tab(browser) -> list[str]:
    return [t["id"] for t in browser.execute_script(TABS) if t["selected"] == "true"]


def test_the_tab_is_in_the_url_and_a_reload_opens_it(history, browser, start_server):
    """On the site (run.html#<id>?tab=...) and in the UI (#/job/<id>?tab=...): a picked
    tab goes into the URL without a new history entry, and the URL opens it again."""
    base, run, _swept = history
    for opened in ("site", "ui"):
        if opened == "site":
            open_site(browser, base, run.run_id)
        else:
            open_ui(browser, start_server, base, run.run_id)
        entries = browser.execute_script("return history.length")
        assert selected_tab(browser) == ["timeline"]
        browser.find_element("css selector", '[role=tab][data-tab="environment"]').click()
        url = browser.current_url
        assert url.endswith(f"{run.run_id}?tab=environment"), url
        assert browser.execute_script("return history.length") == entries
        browser.refresh()
        wait_rendered(browser, run.run_id)
        assert selected_tab(browser) == ["environment"], opened
        assert console_errors(browser) == []


def expected_curve(swept: list[RunRecord]) -> list[tuple[str, float, float, float]]:
    """The curve's points from the store's records: the mean over each depth's repeats."""
    points = []
    for depth in DEPTHS:
        runs = [r for r in swept if r.sweep["point"]["iodepth"] == depth]
        means = [
            sum(r.metrics[name] for r in runs) / len(runs)
            for name in ("iops", "read_lat_mean_ms", "read_lat_p99_ms")
        ]
        points.append((depth, *means))
    return points


def assert_curve(browser, swept: list[RunRecord], current: str) -> None:
    browser.find_element("css selector", '[role=tab][data-tab="curve"]').click()
    assert browser.find_element("css selector", "#sweep-point").text.startswith(
        f"this run is the sweep point iodepth={current} of [1, 8, 32]"
    )
    sets = {
        s["series"]: s["points"] for s in browser.execute_script(DATASETS, "chart-response-curve")
    }
    expected = expected_curve(swept)
    assert len(sets["mean"]) == len(expected) == 3
    for (x, mean), (_depth, iops, mean_ms, _p99) in zip(sets["mean"], expected, strict=True):
        assert x == pytest.approx(iops) and mean == pytest.approx(mean_ms)
    for (_x, p99), point in zip(sets["p99"], expected, strict=True):
        assert p99 == pytest.approx(point[3])
    here = next(p for p in expected if p[0] == current)
    assert sets["current"] == [[pytest.approx(here[1]), pytest.approx(here[2])]]
    rows = browser.find_elements("css selector", "#curve-points tbody tr")
    assert [r.get_attribute("data-value") for r in rows] == list(DEPTHS)
    links = rows[1].find_elements("css selector", "a.fio-run-link")
    assert sorted(a.text for a in links) == ["sweep-qd8-r0", "sweep-qd8-r1"]
    assert console_errors(browser) == []


def test_a_swept_run_draws_the_response_curve_of_its_siblings(
    history, browser, start_server, tmp_path
):
    base, _run, swept = history
    open_site(browser, base, "sweep-qd8-r1")
    assert_curve(browser, swept, "8")
    save_screenshot(browser, tmp_path, "site-run-response-curve.png")
    # A sibling's link opens its run, on the same curve.
    browser.find_elements("css selector", "#curve-points a.fio-run-link")[0].click()
    wait_rendered(browser, "sweep-qd1-r0")
    assert_curve(browser, swept, "1")

    open_ui(browser, start_server, base, "sweep-qd32-r0")
    assert_curve(browser, swept, "32")
    save_screenshot(browser, tmp_path, "ui-run-response-curve.png")
