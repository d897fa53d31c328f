#!/usr/bin/env python3
"""Size and speed of the reports for many benchmark cases.

Runs the real plugin (extras, store, history sparklines, session summary) on a generated
suite of N cases (default 200: 25 profiles x 1,2,4,8 workers x 2 targets) whose backend
replays a real fio 3.33 json+ document (tests/data/golden) instead of running fio, with
a 60 s time series per worker and one slow worker per case. A first session seeds the
history, the second writes report.html. Then it opens the report in headless Chromium
and times it until the results table is rendered, collapsed (pytest-html's default for
passed tests) and with every extra expanded; it also builds the static history site.

    .venv/bin/python scripts/bench_report.py [--cases 200] [--keep DIR]

Prints the figures and exits 1 when the report is 10 MB or more or loads in 3 s or more.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_BYTES = 10 * 1000 * 1000
LIMIT_LOAD_S = 3.0
WORKER_COUNTS = (1, 2, 4, 8)
TARGETS = ("fast", "slow")

TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
PROFILE = """# bench profile {n}
[global]
ioengine=psync
size=4m
runtime=60
time_based
[job{n}]
rw=randread
bs=4k
"""


def make_project(directory: Path, cases: int) -> list[str]:
    per_profile = len(WORKER_COUNTS) * len(TARGETS)
    profiles = directory / "profiles"
    profiles.mkdir(parents=True)
    for n in range(max(1, cases // per_profile)):
        (profiles / f"p{n:02d}.fio").write_text(PROFILE.format(n=n))
    shutil.copy(Path(__file__).with_name("bench_report_replay.py"), directory / "conftest.py")
    (directory / "test_bench.py").write_text(TEST)
    (directory / "pytest.ini").write_text("[pytest]\n")
    args = ["--fio-profiles-dir", str(profiles), "--fio-workers", ",".join(map(str, WORKER_COUNTS))]
    for target in TARGETS:
        args += ["--fio-target", f"{target}={directory}"]
    return [*args, "--fio-store", str(directory / "history.db"), "-p", "no:cacheprovider", "-q"]


def run_pytest(directory: Path, args: list[str]) -> float:
    started = time.monotonic()
    golden = ROOT / "tests" / "data" / "golden" / "randread-w1.json"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "FIOLOADGEN_BENCH_GOLDEN": str(golden)},
    )
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-3000:])
        raise SystemExit(f"pytest failed with status {completed.returncode}")
    return time.monotonic() - started


def chromium() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        options.add_argument(flag)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def load_seconds(driver: Any, url: str, rows: int, selector: str, expected: int) -> float:
    """From navigation until the table has its rows and the extras are in the DOM."""
    started = time.monotonic()
    driver.get(url)
    while time.monotonic() - started < 60:
        counts = driver.execute_script(
            "return [document.querySelectorAll('#results-table tbody.results-table-row').length,"
            " document.querySelectorAll(arguments[0]).length]",
            selector,
        )
        if counts[0] >= rows and counts[1] >= expected:
            # one more frame so that layout and paint of what is visible are included
            driver.execute_script("return new Promise(r => requestAnimationFrame(() => r()))")
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"{url}: the table did not render within 60 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="keep the generated project in this directory")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="fioloadgen-bench-report-"))
    if args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    try:
        pytest_args = make_project(directory, args.cases)
        seed_s = run_pytest(directory, pytest_args)
        html_args = [*pytest_args, "--html", "report.html", "--self-contained-html"]
        report_s = run_pytest(directory, html_args)
        report = directory / "report.html"
        size = report.stat().st_size
        cases = args.cases
        driver = chromium()
        try:
            url = report.as_uri()
            load_seconds(driver, url, cases, ".fioloadgen-result", cases)  # warm-up
            collapsed = min(
                load_seconds(driver, url, cases, ".fioloadgen-result", cases) for _ in range(3)
            )
            expanded = min(
                load_seconds(driver, url + "?collapsed=", cases, "svg.fioloadgen-chart", cases * 5)
                for _ in range(3)
            )
            errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        finally:
            driver.quit()
        site = directory / "site"
        started = time.monotonic()
        store = str(directory / "history.db")
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest_fioloadgen.cli",
                "report",
                "--store",
                store,
                "--out",
                str(site),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        site_s = time.monotonic() - started
        site_bytes = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        per_case_kb = size / cases / 1e3
        figures = {
            "cases": f"{cases} (2 sessions: the first gives the sparklines a history)",
            "pytest session with --html": f"{report_s:.1f} s (seed session {seed_s:.1f} s)",
            "report.html (self-contained)": f"{size / 1e6:.2f} MB ({per_case_kb:.1f} kB/case)",
            "load in headless Chromium": f"{collapsed:.2f} s collapsed (pytest-html default), "
            f"{expanded:.2f} s with every extra expanded",
            "console errors": str(len(errors)),
            "static site": f"{site_bytes / 1e6:.2f} MB, {site_s:.1f} s; {completed.stdout.strip()}",
        }
        for name, figure in figures.items():
            print(f"{name + ':':30} {figure}")
        slowest = max(collapsed, expanded)
        ok = size < LIMIT_BYTES and slowest < LIMIT_LOAD_S and not errors
        limits = f"{LIMIT_BYTES / 1e6:.0f} MB, {LIMIT_LOAD_S:.0f} s, no console errors"
        print("OK" if ok else f"FAILED (limits: {limits})")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
