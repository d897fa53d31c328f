"""The job list's pages in headless Chromium: "next" and "previous" follow the server's
page cursor across pending jobs and runs, every entry is shown once and in order, and
the count says which entries the page holds."""

from __future__ import annotations

import pytest
import requests
from fioloadgen_server.jobsdb import QUEUED, Job
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import console_errors
from tests.unit.test_store_contract import make_run

pytestmark = pytest.mark.slow

SHOWN_IDS = (
    "return [...document.querySelectorAll('#jobs a.job-link')]"
    ".map(a => decodeURIComponent(a.getAttribute('href').slice('#/job/'.length)))"
)


def counted(first: int, last: int) -> str:
    """The page's count as the UI writes it (an en dash between the positions)."""
    return f"{first}\N{EN DASH}{last} of 120"


def page_showing(browser, count: str) -> list[str]:
    """Waits for the page whose count reads ``count``; the ids of its rows."""
    # Read in one step: the list redraws on every navigation, and an element found
    # before a redraw is stale by the time its text is asked for (seen in CI).
    WebDriverWait(browser, 20).until(
        lambda d: (
            d.execute_script(
                "const e = document.getElementById('jobs-count'); return e && e.textContent"
            )
            == count
        )
    )
    return list(browser.execute_script(SHOWN_IDS))


def test_next_and_previous_show_every_entry_once_in_order(start_server, browser):
    live = start_server()
    ctx = live.server.ctx
    # 60 pending jobs and 60 runs, sort keys tied in pairs: the second page holds both.
    for number in range(60):
        ctx.jobs.add(
            Job(
                id=f"q{number:03d}",
                title=f"waiting {number}",
                profile="randread-4k",
                profile_text="[x]\nrw=read\n",
                workers=1,
                target="local",
                status=QUEUED,
                created=1000.0 + number // 2,
            )
        )
        ctx.store.record(make_run(f"r{number:03d}", started_at=100.0 + number // 2))
    listed = requests.get(f"{live.url}/api/v1/jobs?limit=500", timeout=30).json()["data"]
    everything = [entry["id"] for entry in listed]
    assert len(everything) == 120

    browser.get(f"{live.url}/#/jobs")
    pages = []
    for count in (counted(1, 50), counted(51, 100), counted(101, 120)):
        pages.append(page_showing(browser, count))
        following = browser.find_element(By.ID, "jobs-next")
        if count == counted(101, 120):
            assert not following.is_enabled()
        else:
            following.click()
    assert [entry for page in pages for entry in page] == everything
    browser.find_element(By.ID, "jobs-previous").click()
    assert page_showing(browser, counted(51, 100)) == pages[1]
    browser.find_element(By.ID, "jobs-previous").click()
    assert page_showing(browser, counted(1, 50)) == pages[0]
    assert not browser.find_element(By.ID, "jobs-previous").is_enabled()
    assert console_errors(browser) == []
