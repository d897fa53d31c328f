"""Runs imported from a FIOLoadGen database in the views a user opens: the results
server's Runs list and run page (real Chromium), and the static site's run page."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import console_errors, show_every_run_section
from pytest_fioloadgen.cli import main
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store
from tests.unit.test_importing import fioloadgen_db

pytestmark = pytest.mark.slow


def wait_for(driver, css, timeout=20):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def test_imported_runs_are_listed_and_marked_in_the_ui_and_the_site(
    browser, start_server, tmp_path
):
    from tests.conftest import server_config

    store_path = tmp_path / "history.db"
    source = fioloadgen_db(tmp_path / "fioservice.db")
    main(["db", "import", "--from", "fioloadgen-db", str(source), "--store", str(store_path)])
    store = open_store(str(store_path))
    try:
        imported = {run.run_id: run for run in store.query()}
        build_site(store, tmp_path / "site")
    finally:
        store.close()
    assert len(imported) == 2

    config = dataclasses.replace(server_config(tmp_path / "server"), store_uri=str(store_path))
    live = start_server(config=config)
    browser.get(f"{live.url}/#/jobs")  # the Runs list (the home is the overview)
    wait_for(browser, "#jobs tr[data-job]")
    rows = browser.find_elements("css selector", "#jobs tr[data-job]")
    listed = {
        row.get_attribute("data-job"): (
            row.get_attribute("data-source"),
            row.find_element("css selector", "td.title .test").text,
        )
        for row in rows
    }
    assert listed == {run_id: ("imported", "imported from fioloadgen") for run_id in imported}
    for run_id in imported:
        browser.get(f"{live.url}/#/job/{run_id}")
        badge = wait_for(browser, "#run #verdict .fio-verdict")
        assert badge.get_attribute("data-status") == "none"
        assert "imported-from=fioloadgen" in browser.find_element("css selector", "body").text
        browser.get(f"{(tmp_path / 'site' / 'run.html').as_uri()}#{run_id}")
        wait_for(browser, "#verdict .fio-verdict")
        show_every_run_section(browser)
        assert "fioloadgen" in wait_for(browser, "#labels").text
    assert console_errors(browser) == []
