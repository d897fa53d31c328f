"""Does the profile builder slow the server down for everyone? (a script, not a test)

    .venv/bin/python benchmarks/server_builder_load.py [--clients 20] [--seconds 10]

Starts a server in its own process (loopback, no executor), measures the latency of
``GET /api/v1/status`` idle, then again while C clients (threads of another process, one
keep-alive connection each) post custom-profile specs to ``/api/v1/profile-builder`` as
fast as they are answered: once without the token, once with it. Prints status p50/p95,
the ratio to idle, the builder answers by status code and how many fio processes the
server had running at most.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.server_input_probe import server_process  # noqa: E402

SPEC = json.dumps(
    {"pattern": "random", "read_pct": 70, "block_size": "4k", "iodepth": 8, "runtime": 5}
).encode()


def _builders(port: int, clients: int, seconds: float, token: str | None, out) -> None:
    """C threads posting specs for ``seconds``; puts a Counter of statuses on ``out``."""
    counts: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            try:
                connection.request("POST", "/api/v1/profile-builder", SPEC, headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except OSError:
                status = 0
                connection.close()
            with lock:
                counts[status] += 1
            if status == 429:
                # A polite client waits as told; an impolite one would only get more 429s.
                time.sleep(float(response.getheader("Retry-After") or 1))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(dict(counts))


def _fio_processes(server_pid: int) -> int:
    """fio processes that are children of the server right now (from /proc)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            name = stat.read_text().partition("(")[2].rpartition(")")[0]
        except OSError:
            continue
        if name == "fio" and int(fields[1]) == server_pid:
            count += 1
    return count


def _status_latencies(port: int, seconds: float, server_pid: int) -> tuple[list[float], int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, most_fio = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", "/api/v1/status")
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        most_fio = max(most_fio, _fio_processes(server_pid))
        time.sleep(0.02)
    return latencies, most_fio


def _pctl(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="fioloadgen-builder-") as tmp,
        server_process(Path(tmp), with_pid=True) as (port, token, pid),
    ):
        idle, _ = _status_latencies(port, 3.0, pid)
        idle_p50 = statistics.median(idle)
        print(
            f"status idle: p50 {idle_p50:.1f} ms, p95 {_pctl(idle, 95):.1f} ms "
            f"({len(idle)} requests)"
        )
        for label, sent_token in (("without the token", None), ("with the token", token)):
            results: multiprocessing.Queue = multiprocessing.Queue()
            load = multiprocessing.Process(
                target=_builders, args=(port, args.clients, args.seconds, sent_token, results)
            )
            load.start()
            time.sleep(0.5)  # let every client connect and start
            busy, most_fio = _status_latencies(port, args.seconds - 1.0, pid)
            counts = results.get(timeout=args.seconds + 120)
            load.join()
            p50 = statistics.median(busy)
            answered = ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))
            print(
                f"status under {args.clients} builder clients {label}: p50 {p50:.1f} ms "
                f"({p50 / idle_p50:.1f}x idle), p95 {_pctl(busy, 95):.1f} ms; "
                f"builder answers {answered} in {args.seconds:.0f} s; "
                f"at most {most_fio} fio processes at once"
            )
            time.sleep(1.0)  # the rate limit's window passes before the next round
    return 0


if __name__ == "__main__":
    sys.exit(main())
