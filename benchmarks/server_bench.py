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
import concurrent.futures
import contextlib
import dataclasses
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
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


PATHS = ("/api/v1/status", "/api/v1/jobs?limit=20", "/api/v1/profiles", "/api/ping")
#: Load-generator processes: Python client threads in one process would be limited by
#: that process's interpreter lock long before the server is.
CLIENT_PROCESSES = 4


def _client_process(port: int, counts: list[int], start_at: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(index: int, count: int) -> None:
        mine, failed = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(max(0.0, start_at - time.time()))
        for n in range(count):
            began = time.perf_counter()
            try:
                conn.request("GET", PATHS[(index + n) % len(PATHS)])
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

    threads = [threading.Thread(target=client, args=(i, c)) for i, c in enumerate(counts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def load(port: int, clients: int, total: int) -> dict[str, float]:
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    shares = [per_client[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    start_at = time.time() + 2.0
    with concurrent.futures.ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        futures = [pool.submit(_client_process, port, share, start_at) for share in shares]
        results = [future.result() for future in futures]
    wall = time.time() - start_at
    latencies = [value for part, _errors in results for value in part]
    return {
        "requests": len(latencies),
        "errors": sum(errors for _part, errors in results),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "rps": len(latencies) / wall,
    }


class _Process:
    def __init__(self, port: int) -> None:
        self.port = port


@contextlib.contextmanager
def server_process(config) -> Iterator[_Process]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "fioloadgen_server", "serve", "--no-executor"]
    argv += ["--port", str(port), "--store", config.store_uri, "--state-dir", str(config.state_dir)]
    argv += ["--threads", str(config.threads)]
    process = subprocess.Popen(argv, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/api/ping")
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.1)
        yield _Process(port)
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5000, help="in all, over every client")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8, help="server worker threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-bench-") as tmp:
        config = dataclasses.replace(server_config(Path(tmp)), threads=args.threads)
        with serving_in_thread(config) as server:
            elapsed, per_run = populate(server, args.runs)
        print(f"history: {args.runs} runs recorded in {elapsed:.1f} s")
        print(f"stored bytes per 2-worker run: {per_run} (target <= 16384)")
        # Measured against a server process of its own, as deployed: the load generator's
        # threads must not share the server's interpreter lock.
        with server_process(config) as server:
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
