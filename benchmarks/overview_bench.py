"""Overview benchmark (a script, not a test): how long the UI's home takes to load.

    .venv/bin/python benchmarks/overview_bench.py [--runs 100000] [--store PATH] [--samples 30]
        [--no-browser]

1. The history of benchmarks/server_bench.py: N runs over 500 keys (50 of them with 1,000
   runs, noisy IOPS series with known steps, each run a 2-worker json+ document of its
   own; benchmarks/history_data.py), recorded through the store; ``--store PATH`` keeps it
   there and reuses it the next time (the store is copied: its summary cache stays cold).
2. A server process of its own, started on it with no summary cached:
   ``GET /api/v1/overview`` until no key is pending (cold: each request derives for at
   most server.metrics.REFRESH_BUDGET_S, the UI asks again meanwhile), then ``--samples``
   warm requests (target p95 < 1 s), then the UI's home in headless Chromium at 1280 px
   from navigation to the overview drawn (warm); then a restarted server's first request
   (rows read back from the store's summary cache).

Everything runs on 127.0.0.1 in a temporary directory and is bounded by the counts given.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from history_data import record_history  # noqa: E402
from server_bench import KEYS, LONG_KEYS, LONG_RUNS, percentile, server_process  # noqa: E402

from pytest_fioloadgen.store.sqlite import SQLiteStore  # noqa: E402
from tests.conftest import server_config  # noqa: E402

TARGET_S = 1.0
#: Resolves with performance.now() when the overview is drawn (at once if it already is).
WHEN_DRAWN = """
const done = arguments[arguments.length - 1];
const drawn = () => document.querySelector('#overview[data-rendered]');
if (drawn()) { done(performance.now()); return; }
new MutationObserver((changes, observer) => {
  if (drawn()) { observer.disconnect(); done(performance.now()); }
}).observe(document.documentElement, { subtree: true, childList: true, attributes: true });
"""


def build(path: Path, runs: int) -> None:
    started = time.perf_counter()
    with SQLiteStore(path) as store:
        record_history(store, runs=runs, keys=KEYS, long_keys=LONG_KEYS, long_runs=LONG_RUNS)
    print(
        f"history: {runs} runs over {KEYS} keys recorded in {time.perf_counter() - started:.0f} s"
    )


def overview(port: int) -> tuple[float, dict, int]:
    """(seconds, the document, bytes) of one GET /api/v1/overview."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", "/api/v1/overview")
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise SystemExit(f"/api/v1/overview answered {response.status}: {body[:200]!r}")
    return elapsed, json.loads(body)["data"], len(body)


def until_complete(port: int, most: int = 2000) -> list[float]:
    times = []
    for _ in range(most):
        elapsed, document, _size = overview(port)
        times.append(elapsed)
        if not document["pending"]:
            return times
    raise SystemExit(f"keys still pending after {most} requests")


def browser_load(port: int, samples: int) -> list[float]:
    """Seconds from navigating to the UI's home to the overview drawn, in Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="fioloadgen-overview-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    times = []
    driver.set_script_timeout(60)
    try:
        for _ in range(samples):
            driver.get("about:blank")
            driver.get(f"http://127.0.0.1:{port}/")
            # The page's own clock (ms since the navigation started), read the moment the
            # overview is drawn: no polling interval in the figure.
            drawn_ms = driver.execute_async_script(WHEN_DRAWN)
            times.append(drawn_ms / 1000)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return times


def seconds(times: list[float]) -> str:
    return (
        f"p50 {statistics.median(times) * 1000:.0f} ms, p95 {percentile(times, 95) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--store", type=Path, help="keep the history here (reused when present)")
    parser.add_argument("--samples", type=int, default=30, help="warm requests timed")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-overview-bench-") as tmp:
        config = server_config(Path(tmp))
        db_path = Path(config.store_uri)
        if args.store is not None and args.store.exists():
            print(f"history: reusing {args.store}")
        else:
            build(args.store or db_path, args.runs)
        if args.store is not None:
            shutil.copy(args.store, db_path)
        with server_process(config) as server:
            started = time.perf_counter()
            cold = until_complete(server.port)
            filled = time.perf_counter() - started
            _elapsed, document, size = overview(server.port)
            print(
                f"cold: {len(cold)} requests ({filled:.1f} s, the first {cold[0] * 1000:.0f} ms, "
                f"the longest {max(cold) * 1000:.0f} ms) until every one of the "
                f"{document['keys']} keys' rows was derived ({document['runs']} runs)"
            )
            warm = [overview(server.port)[0] for _ in range(args.samples)]
            print(
                f"warm GET /api/v1/overview ({size / 1e6:.2f} MB of JSON): {seconds(warm)} "
                f"(target p95 < {TARGET_S:.0f} s)"
            )
            if not args.no_browser:
                drawn = browser_load(server.port, min(args.samples, 10))
                print(f"warm UI home in Chromium (navigation to overview drawn): {seconds(drawn)}")
        with server_process(config) as server:
            first, document, _size = overview(server.port)
            print(
                f"restarted server, first request: {first * 1000:.0f} ms (rows read back from "
                f"the store's summary cache; {document['pending']} keys pending); second "
                f"{overview(server.port)[0] * 1000:.0f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
