"""Every page kind of the results server's UI and of the static site, in headless Chromium
at 1280 px, checked by axe-core (vendored from npm in tests/browser/vendor/axe-core, see
scripts/vendor-axe-core.sh: no network): no violation of impact serious or critical.
Keyboard use is checked from the DOM (Tab reaches the navigation and the list rows' links
in order, Enter opens them, the focus is visible); a screenshot of each page is saved as
evidence (the test's tmp dir and $FIO_ARTIFACTS).

One browser and one server serve the whole module; a new page kind is one line in PAGES.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import chromium, console_errors, save_full_page_screenshot
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.fio.spectrum import run_spectrum
from pytest_fioloadgen.report.site import build_site, file_name
from pytest_fioloadgen.store.sqlite import SQLiteStore
from tests.overview_history import KEY_A, NOW, SESSIONS, record_overview_history, run
from tests.timeline_cases import raw_with_timeline

pytestmark = pytest.mark.slow

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: axe-core's impacts that fail the test (minor and moderate are reported, not failed).
FAILING = ("serious", "critical")
KEY_RICH = "e" * 16
WIDTH = 1280

# axe.run's violations, trimmed to what a failure message needs.
RUN_AXE = """
const done = arguments[arguments.length - 1];
// From file:// axe cannot fetch the style sheets again (its CSSOM preload, for one rule).
axe.run(document, {resultTypes: ['violations'], preload: location.protocol !== 'file:'}).then(
  r => done({passes: r.passes.length,
    violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.map(n => n.target.join(' ')).slice(0, 8), count: v.nodes.length}))}),
  e => done({error: String(e)}));
"""
#: Rules passed on the smallest page kind (a job's without a run) is about 25: far fewer means
#: axe judged an empty or half-drawn page.
MIN_PASSED_RULES = 15


@dataclasses.dataclass(frozen=True)
class PageKind:
    """One kind of page: where it lives, the address of an instance, and the selector
    that is present once that instance is drawn (not the page before it)."""

    name: str
    where: str  # "ui" (the results server) or "site" (the static site)
    address: str
    ready: str


RICH_RUN, BASE_RUN, QUEUED_JOB, CANCELLED_JOB = "rich-run", "rich-base", "q-waiting", "q-cancelled"
PAGES = [
    PageKind("overview", "ui", "#/overview", "#overview[data-rendered]"),
    PageKind("runs-list", "ui", "#/jobs", "#jobs tr[data-job]"),
    PageKind("run", "ui", f"#/job/{RICH_RUN}", f"#run[data-rendered='{RICH_RUN}']"),
    # A job without a run (a queued one's page redraws every 2 s: axe would race it).
    PageKind("cancelled-job", "ui", f"#/job/{CANCELLED_JOB}", "#job-summary ~ pre#profile-text"),
    PageKind("history", "ui", "#/history", "#history-keys"),
    PageKind("key", "ui", f"#/history/{KEY_A}", "[data-rendered] #key-points"),
    PageKind("compare", "ui", f"#/compare/{BASE_RUN},{RICH_RUN}", "#compare-charts canvas"),
    PageKind("sessions", "ui", "#/sessions", "#sessions tr[data-session]"),
    PageKind(
        "compare-sets",
        "ui",
        f"#/compare-sets/session:session-{SESSIONS - 2:02d}/session:session-{SESSIONS - 1:02d}",
        "#compare-sets-table",
    ),
    PageKind("profiles", "ui", "#/profiles", "#profiles"),
    PageKind("index", "site", "index.html", "#overview[data-rendered]"),
    PageKind("key", "site", f"keys/{file_name(KEY_A)}.html", "[data-rendered] #key-points"),
    PageKind("run", "site", f"run.html#{RICH_RUN}", f"#run[data-rendered='{RICH_RUN}']"),
    PageKind("compare", "site", f"compare.html#{BASE_RUN},{RICH_RUN}", "#compare[data-rendered]"),
]


def record_rich_runs(store: SQLiteStore, logs: Path) -> None:
    raw = raw_with_timeline("randrw-w2", logs)
    spectrum = run_spectrum(parse_result(raw))
    for number, run_id in enumerate((BASE_RUN, RICH_RUN)):
        store.record(
            run(
                SESSIONS - 1,
                KEY_A,  # the defaults of a key of the history, then made a key of its own
                900.0 + number * 50,
                history_key=KEY_RICH,
                test_id="tests/test_perf.py::test_mix[w2]",
                run_id=run_id,
                session_id=f"session-{SESSIONS - 2 + number:02d}",
                started_at=NOW - 600 + number * 300,
                finished_at=NOW - 590 + number * 300,
                profile_name="randrw-mix",
                workers=2,
                raw=raw,
                spectrum=spectrum,
                labels={"git_commit": f"rich{number}", "team": "storage"},
                fingerprint={"host": "vm", "fio_version": "fio-3.33"},
                notes=("size 1g -> 32m",),
                # Both colours of the verdict badges a page can show besides pass.
                verdict=("inconclusive", "regression")[number],
                evidence={"reason": ("too noisy to tell", "IOPS 20% below the baseline")[number]},
            )
        )


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The results server and the static site over one store; the base address of each."""
    from fioloadgen_server.jobsdb import CANCELLED, QUEUED, Job
    from fioloadgen_server.wsgi import serving_in_thread

    from tests.conftest import server_config

    base = tmp_path_factory.mktemp("a11y")
    config = server_config(base)
    record_overview_history(Path(config.store_uri))
    store = SQLiteStore(Path(config.store_uri))
    try:
        logs = base / "logs"
        logs.mkdir()
        record_rich_runs(store, logs)
        build_site(store, base / "site")
    finally:
        store.close()
    with serving_in_thread(config) as server:
        # Server jobs without a run (no executor: the queued one stays queued).
        for job_id, status in ((QUEUED_JOB, QUEUED), (CANCELLED_JOB, CANCELLED)):
            server.ctx.jobs.add(
                Job(
                    id=job_id,
                    title=f"{status} job",
                    profile="randread-4k",
                    profile_text="[x]\nrw=read\n",
                    workers=1,
                    target="local",
                    status=status,
                    created=NOW,
                )
            )
        yield {"ui": f"http://127.0.0.1:{server.port}/", "site": (base / "site").as_uri() + "/"}


@pytest.fixture(scope="module")
def module_browser(tmp_path_factory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        driver.set_window_size(WIDTH, 1000)
        yield driver


def open_page(browser: Any, url: str, ready: str, *, reload: bool = False) -> None:
    """Shows ``url`` (loaded afresh with ``reload``: Tab then starts from the top) and
    waits until an element matches ``ready``."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    if reload:
        browser.refresh()
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script(
            "return document.readyState === 'complete' && !!document.querySelector(arguments[0])",
            ready,
        )
    )


def axe_violations(browser: Any) -> list[dict[str, Any]]:
    """axe-core's violations of the page shown (injected once per document)."""
    if not browser.execute_script("return !!window.axe"):
        browser.execute_script(AXE.read_text(encoding="utf-8"))
    browser.set_script_timeout(60)
    found = browser.execute_async_script(RUN_AXE)
    assert "error" not in found, found
    assert found["passes"] >= MIN_PASSED_RULES, found
    return list(found["violations"])


def failing(violations: list[dict[str, Any]]) -> str:
    """The serious and critical violations, one per line ("" when there is none)."""
    return "\n".join(
        f"{v['id']} ({v['impact']}, {v['count']} node(s)): {v['help']} -> {v['targets']}"
        for v in violations
        if v["impact"] in FAILING
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.where}-{p.name}")
def test_no_serious_accessibility_violation(page, pages, module_browser, tmp_path):
    open_page(module_browser, pages[page.where] + page.address, page.ready)
    # Charts and late sections draw in animation frames: let them settle before judging.
    module_browser.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));"
    )
    violations = axe_violations(module_browser)
    save_full_page_screenshot(module_browser, tmp_path, f"a11y-{page.where}-{page.name}.png")
    # Minor and moderate findings are shown (pytest -rA or -s), not failed.
    for v in violations:
        print(f"{v['id']} ({v['impact']}, {v['count']} node(s)): {v['help']} -> {v['targets']}")
    problems = failing(violations)
    assert problems == "", f"{page.where} {page.name} ({page.address}):\n{problems}"
    assert console_errors(module_browser) == []


def test_axe_reports_an_unlabelled_input(pages, module_browser):
    """The check above cannot pass vacuously: on a page where axe ran clean, an input
    without a label and white-on-yellow text are found and fail."""
    open_page(module_browser, pages["site"] + "index.html", "#overview[data-rendered]")
    module_browser.execute_script(
        "const box = document.createElement('input'); box.id = 'a11y-bad-input';"
        "document.body.append(box);"
        "const p = document.createElement('p'); p.textContent = 'hard to read';"
        "p.style.cssText = 'color:#fff;background:#ff0';"
        "document.body.append(p);"
    )
    problems = failing(axe_violations(module_browser))
    assert "label (critical" in problems and "#a11y-bad-input" in problems, problems
    assert "color-contrast (serious" in problems, problems


# --- the keyboard ------------------------------------------------------------------------

# The focused element after each Tab: its id, class, href, the row it is in (data-job or
# data-key), whether it matches the selector given, and whether its focus indicator is
# drawn (our outline, at least 2 px wide: Chromium's default ring is a thin 1 px).
FOCUSED = """
const e = document.activeElement, until = arguments[0];
const row = e.closest('tr[data-job], tr[data-key]');
const style = getComputedStyle(e);
return {id: e.id, cls: e.className && e.className.baseVal === undefined ? e.className : '',
  tag: e.tagName, href: e.getAttribute('href'),
  row: row ? (row.dataset.job || row.dataset.key) : null,
  matches: !!until && e.matches(until),
  visible: e.matches(':focus-visible') && style.outlineStyle !== 'none'
    && parseFloat(style.outlineWidth) >= 2};
"""


def tab_through(browser: Any, presses: int, *, until: str = "") -> list[dict[str, Any]]:
    """What Tab focuses, from the top of a page just loaded: ``presses`` times, or until the focus
    is on an element matching the CSS selector ``until`` (left focused there), or until
    the page's end (the focus leaves for the browser's own controls: the body is active)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    seen = []
    for _ in range(presses):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused = browser.execute_script(FOCUSED, until or None)
        if focused["tag"] == "BODY":
            break
        seen.append(focused)
        if focused["matches"]:
            break
    return seen


def press_enter(browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(browser).send_keys(Keys.ENTER).perform()


def rows_in_order(focused: list[dict[str, Any]], rows: list[str]) -> list[str]:
    """The rows the focus went through, each once, in the order it reached them; they
    are the list's first rows, in the list's order."""
    order: list[str] = []
    for item in focused:
        if item["row"] and item["row"] not in order:
            order.append(item["row"])
    assert order == rows[: len(order)], (order, rows)
    return order


def kind_of(item: dict[str, Any]) -> str:
    """A runs list row's control: its checkbox ("pick"), its link, or a button."""
    classes = item["cls"].split()
    return "pick" if "pick" in classes else "link" if "job-link" in classes else item["tag"]


def assert_focus_visible(focused: list[dict[str, Any]]) -> None:
    hidden = [item for item in focused if not item["visible"]]
    assert focused and not hidden, hidden


def test_keyboard_reaches_the_navigation_and_the_runs_in_order(pages, module_browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser = module_browser
    open_page(browser, pages["ui"] + "#/jobs", "#jobs tr[data-job]", reload=True)
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#jobs tr[data-job]')].map(r => r.dataset.job)"
    )
    focused = tab_through(browser, 40)
    assert_focus_visible(focused)
    ids = [item["id"] for item in focused]
    nav = ["nav-overview", "nav-profiles", "nav-jobs", "nav-sessions", "nav-history"]
    assert [i for i in ids if i.startswith("nav-")] == nav
    assert ids.index("nav-history") < ids.index("token") < ids.index("filter-q")
    reached = rows_in_order(focused, rows)
    assert len(reached) >= 3, reached
    # In each row: its checkbox, its link, then its actions menu (cancel, delete, rerun...).
    for row in reached[:-1]:  # the last row reached may be cut short by the presses
        kinds = [kind_of(item) for item in focused if item["row"] == row]
        assert kinds == ["pick", "link", "SUMMARY"], (row, kinds)
    # Enter on the second row's link, reached by Tab, opens that run.
    second = f"#jobs tr[data-job='{reached[1]}'] a.job-link"
    open_page(browser, pages["ui"] + "#/jobs", "#jobs tr[data-job]", reload=True)
    assert tab_through(browser, 60, until=second)[-1]["matches"]
    press_enter(browser)
    WebDriverWait(browser, 15).until(lambda b: b.find_elements("css selector", "#job-summary"))
    assert browser.execute_script("return location.hash") == f"#/job/{reached[1]}"


def test_keyboard_reaches_the_site_index_keys_in_order(pages, module_browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser = module_browser
    open_page(browser, pages["site"] + "index.html", "#overview[data-rendered]", reload=True)
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#overview-keys-table tr[data-key]')]"
        ".map(r => r.dataset.key)"
    )
    focused = tab_through(browser, 80)
    assert_focus_visible(focused)
    assert focused[0]["tag"] == "A" and focused[0]["href"] == "index.html"
    ids = [item["id"] for item in focused]
    assert "overview-filter" in ids
    keys = [item["row"] for item in focused if "fio-key-link" in item["cls"]]
    assert keys == rows
    assert ids.index("overview-filter") < [i["row"] for i in focused].index(rows[0])
    # Enter on the first key's link, reached by Tab, opens the key's page.
    first = f"tr[data-key='{rows[0]}'] a.fio-key-link"
    open_page(browser, pages["site"] + "index.html", "#overview[data-rendered]", reload=True)
    assert tab_through(browser, 80, until=first)[-1]["matches"]
    press_enter(browser)
    WebDriverWait(browser, 15).until(lambda b: b.find_elements("id", "key-points"))
    assert browser.current_url.endswith(f"keys/{file_name(rows[0])}.html")
