"""``GET /metrics`` benchmark (a script, not a test): scrape times at 500 history keys.

    .venv/bin/python benchmarks/metrics_bench.py [--runs 10000] [--copies 10] [--store PATH]

1. A history of ``runs`` runs over 500 keys (benchmarks/history_data.py: real 2-worker
   json+ documents, noisy series with known steps, 5 keys of 1,000 runs), made
   ``copies`` times as long (history_data.multiply_history: 100k runs by default);
   ``--store PATH`` keeps it there and reuses it the next time.
2. A server process of its own, started on it with no summary cached: scrapes until every
   key's state is derived (each scrape derives for at most server.metrics.REFRESH_BUDGET_S),
   then ``--samples`` warm scrapes (target p95 < 200 ms), each parsed by
   prometheus_client's own parser; then one new run recorded by another process on 10
   keys and the scrapes until their states are derived again; then a restarted server's
   first scrape (states read back from the store's summary cache).

Everything runs on 127.0.0.1 in a temporary directory and is bounded by the counts given.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history_data import multiply_history, record_history  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from server_bench import percentile, record_one_more, server_process  # noqa: E402

from pytest_fioloadgen.store.sqlite import SQLiteStore  # noqa: E402
from tests.conftest import server_config  # noqa: E402

KEYS = 500
TARGET_MS = 200.0


def build(path: Path, runs: int, copies: int) -> None:
    started = time.perf_counter()
    with SQLiteStore(path) as store:
        record_history(store, runs=runs, keys=KEYS, long_keys=5, long_runs=1000)
    total = multiply_history(path, copies) if copies > 1 else runs
    print(
        f"history: {total} runs over {KEYS} keys written in {time.perf_counter() - started:.0f} s"
    )


def scrape(port: int) -> tuple[float, dict[str, list]]:
    """(milliseconds, samples by family) of one scrape, parsed as Prometheus would."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    body = response.read().decode()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status != 200:
        raise SystemExit(f"/metrics answered {response.status}: {body[:200]}")
    families = {family.name: family.samples for family in text_string_to_metric_families(body)}
    return elapsed, families


def gauge(families: dict[str, list], name: str) -> float:
    (sample,) = families[name]
    return float(sample.value)


def until_derived(port: int, most: int = 1000) -> list[float]:
    """Scrapes (milliseconds each) until no key's state is pending."""
    times = []
    for _ in range(most):
        elapsed, families = scrape(port)
        times.append(elapsed)
        if not gauge(families, "fioloadgen_history_keys_pending"):
            return times
    raise SystemExit(f"keys still pending after {most} scrapes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs recorded one by one")
    parser.add_argument("--copies", type=int, default=10, help="then made this many times longer")
    parser.add_argument("--store", type=Path, help="keep the history here (reused when present)")
    parser.add_argument("--samples", type=int, default=50, help="warm scrapes timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-metrics-bench-") as tmp:
        config = server_config(Path(tmp))
        db_path = Path(config.store_uri)
        if args.store is not None and args.store.exists():
            print(f"history: reusing {args.store}")
        else:
            build(args.store or db_path, args.runs, args.copies)
        if args.store is not None:
            shutil.copy(args.store, db_path)
        with server_process(config) as server:
            started = time.perf_counter()
            scrapes = until_derived(server.port)
            filled = time.perf_counter() - started
            families = scrape(server.port)[1]
            series = sum(len(samples) for samples in families.values())
            print(
                f"cold: {len(scrapes)} scrapes ({filled:.1f} s, the longest "
                f"{max(scrapes):.0f} ms) until the states of all "
                f"{gauge(families, 'fioloadgen_history_keys_exported'):.0f} keys were derived; "
                f"{series} series per scrape"
            )
            warm = [scrape(server.port)[0] for _ in range(args.samples)]
            print(
                f"warm scrape at {KEYS} keys: p50 {statistics.median(warm):.1f} ms, "
                f"p95 {percentile(warm, 95):.1f} ms, max {max(warm):.1f} ms "
                f"(target p95 < {TARGET_MS:.0f} ms)"
            )
            keys = [
                sample.labels["history_key"]
                for sample in families["fioloadgen_key_newest_run_timestamp_seconds"]
            ][:10]
            record_one_more(db_path, keys)
            started = time.perf_counter()
            changed = until_derived(server.port)
            print(
                f"after a new run on 10 keys: {len(changed)} scrapes "
                f"({time.perf_counter() - started:.1f} s, the longest {max(changed):.0f} ms) "
                "until they were derived again"
            )
            warm = [scrape(server.port)[0] for _ in range(args.samples)]
            print(f"  then warm again: p95 {percentile(warm, 95):.1f} ms")
        with server_process(config) as server:
            restarted, families = scrape(server.port)
            pending = gauge(families, "fioloadgen_history_keys_pending")
            print(
                f"restarted server, first scrape: {restarted:.0f} ms (states read back from "
                f"the store's summary cache; {pending:.0f} keys pending); second "
                f"{scrape(server.port)[0]:.0f} ms"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
