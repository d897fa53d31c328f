"""What a run's timeline costs: stored bytes, CPU to build it, and a local worker's memory.

    .venv/bin/python benchmarks/timeline_cost.py                 # all three parts
    .venv/bin/python benchmarks/timeline_cost.py --part storage  # one of storage, cpu, memory

* storage: a real 60 s run of 4 local workers (random 70/30 read/write, libaio, qd 4) with
  the timeline; the bytes it adds to the run's stored raw document (the sqlite store's
  zlib of compact JSON), against the issue's 128 KB budget.
* cpu: parsing, reconciling, merging and encoding a 256-worker, 120-interval timeline at
  coarseness 0 (fio's finest, the harness's default on local and static workers): one real
  worker's histogram logs and json+ entry (from a 2-worker run), copied to 256 hosts.
* memory: 256 local workers deployed (or --workers N), one short run with the timeline,
  the proportional set size (PSS: shared pages split fairly) of every worker's process tree
  sampled while fio runs; per worker, the figure the local backend's memory check uses.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio import timeseries
from pytest_fioloadgen.fio.runner import run_fio
from pytest_fioloadgen.fio.timeline import (
    TimelineInputs,
    build_timeline,
    hist_coarseness,
    hist_logging,
)
from pytest_fioloadgen.processes import descendants

MIXED = """[global]
ioengine=libaio
direct=1
iodepth=4
size=64m
time_based
runtime={runtime}
[mix]
rw=randrw
rwmixread=70
bs=4k
"""


def stored_bytes(raw: dict) -> int:
    """Bytes of a raw document as the sqlite store keeps it."""
    return len(zlib.compress(json.dumps(raw, separators=(",", ":")).encode()))


def storage(runtime: int, workdir: Path) -> None:
    backend = LocalBackend([LocalTarget("t", workdir)], session_id=uuid.uuid4().hex)
    env = backend.deploy(["t"], 4)
    try:
        workers = backend.resolve(env, "t", 4)
        result = backend.run_job(
            env, MIXED.format(runtime=runtime), workers,
            expected_runtime_s=runtime, timeline=True,
        )  # fmt: skip
    finally:
        backend.teardown(env)
    raw = dict(result.raw)
    ours = dict(raw["fioloadgen"])
    timeline = ours.pop("timeline")
    without = {**raw, "fioloadgen": ours}
    added = stored_bytes(raw) - stored_bytes(without)
    bins = sum(len(text) for text in timeline["bins"].values())
    print(
        f"storage: {runtime} s, 4 workers, randrw 70/30: {timeline['intervals']} intervals of"
        f" {timeline['interval_ms']} ms; the timeline adds {added / 1024:.1f} KiB to the stored"
        f" run (budget 128 KB; merged bins at coarseness {timeline['bins_coarseness']}, within"
        f" {timeline['error_pct']}%: {bins / 1024:.1f} KiB of base64 before the store's zlib);"
        f" the run without it: {stored_bytes(without) / 1024:.1f} KiB"
    )


def captured_logs(workdir: Path, coarseness: int) -> tuple[Path, dict, dict]:
    """Histogram logs and json+ of a real 2-worker, ~120-interval run, kept on disk."""
    backend = LocalBackend([LocalTarget("t", workdir)], session_id=uuid.uuid4().hex)
    env = backend.deploy(["t"], 2)
    logs = workdir / "logs"
    logs.mkdir()
    try:
        workers = backend.resolve(env, "t", 2)
        interval = timeseries.log_interval_ms(30)
        job = timeseries.with_logging(
            MIXED.format(runtime=30), interval, hist_logging(interval, coarseness)
        )
        (logs / "job.fio").write_text(job)
        (logs / "hosts").write_text("".join(w.address.hostfile_line() + "\n" for w in workers))
        done = subprocess.run(
            ["fio", "--client=hosts", "job.fio", "--output-format=json+"],
            cwd=logs, capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        backend.teardown(env)
    document = json.loads(done.stdout[done.stdout.index("{") :])
    return logs, document, {"interval_ms": interval, "hosts": [w.address.host for w in workers]}


def cpu(workers: int, workdir: Path, coarseness: int | None) -> None:
    chosen = hist_coarseness(workers) if coarseness is None else coarseness
    logs, document, info = captured_logs(workdir, chosen)
    source_host = info["hosts"][0]
    entry = next(e for e in document["client_stats"] if e["hostname"] == source_host)
    files = sorted(logs.glob(f"fioloadgen_clat_hist.*.log.{source_host}"))
    many = workdir / "many"
    many.mkdir()
    stats = []
    hosts = {}
    for index in range(workers):
        host = f"127.1.{index // 250}.{2 + index % 250}"
        hosts[host] = f"{host}:8765"
        for path in files:
            shutil.copy(path, many / path.name.replace(source_host, host))
        clone = copy.deepcopy(entry)
        clone["hostname"] = host
        stats.append(clone)
    big = {"fio version": document["fio version"], "client_stats": stats}
    size = sum(path.stat().st_size for path in many.iterdir())
    # The client's start: the logs' own first row less a little, as the runner records it.
    first = min(int(line.split(b",")[0]) for path in files for line in path.open("rb"))
    inputs = TimelineInputs(
        interval_ms=info["interval_ms"],
        client_span_ms=(first - 2000.0, first + 60_000.0),
        workers=hosts,
        same_clock=frozenset(hosts),
    )
    started_cpu, started = time.process_time(), time.perf_counter()
    timeline = build_timeline(many, big, inputs)
    cpu_s, wall_s = time.process_time() - started_cpu, time.perf_counter() - started
    assert timeline is not None
    encoded = len(json.dumps(timeline, separators=(",", ":")))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"cpu: {workers} workers x {timeline['intervals']} intervals, coarseness"
        f" {timeline['coarseness']}: {size / 2**20:.0f} MiB of histogram logs parsed, merged"
        f" and encoded in {cpu_s:.2f} s of CPU ({wall_s:.2f} s wall); the stored timeline is"
        f" {encoded / 2**20:.1f} MiB of JSON before the store's zlib; peak RSS of this"
        f" process {peak:.0f} MiB"
    )


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


def memory(workers: int, workdir: Path) -> None:
    backend = LocalBackend([LocalTarget("t", workdir)], session_id=uuid.uuid4().hex)
    started = time.perf_counter()
    env = backend.deploy(["t"], workers)
    deployed = time.perf_counter() - started
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        roots = set(backend.running_pids())
        while not done.wait(0.5):
            tree = roots | descendants(roots)
            samples.append(sum(pss_kib(pid) for pid in tree))

    servers = set(backend.running_pids())
    idle = sum(pss_kib(pid) for pid in servers | descendants(servers))
    thread = threading.Thread(target=sample)
    try:
        chosen = backend.resolve(env, "t", workers)
        thread.start()
        run_started = time.perf_counter()
        result, _ = run_fio(
            MIXED.format(runtime=3).replace("size=64m", "size=8m"),
            [w.address for w in chosen],
            expected_runtime_s=3,
            timeline=True,
            same_clock=True,
        )
        run_s = time.perf_counter() - run_started
    finally:
        done.set()
        if thread.is_alive():
            thread.join()
        backend.teardown(env)
    peak = max(samples or [0])
    print(
        f"memory: {workers} local workers deployed in {deployed:.1f} s; PSS of every worker's"
        f" process tree {idle / 1024:.0f} MiB idle, {peak / 1024:.0f} MiB at the peak of a"
        f" run ({peak / workers / 1024:.1f} MiB per worker); the run (3 s of fio) took"
        f" {run_s:.1f} s with the timeline of {len(result.workers)} workers"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("storage", "cpu", "memory"), action="append")
    parser.add_argument("--runtime", type=int, default=60, help="storage: the run's seconds")
    parser.add_argument("--workers", type=int, default=256, help="cpu and memory: workers")
    parser.add_argument(
        "--coarseness", type=int, help="cpu: log_hist_coarseness (default: what the runner picks)"
    )
    args = parser.parse_args(argv)
    parts = args.part or ["storage", "cpu", "memory"]
    # On the disk the project lives on (.fioloadgen is ignored by git), like the local
    # backend's default target.
    scratch = Path(".fioloadgen").resolve()
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="timeline-cost-", dir=scratch) as tmp:
        for part in parts:
            workdir = Path(tmp) / part
            workdir.mkdir()
            if part == "storage":
                storage(args.runtime, workdir)
            elif part == "cpu":
                cpu(args.workers, workdir, args.coarseness)
            else:
                memory(args.workers, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
