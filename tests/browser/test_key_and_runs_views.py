"""A history key's page and the runs list in real headless Chromium, on the results
server's UI and on the static site (one store for the module: tests/overview_history.py).

What the pages show is read from their DOM (and from the chart Chart.js drew) and checked
against the store: the key page plots one point per run of the key, its metric picker
changes the plotted series, a point opens its run, two ticked runs open the compare page
with those runs; the runs list has one title column, its actions in a menu, and its
filters in the URL (kept by a reload, and by a copied link)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store.query import RunQuery
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.verdicts.thresholds import Thresholds
from tests.browser.conftest import console_errors, save_screenshot
from tests.conftest import server_config
from tests.overview_history import KEY_A, KEY_B, STEP, record_overview_history

pytestmark = pytest.mark.slow

#: Where a key page's series is read: the values Chart.js plots as the metric's line.
PLOTTED = (
    "const chart = Chart.getChart(document.getElementById('key-trend'));"
    "return chart.data.datasets[0].data;"
)
#: A point of the series on the page, relative to the canvas's centre (what selenium's
#: offsets are relative to).
POINT = (
    "const canvas = document.getElementById('key-trend');"
    "const point = Chart.getChart(canvas).getDatasetMeta(0).data[arguments[0]];"
    "const box = canvas.getBoundingClientRect();"
    "return [Math.round(point.x - box.width / 2), Math.round(point.y - box.height / 2)];"
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The overview's history in one store, its static site, and a results server on it."""
    from fioloadgen_server.wsgi import serving_in_thread

    base = tmp_path_factory.mktemp("key-and-runs")
    store_path = base / "history.db"
    record_overview_history(store_path)
    limits = base / "limits.toml"
    limits.write_text("[defaults]\niops = 100\n")
    store = SQLiteStore(store_path)
    try:
        build_site(store, base / "site", thresholds=Thresholds.load(limits))
        runs = store.query(RunQuery(history_key=KEY_A))[::-1]  # oldest first
        b_runs = store.query(RunQuery(history_key=KEY_B))
    finally:
        store.close()
    newest = runs[-1]
    config = dataclasses.replace(
        server_config(base / "server", thresholds=str(limits)), store_uri=str(store_path)
    )
    with serving_in_thread(config, join=False) as server:
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{server.port}",
            site=base / "site",
            runs=runs,
            b_runs=b_runs,
            # The key as people name it, from the store's fields.
            title=f"{newest.test_id.split('::')[-1]} · {newest.profile_name} · "
            f"w{newest.workers} · {newest.target}",
        )


def rendered(browser, metric: str) -> None:
    WebDriverWait(browser, 15).until(
        lambda b: b.execute_script(
            "const k = document.getElementById('key');"
            "return k && k.dataset.rendered === arguments[0] && "
            "!!Chart.getChart(document.getElementById('key-trend'))",
            metric,
        )
    )


def check_key_page(browser, history: SimpleNamespace, open_page, run_url, compare_url) -> None:
    """The key page of KEY_A; ``open_page()`` opens it, the others are where its links go."""
    runs = history.runs
    open_page()
    rendered(browser, "iops")
    assert browser.find_element("id", "key-title").text == history.title
    # One point per run of the key, its IOPS, oldest first; the change point marked.
    assert browser.execute_script(PLOTTED) == [run.metrics["iops"] for run in runs]
    rows = browser.find_elements("css selector", "#key-points tbody tr")
    assert [row.get_attribute("data-run") for row in rows] == [run.run_id for run in runs[::-1]]
    changes = browser.find_elements("css selector", "#key-points tr.key-change")
    assert [row.get_attribute("data-run") for row in changes] == [f"r{STEP}-a"]
    legend = browser.execute_script(
        "return Chart.getChart(document.getElementById('key-trend')).data.datasets"
        ".map(d => d.label)"
    )
    assert any(label.startswith("threshold min 100") for label in legend), legend
    assert any(label.startswith("baseline: median of last") for label in legend), legend

    # The picker changes the plotted series (and the URL: the view is a link).
    Select(browser.find_element("id", "key-metric")).select_by_value("read_lat_mean_ms")
    rendered(browser, "read_lat_mean_ms")
    assert browser.execute_script(PLOTTED) == pytest.approx(
        [run.metrics["read_lat_mean_ms"] for run in runs]
    )
    assert "read_lat_mean_ms" in browser.current_url
    browser.refresh()
    rendered(browser, "read_lat_mean_ms")

    # A point of the chart opens its run.
    x, y = browser.execute_script(POINT, 5)
    canvas = browser.find_element("id", "key-trend")
    ActionChains(browser).move_to_element_with_offset(canvas, x, y).click().perform()
    WebDriverWait(browser, 10).until(lambda b: b.current_url == run_url(runs[5].run_id))

    # Two ticked runs open the compare page with those two runs, the older first.
    open_page()
    rendered(browser, "iops")
    compare = browser.find_element("id", "key-compare")
    assert not compare.is_enabled()
    for run in (runs[10], runs[3]):
        browser.find_element("css selector", f"input.key-pick[value='{run.run_id}']").click()
    compare.click()
    WebDriverWait(browser, 10).until(
        lambda b: b.current_url == compare_url([runs[3].run_id, runs[10].run_id])
    )


def test_ui_key_page_plots_the_key_and_opens_runs_and_compare(browser, history):
    def open_page() -> None:
        browser.get(f"{history.url}/#/history/{KEY_A}")

    check_key_page(
        browser,
        history,
        open_page,
        lambda run_id: f"{history.url}/#/job/{quote(run_id, safe='')}",
        lambda ids: f"{history.url}/#/compare/" + ",".join(ids),
    )
    # The compare page shows the two runs.
    WebDriverWait(browser, 15).until(lambda b: b.find_elements("css selector", "table#compare"))
    heads = browser.find_element("css selector", "table#compare tr").text
    assert history.runs[3].run_id[:12] in heads and history.runs[10].run_id[:12] in heads
    assert console_errors(browser) == []


def test_site_key_page_has_a_real_title_and_the_same_views(browser, history, tmp_path):
    page = history.site / "keys" / f"{KEY_A}.html"
    site = history.site.as_uri()

    def open_page() -> None:
        browser.get(page.as_uri())

    open_page()
    assert browser.title == history.title  # not "backend/target"
    save_screenshot(browser, tmp_path, "site-key-page.png")
    check_key_page(
        browser,
        history,
        open_page,
        lambda run_id: f"{site}/run.html#{quote(run_id, safe='')}",
        lambda ids: f"{site}/compare.html#" + ",".join(ids),
    )
    WebDriverWait(browser, 15).until(
        lambda b: (
            b.execute_script(
                "const m = document.getElementById('compare'); return m && m.dataset.rendered"
            )
            == "2"
        )
    )
    assert console_errors(browser) == []


def shown_runs(browser) -> list[str]:
    return list(
        browser.execute_script(
            "return [...document.querySelectorAll('#jobs tbody tr[data-job]')]"
            ".map(r => r.dataset.job)"
        )
    )


def wait_count(browser, count: str) -> None:
    # Read in one step: the list is redrawn as its filters change, and an element found
    # before a redraw is stale by the time its text is asked for (seen in CI).
    WebDriverWait(browser, 15).until(
        lambda b: (
            b.execute_script(
                "const e = document.getElementById('jobs-count'); return e && e.textContent"
            )
            == count
        )
    )


def test_runs_list_one_title_column_a_menu_and_filters_in_the_url(browser, history):
    browser.get(f"{history.url}/#/jobs")
    WebDriverWait(browser, 15).until(lambda b: b.find_elements("css selector", "#jobs tbody tr"))
    headings = [th.text for th in browser.find_elements("css selector", "#jobs thead th")]
    assert headings.count("run") == 1 and "test" not in headings and "title" not in headings
    # The actions of a row are in its menu: hidden until it is opened (by keyboard too).
    row = browser.find_element("css selector", "#jobs tbody tr[data-job]")
    delete = row.find_element("css selector", "button.delete")
    assert not delete.is_displayed()
    summary = row.find_element("css selector", ".row-menu summary")
    summary.send_keys(Keys.ENTER)
    assert delete.is_displayed()
    assert {b.text for b in row.find_elements("css selector", ".row-menu button")} == {
        "delete",
        "rerun",
        "export",
    }
    delete.send_keys(Keys.ESCAPE)
    assert not delete.is_displayed()

    # Filters go into the URL.
    box = browser.find_element("id", "filter-profile")
    box.send_keys("seqwrite-1m", Keys.TAB)
    wait_count(browser, f"1\N{EN DASH}{len(history.b_runs)} of {len(history.b_runs)}")
    Select(browser.find_element("id", "filter-verdict")).select_by_value("pass")
    passed = [run.run_id for run in history.b_runs if run.verdict == "pass"]
    wait_count(browser, f"1\N{EN DASH}{len(passed)} of {len(passed)}")
    assert shown_runs(browser) == passed
    url = browser.current_url
    assert "profile=seqwrite-1m" in url and "verdict=pass" in url
    # A reload keeps the view, and so does the link opened afresh.
    browser.refresh()
    wait_count(browser, f"1\N{EN DASH}{len(passed)} of {len(passed)}")
    assert browser.find_element("id", "filter-profile").get_attribute("value") == "seqwrite-1m"
    assert shown_runs(browser) == passed
    browser.get("about:blank")
    browser.get(url)
    wait_count(browser, f"1\N{EN DASH}{len(passed)} of {len(passed)}")
    assert Select(browser.find_element("id", "filter-verdict")).first_selected_option.text == (
        "pass"
    )
    assert shown_runs(browser) == passed
    assert console_errors(browser) == []


def test_overview_key_filter_is_kept_in_the_url(browser, history):
    """The overview's key table filter, on the site (in the hash) and in the UI."""
    for page in (f"{history.url}/#/overview", (history.site / "index.html").as_uri()):
        browser.get(page)
        WebDriverWait(browser, 15).until(
            lambda b: b.find_elements("css selector", "#overview[data-rendered]")
        )
        browser.find_element("id", "overview-filter").send_keys("seqwrite")
        table = browser.find_element("id", "overview-keys-table")
        assert table.get_attribute("data-shown") == "1"
        assert "text=seqwrite" in browser.current_url
        url = browser.current_url
        browser.get("about:blank")
        browser.get(url)
        WebDriverWait(browser, 15).until(
            lambda b: b.find_elements("css selector", "#overview[data-rendered]")
        )
        assert browser.find_element("id", "overview-filter").get_attribute("value") == "seqwrite"
        shown = browser.find_elements("css selector", "#overview-keys-table tr[data-key]")
        assert [row.get_attribute("data-key") for row in shown] == [KEY_B]
        # The key's row links to its key page.
        shown[0].find_element("css selector", "a.fio-key-link").click()
        WebDriverWait(browser, 15).until(lambda b: b.find_elements("id", "key-title"))
    assert console_errors(browser) == []


def test_history_list_names_each_key_and_its_latest_verdict(browser, history):
    # Two tests on one profile were two identical-looking rows (profile, workers, backend,
    # target): each row is now the key as people name it, with its latest run's verdict.
    browser.get(f"{history.url}/#/history")
    WebDriverWait(browser, 15).until(
        lambda b: b.find_elements("css selector", f"#history-keys tr[data-key='{KEY_A}']")
    )
    row = browser.find_element("css selector", f"#history-keys tr[data-key='{KEY_A}']")
    assert row.find_element("css selector", "a").text == history.title
    assert row.find_element("css selector", "td.verdict").text == history.runs[-1].verdict
    titles = [link.text for link in browser.find_elements("css selector", "#history-keys tr a")]
    assert len(titles) == len(set(titles)), titles
