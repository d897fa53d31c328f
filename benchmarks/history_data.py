"""A large, realistic history for the server and site benchmarks.

``record_history`` records N runs over K history keys through the store's own ``record``:
a few long keys (1,000 runs each: the "1k-point series") and many short ones, every key's
IOPS a noisy series with known level shifts (benchmarks/series.py), latencies moving the
other way, runs grouped in sessions of 18 cases (one suite run) with a commit label each.
Every run carries a real 2-worker json+ document (tests/data/golden/randread-w2.json) with
its figures changed to the run's own and a time series of its own (120 points per worker
and series), so no two stored documents are copies of each other.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy
from series import stepped_series

from pytest_fioloadgen.fio.results import higher_is_better, parse_result
from pytest_fioloadgen.fio.timeseries import RAW_KEY
from pytest_fioloadgen.store.base import RunRecord, Store

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden" / "randread-w2.json"
PROFILE = ROOT / "profiles" / "randread-4k.fio"
SESSION_CASES = 18
TIMESERIES_POINTS = 120


@dataclass
class History:
    keys: list[str]
    long_keys: list[str]
    steps: dict[str, list[int]] = field(default_factory=dict)
    runs: int = 0


def _key(number: int) -> str:
    return f"{number:016x}"


def plan(runs: int, keys: int, long_keys: int, long_runs: int) -> dict[str, int]:
    """Runs per key: ``long_keys`` keys of ``long_runs``, the rest shared by the others."""
    if long_keys * long_runs > runs or keys <= long_keys:
        raise SystemExit(f"{runs} runs cannot hold {long_keys} keys of {long_runs} runs")
    short = keys - long_keys
    rest = runs - long_keys * long_runs
    counts = {_key(n): long_runs for n in range(long_keys)}
    for n in range(short):
        counts[_key(long_keys + n)] = rest // short + (1 if n < rest % short else 0)
    return counts


def record_history(
    store: Store,
    *,
    runs: int = 100_000,
    keys: int = 500,
    long_keys: int = 50,
    long_runs: int = 1000,
    seed: int = 1,
    recorded: Callable[[RunRecord], None] | None = None,
) -> History:
    """Record the history into ``store``, oldest run first; ``recorded`` sees each run."""
    rng = random.Random(seed)
    noise = numpy.random.default_rng(seed)
    golden = json.loads(GOLDEN.read_text())
    base = dict(parse_result(golden).metrics)
    base_iops = base["iops"]
    profile_text = PROFILE.read_text()
    counts = plan(runs, keys, long_keys, long_runs)
    history = History(list(counts), [k for k, c in counts.items() if c == long_runs][:long_keys])
    series = {}
    for key, count in counts.items():
        generated = stepped_series(count, rng, level=base_iops * rng.uniform(0.5, 2.0))
        series[key] = generated.values
        history.steps[key] = generated.steps
    # Time order across keys: each key's runs spread over the same span, as CI sessions
    # that run every case would leave them.
    order = sorted(
        (index / counts[key] + rng.random() * 1e-6, key, index)
        for key in counts
        for index in range(counts[key])
    )
    template = RunRecord(
        run_id="",
        session_id="",
        profile_name="randread-4k",
        profile_hash="h" * 64,
        profile_text=profile_text,
        workers=2,
        backend="local",
        target="local",
        started_at=0.0,
        finished_at=0.0,
        labels={},
        fingerprint={"fio_version": golden["fio version"], "host": {"kernel": "6.1"}},
        verdict="pass",
    )
    raw = copy.deepcopy(golden)
    clients = [c for c in raw["client_stats"] if c.get("jobname") != "All clients"]
    start = 1.7e9
    session = commit = ""
    for position, (_when, key, index) in enumerate(order):
        if position % SESSION_CASES == 0:
            session = uuid.uuid4().hex
            commit = f"{rng.getrandbits(160):040x}"
        value = series[key][index]
        factor = value / base_iops
        metrics = {
            name: (figure * factor if higher_is_better(name) else figure / factor)
            * (1.0 + rng.gauss(0.0, 0.01))
            for name, figure in base.items()
        }
        metrics["iops"] = value
        for client in clients:  # the document's own figures follow the run's
            client["read"]["iops"] = value / len(clients)
            client["read"]["bw_bytes"] = int(value / len(clients) * 4096)
        raw[RAW_KEY] = {"timeseries": _timeseries(noise, value, metrics, clients)}
        run = replace(
            template,
            run_id=uuid.uuid4().hex,
            session_id=session,
            started_at=start + position * 60.0,
            finished_at=start + position * 60.0 + 30.0,
            metrics=metrics,
            labels={"git_commit": commit, "git_branch": "main", "job_title": f"case {key}"},
            raw=raw,
            history_key=key,
            test_id=f"test_storage[randread-4k-w2-{key[-4:]}]",
        )
        store.record(run)
        history.runs += 1
        if recorded is not None:
            recorded(run)
    return history


def _timeseries(
    noise: numpy.random.Generator, iops: float, metrics: dict[str, float], clients: list
) -> dict:
    interval = 500
    times = [t * interval for t in range(1, TIMESERIES_POINTS + 1)]
    workers = {}
    for client in clients:
        name = f"{client.get('hostname', 'w')}:{client.get('port', 8765)}"
        share = iops / len(clients)
        values = numpy.round(noise.normal(share, share * 0.05, TIMESERIES_POINTS), 1)
        latency = metrics.get("read_lat_mean_ms", 0.1)
        lat = numpy.round(noise.normal(latency, latency * 0.05, TIMESERIES_POINTS), 4)
        workers[name] = {
            "read_iops": [[t, float(v)] for t, v in zip(times, values, strict=True)],
            "read_lat_ms": [[t, float(v)] for t, v in zip(times, lat, strict=True)],
        }
    return {"interval_ms": interval, "workers": workers}


def multiply_history(path: Path, copies: int) -> int:
    """Make the sqlite history at ``path`` ``copies`` times as long, in one transaction.

    For load tests that need a large store quickly: recording 12,000 runs one by one takes
    over a minute, copying rows takes a second. Copy ``k`` of a run is the same run (its
    fio document, metrics and labels) ``k`` spans later, under ``<run_id>-k`` in session
    ``<session_id>-k``, so every copy is a run and a session of its own. Returns the run
    count.
    """
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        count, first, last = conn.execute("SELECT count(*), min(id), max(id) FROM runs").fetchone()
        if (first, last) != (1, count):
            raise ValueError(f"{path}: run ids are not 1..{count}; multiply a fresh history")
        low, high = conn.execute("SELECT min(started_at), max(finished_at) FROM runs").fetchone()
        span = high - low + 60.0
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)") if row[1] != "id"]
        shifted = {
            "run_id": "run_id || '-' || :k",
            "session_id": "session_id || '-' || :k",
            "started_at": "started_at + :k * :span",
            "finished_at": "finished_at + :k * :span",
        }
        select = ", ".join(shifted.get(name, name) for name in columns)
        for k in range(1, copies):
            values = {"k": k, "span": span, "shift": k * count, "count": count}
            conn.execute(
                f"INSERT INTO runs ({', '.join(columns)}) "
                f"SELECT {select} FROM runs WHERE id <= :count ORDER BY id",
                values,
            )
            for table, rest in (
                ("metrics", "name, value"),
                ("labels", "key, value"),
                ("raw_results", "fio_json_z"),
            ):
                key = "run"
                conn.execute(
                    f"INSERT INTO {table} ({key}, {rest}) "
                    f"SELECT {key} + :shift, {rest} FROM {table} WHERE {key} <= :count",
                    values,
                )
        total = conn.execute("SELECT count(*), max(id) FROM runs").fetchone()
        if total != (count * copies, count * copies):
            raise ValueError(f"{path}: copying left {total[0]} runs, not {count * copies}")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return count * copies
