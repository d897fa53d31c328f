"""The overview in real headless Chromium at 1280 px: the results server's home and the
static site's index show, from their DOM, what the store holds (tests/overview_history.py:
several sessions, one regression, one change point), above the fold; both screenshots
are saved as artifacts."""

from __future__ import annotations

import time

import pytest

from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store.query import RunQuery
from pytest_fioloadgen.store.sqlite import SQLiteStore
from tests.browser.conftest import console_errors, save_screenshot
from tests.overview_history import KEY_A, KEY_B, STEP, record_overview_history

pytestmark = pytest.mark.slow

FOLD = 900


def expected_from_the_store(store: SQLiteStore) -> dict:
    """What the overview must show, read from the store itself (not the overview code)."""
    week = time.time() - 7 * 86400
    regressed = {run.history_key for run in store.query(RunQuery(verdict="regression", since=week))}
    newest = store.query(RunQuery(limit=1))[0]
    session = store.query(RunQuery(session_id=newest.session_id))
    counts: dict[str, int] = {}
    for run in session:
        counts[run.verdict or "none"] = counts.get(run.verdict or "none", 0) + 1
    (last_a,) = store.query(RunQuery(history_key=KEY_A, limit=1))
    return {
        "regressed": regressed,
        "session": newest.session_id,
        "counts": counts,
        "last_a": last_a.metrics["iops"],
        "keys": len([key for key in store.key_versions() if key]),
    }


def wait_rendered(browser) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(
        lambda b: b.find_elements("css selector", "#overview[data-rendered]")
    )


def check_overview(browser, expected: dict) -> None:
    find = browser.find_element
    rows = browser.find_elements("css selector", "#overview-keys-table tr[data-key]")
    assert len(rows) == expected["keys"]
    # The latest session first, with its verdict counts.
    first = find("css selector", "#overview-sessions tbody tr")
    assert first.get_attribute("data-session") == expected["session"]
    shown = {
        span.get_attribute("data-verdict"): int(span.get_attribute("data-count"))
        for span in first.find_elements("css selector", ".fio-count")
    }
    assert shown == expected["counts"]
    # The regressed key, and the change point, in the recent events, above the fold.
    regressions = find("id", "recent-regression")
    assert regressions.get_attribute("data-count") == str(len(expected["regressed"]))
    assert {
        item.get_attribute("data-key")
        for item in regressions.find_elements("css selector", "li.fio-event")
    } == expected["regressed"]
    changes = find("id", "recent-change_point")
    assert {
        item.get_attribute("data-run")
        for item in changes.find_elements("css selector", "li.fio-event")
    } == {f"r{STEP}-a"}
    for block in (regressions, changes):
        assert block.rect["y"] + 20 < FOLD, block.rect
    # Key A's sparkline: its last value is the newest run's, its change point marked.
    spark = find("css selector", f"tr[data-key='{KEY_A}'] svg.fio-spark")
    assert float(spark.get_attribute("data-last")) == expected["last_a"]
    marks = spark.find_elements("css selector", ".fio-spark-change")
    assert [m.get_attribute("data-run") for m in marks] == [f"r{STEP}-a"]
    assert find("css selector", f"tr[data-key='{KEY_B}']").get_attribute("data-verdict") == (
        "regression"
    )
    # Grouped by target, with backend and target named apart (not "local/local").
    groups = [g.text for g in browser.find_elements("css selector", "tr.fio-group th")]
    assert groups == [
        "target fast · backend local · 2 key(s)",
        "target slow · backend local · 1 key(s)",
    ]
    # Filterable and sortable.
    box = find("id", "overview-filter")
    box.send_keys("seqwrite")
    assert find("id", "overview-keys-table").get_attribute("data-shown") == "1"
    box.clear()
    box.send_keys(" ")  # an input event with nothing to match: every key again
    assert find("id", "overview-keys-table").get_attribute("data-shown") == str(expected["keys"])
    sort = find("css selector", "button.fio-sort[data-column='verdict']")
    sort.click()
    sort.click()  # descending: the most severe verdict first
    first_fast = find("css selector", "tbody[data-target='fast'] tr[data-key]")
    assert first_fast.get_attribute("data-key") == KEY_B


def test_ui_home_and_site_index_show_the_overview(browser, start_server, tmp_path):
    browser.set_window_size(1280, FOLD + 100)
    live = start_server()
    record_overview_history(live.store_path)
    store = SQLiteStore(live.store_path)
    try:
        expected = expected_from_the_store(store)
        build_site(store, tmp_path / "site")
    finally:
        store.close()

    browser.get(live.url + "/")
    wait_rendered(browser)
    # The status bar and the navigation stay; the overview is the home.
    assert browser.find_element("id", "nav-overview").get_attribute("class") == "active"
    assert browser.find_element("id", "nav-jobs").text == "Runs"
    check_overview(browser, expected)
    save_screenshot(browser, tmp_path, "overview-ui.png")
    browser.find_element("css selector", f"tr[data-key='{KEY_B}'] a.fio-key-link").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(lambda b: b.find_elements("id", "key-points"))

    browser.get((tmp_path / "site" / "index.html").as_uri())
    wait_rendered(browser)
    check_overview(browser, expected)
    save_screenshot(browser, tmp_path, "overview-site.png")
    browser.find_element("css selector", f"tr[data-key='{KEY_B}'] a.fio-key-link").click()
    assert browser.find_elements("id", "key-trend")
    assert console_errors(browser) == []
