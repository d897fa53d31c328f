"""The results server under hostile load (a script, not a test): prints the figures of the
README.

    .venv/bin/python benchmarks/server_load.py [--runs 12000] [--seconds 30] [--threads 10]
        [--exports 10] [--compares 10] [--slowloris 12] [--last 100] [--anonymous] [--alone]

1. A history of N runs (benchmarks/history_data.py: 600 recorded runs with their json+
   documents and time series, copied to N) in a temporary directory.
2. A server process of its own on 127.0.0.1 (no executor, ``--threads`` worker threads).
3. For ``--seconds``, all at once: E clients each asking again and again for the bulk
   export of every run (``/api/v1/export?limit=100000``, with the token unless
   ``--anonymous``), C clients asking for a large compare of two label sets
   (``/api/v1/compare/sets?a=git_branch=main&b=git_branch=main&last=L``), S slowloris
   sockets (each sends one header line every 4 s and never ends its request; a closed one
   is opened again), and a separate process asking for ``/api/v1/status`` every 100 ms on
   a new connection. ``--alone`` first times each expensive read on its own (export,
   ``runs?with_raw=true``, ``runs``, the compare) with the server's peak memory after it.
4. Printed: ``/status`` latency (p50, p99, max; target p99 under 1 s), the server's
   resident memory (peak VmHWM and the last VmRSS; target under 500 MB), what each
   attacker got (answers by status, bytes, seconds per answer) and how long the server
   kept a slowloris socket open.

``tests/integration/test_server_load.py`` runs the same load (shorter) and checks the
targets.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from history_data import multiply_history, record_history  # noqa: E402

#: Recorded one by one (json+ documents and time series of their own), then copied.
SEED_RUNS = 600
SLOWLORIS_INTERVAL_S = 4.0
STATUS_INTERVAL_S = 0.1
EXPORT_PATH = "/api/v1/export?limit=100000"


def build_store(path: Path, runs: int) -> int:
    """A sqlite history of ``runs`` runs (a multiple of 600) at ``path``, in seconds."""
    from pytest_fioloadgen.store.sqlite import SQLiteStore

    if runs % SEED_RUNS:
        raise SystemExit(f"--runs must be a multiple of {SEED_RUNS}")
    store = SQLiteStore(path)
    try:
        # Test data: losing it to a power cut costs nothing, waiting for 600 fsyncs does.
        store._conn.execute("PRAGMA synchronous = OFF")  # type: ignore[union-attr]
        record_history(store, runs=SEED_RUNS, keys=30, long_keys=0, long_runs=1)
    finally:
        store.close()
    return multiply_history(path, runs // SEED_RUNS)


@dataclasses.dataclass
class ServerProcess:
    port: int
    pid: int
    token: str
    state_dir: Path

    def rss_mb(self) -> tuple[float, float]:
        """(peak, current) resident memory in MB, from /proc."""
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
        )
        return (
            int(fields["VmHWM"].split()[0]) / 1024,
            int(fields["VmRSS"].split()[0]) / 1024,
        )


@contextlib.contextmanager
def server_process(store: Path, state_dir: Path, *, threads: int = 10) -> Iterator[ServerProcess]:
    """``fioloadgen serve`` in a process of its own on a free loopback port."""
    pid_file = state_dir / "serve.pid"
    argv = [sys.executable, "-m", "fioloadgen_server", "serve", "--no-executor"]
    argv += ["--host", "127.0.0.1", "--port", "0", "--store", str(store)]
    argv += ["--state-dir", str(state_dir), "--threads", str(threads)]
    argv += ["--pid-file", str(pid_file)]
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "serve.log").open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=log, cwd=state_dir)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or len(pid_file.read_text().split()) < 2:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {state_dir / 'serve.log'}")
            time.sleep(0.05)
        port = int(pid_file.read_text().split()[1].rpartition(":")[2])
        token = (state_dir / "token").read_text().strip()
        yield ServerProcess(port, process.pid, token, state_dir)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@dataclasses.dataclass
class Tally:
    """What one kind of attacker got back: answers by status (counted when the status line
    arrives, so a stream still going counts), body bytes as they come, seconds per
    finished answer."""

    statuses: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    bytes: int = 0
    seconds: list[float] = dataclasses.field(default_factory=list)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def answered(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def received(self, size: int) -> None:
        with self.lock:
            self.bytes += size

    def finished(self, seconds: float) -> None:
        with self.lock:
            self.seconds.append(seconds)

    def snapshot(self) -> Tally:
        """What it got so far (answers after the load ended, e.g. at shutdown, not)."""
        with self.lock:
            return Tally(
                collections.Counter(self.statuses),
                self.bytes,
                list(self.seconds),
                collections.Counter(self.errors),
            )

    def error(self, err: BaseException) -> None:
        with self.lock:
            self.errors[type(err).__name__] += 1

    def describe(self) -> str:
        answers = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items()))
        slowest = f", slowest finished {max(self.seconds):.1f} s" if self.seconds else ""
        failed = ", ".join(f"{name} {n}" for name, n in sorted(self.errors.items()))
        return f"answers {answers or 'none'}{slowest}, {self.bytes / 1e6:.0f} MB read" + (
            f"; no answer: {failed}" if failed else ""
        )


def _get(port: int, path: str, headers: dict[str, str], tally: Tally, stop: threading.Event) -> int:
    """The status of one GET, its body read and thrown away as it comes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        tally.answered(response.status)
        while not stop.is_set():
            chunk = response.read(1 << 16)
            if not chunk:
                break
            tally.received(len(chunk))
        return response.status
    finally:
        conn.close()


def requester(
    port: int, path: str, headers: dict[str, str], tally: Tally, stop: threading.Event
) -> None:
    """Ask for ``path`` again and again until ``stop``; a 503 waits its Retry-After."""
    while not stop.is_set():
        began = time.monotonic()
        try:
            status = _get(port, path, headers, tally, stop)
        except (OSError, http.client.HTTPException) as err:
            tally.error(err)
            stop.wait(0.5)
            continue
        if not stop.is_set():
            tally.finished(time.monotonic() - began)
        if status in (429, 503):
            stop.wait(1.0)


@dataclasses.dataclass
class Slowloris:
    opened: int = 0
    #: Seconds each socket stayed open until the server closed it.
    lifetimes: list[float] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def snapshot(self) -> Slowloris:
        with self.lock:
            return Slowloris(self.opened, list(self.lifetimes))

    def describe(self, seconds: float) -> str:
        if not self.lifetimes:
            return f"{self.opened} sockets opened, none closed by the server in {seconds:.0f} s"
        ordered = sorted(self.lifetimes)
        return (
            f"{self.opened} sockets opened, {len(ordered)} closed by the server after "
            f"{ordered[0]:.1f}-{ordered[-1]:.1f} s"
        )


def slowloris(port: int, record: Slowloris, stop: threading.Event) -> None:
    """One header line every 4 s, never the blank line that ends the request; the socket
    is watched in between, so the moment the server answers or closes it is seen."""
    while not stop.is_set():
        with record.lock:
            record.opened += 1
        opened = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
                line = 0
                while not stop.is_set():
                    readable, _, _ = select.select([sock], [], [], SLOWLORIS_INTERVAL_S)
                    if readable:
                        sock.recv(4096)  # a 408, or the end: either way the server ended it
                        raise ConnectionResetError("ended by the server")
                    line += 1
                    sock.sendall(f"X-Slow-{line}: {'a' * 20}\r\n".encode())
        except OSError:
            if stop.is_set():
                return  # the load is over: the server may be going away
            with record.lock:
                record.lifetimes.append(time.monotonic() - opened)
            stop.wait(0.2)


#: The /status prober, in a process of its own so that the load generator's interpreter
#: lock never delays its measurements: prints one JSON list of milliseconds.
PROBER = textwrap.dedent(
    """
    import http.client, json, sys, time
    port, seconds, interval = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    times, failures = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/api/v1/status")
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                failures.append(response.status)
        except OSError as err:
            failures.append(type(err).__name__)
        elapsed = time.monotonic() - began
        times.append(elapsed * 1000)
        time.sleep(max(0.0, interval - elapsed))
    print(json.dumps({"ms": times, "failures": failures}))
    """
)


@dataclasses.dataclass
class LoadResult:
    status_ms: list[float]
    status_failures: list[object]
    peak_rss_mb: float
    last_rss_mb: float
    exports: Tally
    compares: Tally
    slow: Slowloris
    seconds: float

    def percentile(self, pct: float) -> float:
        ordered = sorted(self.status_ms)
        return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]

    def describe(self) -> str:
        return "\n".join(
            (
                f"/status: {len(self.status_ms)} requests, p50 {self.percentile(50):.0f} ms, "
                f"p99 {self.percentile(99):.0f} ms, max {max(self.status_ms):.0f} ms "
                f"(target p99 < 1000), failures {len(self.status_failures)}",
                f"server memory: peak {self.peak_rss_mb:.0f} MB, at the end "
                f"{self.last_rss_mb:.0f} MB (target < 500)",
                f"bulk exports: {self.exports.describe()}",
                f"large compares: {self.compares.describe()}",
                f"slowloris: {self.slow.describe(self.seconds)}",
            )
        )


def hostile_load(
    server: ServerProcess,
    *,
    seconds: float,
    exports: int = 10,
    compares: int = 10,
    slow: int = 12,
    last: int = 100,
    anonymous: bool = False,
) -> LoadResult:
    stop = threading.Event()
    export_tally, compare_tally, slow_record = Tally(), Tally(), Slowloris()
    headers = {} if anonymous else {"Authorization": f"Bearer {server.token}"}
    compare_path = f"/api/v1/compare/sets?a=git_branch%3Dmain&b=git_branch%3Dmain&last={last}"
    threads = [
        threading.Thread(
            target=requester, args=(server.port, EXPORT_PATH, headers, export_tally, stop)
        )
        for _ in range(exports)
    ]
    threads += [
        threading.Thread(
            target=requester, args=(server.port, compare_path, {}, compare_tally, stop)
        )
        for _ in range(compares)
    ]
    threads += [
        threading.Thread(target=slowloris, args=(server.port, slow_record, stop))
        for _ in range(slow)
    ]
    for thread in threads:
        thread.daemon = True
        thread.start()
    time.sleep(1.0)  # every attacker under way before the first /status
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBER, str(server.port), str(seconds), str(STATUS_INTERVAL_S)],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak, last_rss = server.rss_mb()
    while prober.poll() is None:
        peak, last_rss = server.rss_mb()
        time.sleep(0.2)
    probed = json.loads(prober.communicate()[0])
    stop.set()
    stopped = time.monotonic()
    peak, last_rss = server.rss_mb()
    exported, compared, slowed = (
        export_tally.snapshot(),
        compare_tally.snapshot(),
        slow_record.snapshot(),
    )
    # A compare may wait on the server's pool for its budget: the threads are daemons and
    # end with the server's connections; the tallies are what they had by now.
    for thread in threads:
        thread.join(max(0.0, stopped + 2.0 - time.monotonic()))
    return LoadResult(
        status_ms=probed["ms"],
        status_failures=probed["failures"],
        peak_rss_mb=peak,
        last_rss_mb=last_rss,
        exports=exported,
        compares=compared,
        slow=slowed,
        seconds=seconds,
    )


def alone(server: ServerProcess, last: int) -> list[str]:
    """Each expensive read once, on an idle server: seconds, size and the server's peak."""
    lines = []
    for path in (
        EXPORT_PATH,
        "/api/v1/runs?with_raw=true",
        "/api/v1/runs",
        f"/api/v1/compare/sets?a=git_branch%3Dmain&b=git_branch%3Dmain&last={last}",
    ):
        tally = Tally()
        began = time.monotonic()
        status = _get(
            server.port, path, {"Authorization": f"Bearer {server.token}"}, tally, threading.Event()
        )
        lines.append(
            f"  {path}: {status}, {tally.bytes / 1e6:.0f} MB in "
            f"{time.monotonic() - began:.1f} s, server peak {server.rss_mb()[0]:.0f} MB"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=12_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=10, help="server worker threads")
    parser.add_argument("--exports", type=int, default=10)
    parser.add_argument("--compares", type=int, default=10)
    parser.add_argument("--slowloris", type=int, default=12)
    parser.add_argument("--last", type=int, default=100, help="sessions per compared set")
    parser.add_argument("--anonymous", action="store_true", help="exports without the token")
    parser.add_argument(
        "--alone", action="store_true", help="first each expensive read once, on its own"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-load-") as tmp:
        store = Path(tmp) / "history.db"
        began = time.monotonic()
        runs = build_store(store, args.runs)
        size = os.path.getsize(store) / 1e6
        print(f"history: {runs} runs, {size:.0f} MB, built in {time.monotonic() - began:.1f} s")
        with server_process(store, Path(tmp) / "state", threads=args.threads) as server:
            idle = server.rss_mb()[1]
            if args.alone:
                print(f"each read alone (server at rest {idle:.0f} MB):")
                print("\n".join(alone(server, args.last)))
            result = hostile_load(
                server,
                seconds=args.seconds,
                exports=args.exports,
                compares=args.compares,
                slow=args.slowloris,
                last=args.last,
                anonymous=args.anonymous,
            )
        print(
            f"load for {args.seconds:.0f} s against {args.threads} server threads "
            f"({args.exports} {'anonymous ' if args.anonymous else ''}bulk exports, "
            f"{args.compares} compares of last={args.last}, {args.slowloris} slowloris "
            f"sockets); server at rest {idle:.0f} MB"
        )
        print(result.describe())
        if os.environ.get("SERVER_LOG"):
            import shutil

            shutil.copy(Path(tmp) / "state" / "serve.log", os.environ["SERVER_LOG"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
