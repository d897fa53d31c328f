"""Results-server benchmarks (a script, not a test): prints the figures of the README.

    .venv/bin/python benchmarks/server_bench.py [--runs 100000] [--clients 200] [--requests 5000]

1. A history of N runs (real 2-worker json+ documents, recorded through the store) and as
   many jobs: p95 of one job-list page over HTTP, p95 of a 1000-point history series over
   HTTP, and the stored bytes per run.
2. C concurrent clients (keep-alive connections) sending R requests in all against the
   read API on loopback: errors and latency percentiles.

Everything runs on 127.0.0.1 in a temporary directory and is bounded by the counts given.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fioloadgen_server.jobsdb import COMPLETE, Job  # noqa: E402
from fioloadgen_server.wsgi import serving_in_thread  # noqa: E402

from pytest_fioloadgen.fio.results import parse_result  # noqa: E402
from pytest_fioloadgen.store.base import RunRecord  # noqa: E402
from tests.conftest import server_config  # noqa: E402

GOLDEN = ROOT / "tests" / "data" / "golden" / "randread-w2.json"
SERIES_KEY = "00000000000000aa"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def populate(server, runs: int) -> tuple[float, int]:
    """Record ``runs`` runs (1000 of them on one history key) and one job per run."""
    raw = json.loads(GOLDEN.read_text())
    metrics = dict(parse_result(raw).metrics)
    profile_text = (ROOT / "profiles" / "randread-4k.fio").read_text()
    store, jobs = server.ctx.store, server.ctx.jobs
    template = RunRecord(
        run_id="",
        session_id="bench",
        profile_name="randread-4k",
        profile_hash="h" * 64,
        profile_text=profile_text,
        workers=2,
        backend="local",
        target="local",
        started_at=0.0,
        finished_at=0.0,
        metrics=metrics,
        labels={"git_commit": "0" * 40, "git_branch": "main"},
        fingerprint={"fio_version": "fio-3.33", "host": {"kernel": "6.1"}},
        raw=raw,
        verdict="pass",
    )
    db_path = Path(store.uri.removeprefix("sqlite://"))
    before = db_path.stat().st_size
    started = time.perf_counter()
    batch: list[Job] = []
    for n in range(runs):
        key = SERIES_KEY if n % max(1, runs // 1000) == 0 else f"{n % 500:016x}"
        run = dataclasses.replace(
            template,
            run_id=uuid.uuid4().hex,
            started_at=1.7e9 + n,
            finished_at=1.7e9 + n + 30,
            history_key=key,
        )
        store.record(run)
        batch.append(
            Job(
                id=run.run_id,
                title=f"run {n}",
                profile="randread-4k",
                profile_text=profile_text,
                workers=2,
                target="local",
                status=COMPLETE,
                created=run.started_at,
                started=run.started_at,
                ended=run.finished_at,
                summary=metrics,
                source="recorded",
                history_key=key,
            )
        )
        if len(batch) == 1000:
            jobs.add_many(batch)
            batch = []
    if batch:
        jobs.add_many(batch)
    elapsed = time.perf_counter() - started
    server.ctx.store.close()  # checkpoint the WAL so the file size is the stored size
    grown = db_path.stat().st_size - before
    server.ctx.store = type(store)(db_path)
    return elapsed, grown // runs


def timed_gets(port: int, path: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, body[:200]
    conn.close()
    return times


def load(port: int, clients: int, total: int) -> dict[str, float]:
    paths = ["/api/v1/status", "/api/v1/jobs?limit=20", "/api/v1/profiles", "/api/ping"]
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(index: int, count: int) -> None:
        mine, failed = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        for n in range(count):
            began = time.perf_counter()
            try:
                conn.request("GET", paths[(index + n) % len(paths)])
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((time.perf_counter() - began) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(i, c)) for i, c in enumerate(per_client)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "rps": len(latencies) / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5000, help="in all, over every client")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-bench-") as tmp:
        config = dataclasses.replace(server_config(Path(tmp)), threads=32)
        with serving_in_thread(config) as server:
            elapsed, per_run = populate(server, args.runs)
            print(f"history: {args.runs} runs recorded in {elapsed:.1f} s")
            print(f"stored bytes per 2-worker run: {per_run} (target <= 16384)")
            page = timed_gets(server.port, "/api/v1/jobs?limit=50", args.samples)
            deep = timed_gets(server.port, "/api/v1/jobs?limit=50&offset=50000&status=complete", 50)
            print(
                f"job list page (50 of {args.runs}): p50 {statistics.median(page):.1f} ms, "
                f"p95 {percentile(page, 95):.1f} ms (target <= 50); deep page p95 "
                f"{percentile(deep, 95):.1f} ms"
            )
            series = timed_gets(
                server.port, f"/api/v1/history/{SERIES_KEY}?metric=iops&limit=1000", 30
            )
            print(
                f"history series of 1000 points: p50 {statistics.median(series):.1f} ms, "
                f"p95 {percentile(series, 95):.1f} ms (target <= 100)"
            )
            figures = load(server.port, args.clients, args.requests)
            print(
                f"load: {args.clients} clients, {figures['requests']:.0f} requests: "
                f"{figures['errors']:.0f} errors, p50 {figures['p50_ms']:.1f} ms, "
                f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms "
                f"(target <= 200), {figures['rps']:.0f} req/s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
