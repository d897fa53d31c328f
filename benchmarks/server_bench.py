"""Results-server benchmarks (a script, not a test): prints the figures of the README.

    .venv/bin/python benchmarks/server_bench.py [--runs 100000] [--clients 200] [--requests 5000]
        [--threads 10] [--thread-sweep 4,10,32]

1. A history of N runs over 500 keys (benchmarks/history_data.py: 50 keys of 1,000 runs,
   every key a noisy IOPS series with known level shifts, each run a 2-worker json+
   document of its own with a time series) recorded through the store, and as many jobs.
2. Against a server process of its own, started after the history was written (no
   summary cached, nothing in the server's memory): p95 of a job-list page, and of a
   1,000-point history series cold (each of the 50 long keys asked for the first time:
   change points and band computed), warm (asked again), and after one new run of the
   key was recorded by another process (computed again); the change points it returns
   against the known steps (precision and recall).
3. C concurrent clients (keep-alive connections, 4 load-generator processes) sending R
   requests in all against the read API: errors, latency percentiles as the clients see
   them, the server's own time in the handler (its access log), and the CPU time of the
   server and of the load generator (what the 2 cores were busy with).

Everything runs on 127.0.0.1 in a temporary directory and is bounded by the counts given.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import http.client
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fioloadgen_server.jobsdb import COMPLETE, Job  # noqa: E402
from fioloadgen_server.wsgi import serving_in_thread  # noqa: E402
from history_data import record_history  # noqa: E402
from series import matched  # noqa: E402

from pytest_fioloadgen.store.base import RunRecord  # noqa: E402
from pytest_fioloadgen.store.sqlite import SQLiteStore  # noqa: E402
from tests.conftest import server_config  # noqa: E402

KEYS = 500
LONG_KEYS = 50
LONG_RUNS = 1000


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def populate(server, runs: int, long_keys: int):
    """Record the history (and one finished job per run) into the server's files."""
    store, jobs = server.ctx.store, server.ctx.jobs
    db_path = Path(store.uri.removeprefix("sqlite://"))
    before = db_path.stat().st_size
    batch: list[Job] = []

    def as_job(run: RunRecord) -> None:
        batch.append(
            Job(
                id=run.run_id,
                title=run.labels["job_title"],
                profile=run.profile_name,
                profile_text=run.profile_text,
                workers=run.workers,
                target=run.target,
                status=COMPLETE,
                created=run.started_at,
                started=run.started_at,
                ended=run.finished_at,
                summary=dict(run.metrics),
                source="recorded",
                history_key=run.history_key,
            )
        )
        if len(batch) == 1000:
            jobs.add_many(batch)
            batch.clear()

    started = time.perf_counter()
    history = record_history(
        store, runs=runs, keys=KEYS, long_keys=long_keys, long_runs=LONG_RUNS, recorded=as_job
    )
    if batch:
        jobs.add_many(batch)
    elapsed = time.perf_counter() - started
    server.ctx.store.close()  # checkpoint the WAL so the file size is the stored size
    grown = db_path.stat().st_size - before
    server.ctx.store = type(store)(db_path)
    return history, elapsed, grown // runs


def timed_gets(port: int, path: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
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


def walk_pages(port: int, path: str, deep_at: int = 50_000) -> tuple[list[float], str]:
    """Every page of a listing in turn, following next_cursor: milliseconds per page and
    the cursor of the page that starts at ``deep_at``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times: list[float] = []
    cursor, seen, deep = "", 0, ""
    while True:
        started = time.perf_counter()
        conn.request("GET", path + (f"&cursor={cursor}" if cursor else ""))
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, body[:200]
        document = json.loads(body)
        seen += len(document["data"])
        cursor = document["next_cursor"] or ""
        if seen == deep_at:
            deep = cursor
        if not cursor:
            break
    conn.close()
    return times, deep


def series_gets(port: int, keys: list[str]) -> tuple[list[float], dict[str, dict]]:
    """One 1,000-point history request per key, in order: milliseconds and documents."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, documents = [], {}
    for key in keys:
        started = time.perf_counter()
        conn.request("GET", f"/api/v1/history/{key}?metric=iops&limit={LONG_RUNS}")
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, body[:200]
        documents[key] = json.loads(body)["data"]
    conn.close()
    return times, documents


def figures(times: list[float]) -> str:
    return f"p50 {statistics.median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms"


def detection(documents: dict[str, dict], steps: dict[str, list[int]]) -> str:
    """Change points the API returned against the steps the history was made with."""
    hits = found = true = 0
    for key, document in documents.items():
        where = {point["run_id"]: n for n, point in enumerate(document["points"])}
        detected = [where[change["run_id"]] for change in document["change_points"]]
        hits += matched(detected, steps[key])
        found += len(detected)
        true += len(steps[key])
    return (
        f"precision {hits / max(found, 1):.3f}, recall {hits / max(true, 1):.3f} "
        f"({hits} of {true} known steps)"
    )


def record_one_more(db_path: Path, keys: list[str]) -> None:
    """Another writer (as a plugin recording into the server's file) adds a run per key."""
    store = SQLiteStore(db_path)
    try:
        for number, key in enumerate(keys):
            (newest,) = store.query(history_key=key, limit=1, with_raw=True)
            store.record(
                dataclasses.replace(
                    newest,
                    run_id=f"extra-{number}-{time.time_ns()}",
                    started_at=newest.started_at + 1.0,
                    finished_at=newest.finished_at + 1.0,
                )
            )
    finally:
        store.close()


PATHS = ("/api/v1/status", "/api/v1/jobs?limit=20", "/api/v1/profiles", "/api/ping")
#: Load-generator processes: Python client threads in one process would be limited by
#: that process's interpreter lock long before the server is.
CLIENT_PROCESSES = 4


def _client_process(
    port: int, counts: list[int], start_at: float
) -> tuple[list[float], int, float]:
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

    cpu = time.process_time()
    threads = [threading.Thread(target=client, args=(i, c)) for i, c in enumerate(counts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.process_time() - cpu


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_ACCESS = re.compile(r'"GET (\S+)" (\d{3}) ([\d.]+)ms$')


def _handler_times(access_log: Path, offset: int) -> list[float]:
    """Milliseconds in the app per request, from the access log lines after ``offset``."""
    with access_log.open() as handle:
        handle.seek(offset)
        lines = handle.read().splitlines()
    return [float(m.group(3)) for line in lines if (m := _ACCESS.search(line))]


def load(server: _Process, clients: int, total: int) -> dict[str, float]:
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    shares = [per_client[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    offset = server.access_log.stat().st_size if server.access_log.exists() else 0
    with concurrent.futures.ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        start_at = time.time() + 2.0
        futures = [pool.submit(_client_process, server.port, share, start_at) for share in shares]
        time.sleep(max(0.0, start_at - time.time()))
        server_cpu = _cpu_seconds(server.pid)
        results = [future.result() for future in futures]
        wall = time.time() - start_at
        server_cpu = _cpu_seconds(server.pid) - server_cpu
    latencies = [value for part, _errors, _cpu in results for value in part]
    time.sleep(0.5)  # the last access-log lines
    handler = _handler_times(server.access_log, offset)
    return {
        "requests": len(latencies),
        "errors": sum(errors for _part, errors, _cpu in results),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "rps": len(latencies) / wall,
        "handler_p50_ms": percentile(handler, 50) if handler else float("nan"),
        "handler_p99_ms": percentile(handler, 99) if handler else float("nan"),
        "handled": len(handler),
        "wall_s": wall,
        "server_cpu_s": server_cpu,
        "clients_cpu_s": sum(cpu for _part, _errors, cpu in results),
    }


def print_load(clients: int, threads: int, figures: dict[str, float]) -> None:
    cores = (os.cpu_count() or 1) * figures["wall_s"]
    print(
        f"load: {clients} clients, {figures['requests']:.0f} requests, {threads} server "
        f"threads: {figures['errors']:.0f} errors, p50 {figures['p50_ms']:.1f} ms, "
        f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms (target <= 200), "
        f"{figures['rps']:.0f} req/s"
    )
    print(
        f"  in the handler ({figures['handled']:.0f} requests, server access log): "
        f"p50 {figures['handler_p50_ms']:.2f} ms, p99 {figures['handler_p99_ms']:.2f} ms "
        f"(target <= 20); CPU over {figures['wall_s']:.1f} s x {os.cpu_count()} cores: "
        f"server {figures['server_cpu_s'] / cores:.0%}, load generator "
        f"{figures['clients_cpu_s'] / cores:.0%}"
    )


def app_costs(config, paths: list[str], calls: int = 300) -> list[tuple[str, float, float]]:
    """(path, ms per request in the WSGI app, ms of it encoding JSON), in this process.

    One request at a time, no sockets and no other threads: what bottle routing, the
    handler and JSON cost. The rest of the server's CPU per request under load is
    cheroot (HTTP parsing, sockets, worker threads) and contention.
    """
    from fioloadgen_server.app import build_context, create_app
    from fioloadgen_server.http import dumps

    ctx = build_context(dataclasses.replace(config, executor=False))
    app = create_app(ctx)
    costs = []
    try:
        for target in paths:
            path, _, query_string = target.partition("?")
            chunks: list[bytes] = []
            started = time.perf_counter()
            for _ in range(calls):
                environ = {
                    "REQUEST_METHOD": "GET",
                    "PATH_INFO": path,
                    "QUERY_STRING": query_string,
                    "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "8080",
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "wsgi.url_scheme": "http",
                    "wsgi.input": io.BytesIO(b""),
                    "wsgi.errors": sys.stderr,
                }
                chunks = list(app(environ, lambda status, headers, *exc: None))
            per_call = (time.perf_counter() - started) / calls * 1000
            document = json.loads(b"".join(chunks))
            started = time.perf_counter()
            for _ in range(calls):
                dumps(document)
            costs.append((target, per_call, (time.perf_counter() - started) / calls * 1000))
    finally:
        ctx.store.close()
        ctx.jobs.close()
    return costs


def print_costs(costs: list[tuple[str, float, float]], load_figures: dict[str, float]) -> None:
    parts = ", ".join(f"{path} {app:.2f} ms (JSON {encode:.2f})" for path, app, encode in costs)
    mix = statistics.fmean(app for path, app, _ in costs if path in PATHS)
    per_request = load_figures["server_cpu_s"] / load_figures["requests"] * 1000
    print(f"where the time goes: in the WSGI app, one at a time: {parts}")
    print(
        f"  the load mix averages {mix:.2f} ms in the app; under load the server spends "
        f"{per_request:.2f} ms of CPU a request: {max(per_request - mix, 0):.2f} ms is "
        "cheroot (HTTP, sockets, threads) and interpreter-lock contention"
    )


@dataclasses.dataclass
class _Process:
    port: int
    pid: int
    access_log: Path


@contextlib.contextmanager
def server_process(config) -> Iterator[_Process]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "fioloadgen_server", "serve", "--no-executor", "--daemon-logs"]
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
        yield _Process(port, process.pid, config.access_log)
    finally:
        process.terminate()
        process.wait(30)


def job_list_figures(port: int, samples: int) -> None:
    """The job list's first page, every page in turn by cursor, and the middle page by
    cursor and by offset (p95 each)."""
    page = timed_gets(port, "/api/v1/jobs?limit=50", samples)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/jobs?limit=1") as answer:
        total = json.load(answer)["total"]
    middle = total // 2 // 50 * 50
    walk, deep_cursor = walk_pages(port, "/api/v1/jobs?limit=50&status=complete", deep_at=middle)
    deep = timed_gets(port, f"/api/v1/jobs?limit=50&status=complete&cursor={deep_cursor}", 50)
    by_offset = timed_gets(port, f"/api/v1/jobs?limit=50&offset={middle}&status=complete", 50)
    print(
        f"job list page (50 of {total}): first {figures(page)} (target <= 50); "
        f"every page in turn by cursor ({len(walk)} pages): {figures(walk)}, "
        f"max {max(walk):.1f} ms"
    )
    print(
        f"  the page at {middle:,} by cursor p95 {percentile(deep, 95):.1f} ms; "
        f"by offset={middle} p95 {percentile(by_offset, 95):.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument(
        "--long-keys", type=int, default=LONG_KEYS, help=f"keys of {LONG_RUNS} runs"
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=5000, help="in all, over every client")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--threads", type=int, default=10, help="server worker threads")
    parser.add_argument(
        "--thread-sweep", default="", help="also the load test at these thread counts: 4,32"
    )
    parser.add_argument(
        "--store",
        help="only the job list, against this existing history.db (one an earlier run made)",
    )
    args = parser.parse_args()
    if args.store:
        with tempfile.TemporaryDirectory(prefix="fioloadgen-bench-") as tmp:
            config = dataclasses.replace(
                server_config(Path(tmp)), store_uri=args.store, threads=args.threads
            )
            with server_process(config) as server:
                job_list_figures(server.port, args.samples)
        return 0
    with tempfile.TemporaryDirectory(prefix="fioloadgen-bench-") as tmp:
        config = dataclasses.replace(server_config(Path(tmp)), threads=args.threads)
        with serving_in_thread(config) as server:
            history, elapsed, per_run = populate(server, args.runs, args.long_keys)
        print(
            f"history: {history.runs} runs over {len(history.keys)} keys "
            f"({len(history.long_keys)} of {LONG_RUNS} runs) recorded in {elapsed:.1f} s"
        )
        print(f"stored bytes per 2-worker run with time series: {per_run} (target <= 16384)")
        db_path = Path(config.store_uri)
        long_keys = history.long_keys
        # Measured against a server process of its own, as deployed: the load generator's
        # threads must not share the server's interpreter lock.
        with server_process(config) as server:
            cold, documents = series_gets(server.port, long_keys)
            warm, _ = series_gets(server.port, long_keys)
            record_one_more(db_path, long_keys)
            changed, _ = series_gets(server.port, long_keys)
            print(
                f"history series of {LONG_RUNS} points ({len(long_keys)} keys, each once): "
                f"cold {figures(cold)} (target p95 <= 100); warm {figures(warm)}; "
                f"after a new run of the key {figures(changed)}"
            )
            print(f"  change points returned: {detection(documents, history.steps)}")
            job_list_figures(server.port, args.samples)
            measured = load(server, args.clients, args.requests)
            print_load(args.clients, args.threads, measured)
        series_path = f"/api/v1/history/{long_keys[0]}?metric=iops&limit={LONG_RUNS}"
        print_costs(app_costs(config, [*PATHS, series_path]), measured)
        for threads in [int(t) for t in args.thread_sweep.split(",") if t]:
            with server_process(dataclasses.replace(config, threads=threads)) as server:
                print_load(args.clients, threads, load(server, args.clients, args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
