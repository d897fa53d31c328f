"""Script and markup in user text stay text, in headless Chromium: job titles, labels,
profile names and descriptions, targets, worker names, errors and test ids, on every page
of the server's web UI and of the static history site.

Every payload carries ``data-xss``: an injected element is found by that attribute, a
script or handler that ran sets ``window.__xss``, and each page must show the payload's
text verbatim, so a field the page stopped rendering cannot pass for a safe one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests

from conftest import console_errors, show_every_run_section
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import RunRecord, open_store
from pytest_fioloadgen.store.wire import run_to_json

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "randread-w2.json"
PAYLOADS = (
    '<img src=x data-xss onerror="window.__xss=(window.__xss||0)+1">',
    "<script data-xss>window.__xss=1</script>",
    '"><svg data-xss onload="window.__xss=1">',
    "'><iframe data-xss src=javascript:window.parent.__xss=1>",
    "</script><b data-xss>bold</b>",
)
KEY = "00000000000000ff"

INJECTED = (
    "return [window.__xss === undefined ? 0 : window.__xss,"
    " document.querySelectorAll('[data-xss]').length, document.body.innerText]"
)


def payload(index: int) -> str:
    return PAYLOADS[index % len(PAYLOADS)]


def hostile_run(run_id: str, started: float) -> RunRecord:
    raw = json.loads(GOLDEN.read_text())
    raw = copy.deepcopy(raw)
    for index, client in enumerate(raw["client_stats"]):
        if client["jobname"] != "All clients":
            client["hostname"] = f"w{index} {payload(index + 2)}"
    return RunRecord(
        run_id=run_id,
        session_id=f"session {payload(1)}",
        profile_name=f"randread {payload(0)}",
        profile_hash="h",
        profile_text=f"[rr]\nrw=randread\n# {payload(4)}\n",
        workers=2,
        backend=f"local{payload(3)}",
        target=f"fast {payload(2)}",
        started_at=started,
        finished_at=started + 1,
        metrics={"iops": 1000.0 + started, "read_lat_p99_ms": 0.2},
        labels={"job_title": f"title {payload(1)}", f"key{payload(0)}": f"value {payload(3)}"},
        fingerprint={"host": payload(4)},
        raw=raw,
        test_id=f"test_x[{payload(2)}]",
        verdict="pass",
        history_key=KEY,
    )


def assert_inert(browser, where: str, *expected: str) -> None:
    ran, injected, text = browser.execute_script(INJECTED)
    assert ran == 0, f"a payload's script ran on {where}"
    assert injected == 0, f"{injected} payload elements were injected on {where}"
    for piece in expected:
        assert piece in text, f"{where} does not show {piece!r} as text"


def wait_for_text(browser, css: str, timeout: float = 20.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(
        lambda d: d.execute_script(
            "const e = document.querySelector(arguments[0]); return e && e.innerText.length",
            css,
        )
    )


def test_user_text_is_inert_in_the_web_ui(start_server, browser):
    live = start_server()
    for index, started in enumerate((100.0, 200.0)):
        document = run_to_json(hostile_run(f"run-{index}", started))
        response = requests.post(live.url + "/api/v1/runs", json=document, headers=live.auth)
        assert response.status_code == 201, response.text
    queued = requests.post(
        live.url + "/api/v1/jobs",
        json={
            "profile": "randread-4k",
            "workers": 1,
            "title": f"queued {payload(0)}",
            "labels": {"ci": payload(1)},
        },
        headers=live.auth,
        timeout=30,
    ).json()["data"]["id"]
    description = f"# described {payload(2)}\n[global]\nioengine=psync\nsize=4m\n[rr]\nrw=read\n"
    added = requests.put(
        live.url + "/api/v1/profiles/hostile",
        json={"text": description},
        headers=live.auth,
        timeout=30,
    )
    assert added.status_code == 201, added.text

    pages = (
        ("#/jobs", "#jobs", (f"title {payload(1)}", f"queued {payload(0)}", f"fast {payload(2)}")),
        (
            "#/job/run-1",
            "#summary",
            (f"title {payload(1)}", f"value {payload(3)}", f"w0 {payload(2)}"),
        ),
        (f"#/job/{queued}", "#job-summary", (f"queued {payload(0)}", f"ci={payload(1)}")),
        ("#/history", "#history-keys", (f"randread {payload(0)}", f"local{payload(3)}")),
        ("#/overview", "#overview-keys-table", (f"randread {payload(0)}",)),
        (f"#/history/{KEY}", "#key-points", (f"randread {payload(0)}",)),
        ("#/compare/run-0,run-1", "#compare", (f"title {payload(1)}",)),
        ("#/profiles", "#profiles", (f"described {payload(2)}",)),
    )
    for fragment, ready, expected in pages:
        browser.get(f"{live.url}/{fragment}")
        wait_for_text(browser, ready)
        if ready == "#summary":
            show_every_run_section(browser)  # the run page's tabs, every one shown
        assert_inert(browser, fragment, *expected)
    browser.find_element("css selector", "#profiles button.view").click()
    # CSP violations (an inline script that was blocked) are console errors too.
    assert console_errors(browser) == []


def test_user_text_is_inert_in_the_static_site(browser, tmp_path):
    store = open_store(str(tmp_path / "h.db"))
    try:
        for index, started in enumerate((100.0, 200.0, 300.0)):
            store.record(hostile_run(f"run-{index}", started))
        build_site(store, tmp_path / "site")
    finally:
        store.close()
    site = tmp_path / "site"
    key_pages = list((site / "keys").glob("*.html"))
    # One data-driven run page (run.html#<id>) renders each run's data file.
    run_data = sorted((site / "runs").rglob("*.js"))
    assert key_pages and len(run_data) == 3
    for url, name, expected in (
        ((site / "index.html").as_uri(), "index.html", (f"randread {payload(0)}",)),
        (key_pages[0].as_uri(), key_pages[0].name, (f"randread {payload(0)}",)),
        (
            f"{(site / 'run.html').as_uri()}#run-0",
            "run.html#run-0",
            (f"session {payload(1)}", f"value {payload(3)}", payload(4)),
        ),
    ):
        browser.get(url)
        wait_for_text(browser, "body")
        if name.startswith("run.html"):
            wait_for_text(browser, "#summary")
            show_every_run_section(browser)
        assert_inert(browser, name, *expected)
    assert console_errors(browser) == []
