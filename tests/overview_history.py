"""A small history for the overview's tests (tests/unit/test_overview.py and
tests/browser/test_overview_views.py): several sessions, one regression (key B's newest
run), one change point (key A's IOPS steps down at session STEP), one distribution shift
and one unstable run (key C's newest run), and an old regression 30 days ago."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.store.sqlite import SQLiteStore

NOW = time.time()
SESSIONS = 24
#: Key A's IOPS steps from ~1000 to ~600 at session STEP: one change point.
STEP = 16
KEY_A, KEY_B, KEY_C = "a" * 16, "b" * 16, "c" * 16
SHIFT = {
    "direction": "read",
    "status": "regression",
    "kind": "shift",
    "quantiles": ["p50", "p90"],
    "ratio": 1.4,
    "message": "latency distribution: read body shifted up x1.40",
}


def started(session: int) -> float:
    """Session 0 began SESSIONS hours ago, one session an hour since."""
    return NOW - (SESSIONS - session) * 3600.0


def run(session: int, key: str, iops: float, **fields: object) -> RunRecord:
    defaults: dict[str, object] = {
        "run_id": f"r{session:02d}-{key[0]}",
        "session_id": f"session-{session:02d}",
        "profile_name": {KEY_A: "randread-4k", KEY_B: "seqwrite-1m", KEY_C: "randrw-70-30"}[key],
        "profile_hash": "h",
        "profile_text": "[rr]\nrw=randread\n",
        "workers": {KEY_A: 1, KEY_B: 2, KEY_C: 4}[key],
        "backend": "local",
        "target": "fast" if key != KEY_C else "slow",
        "started_at": started(session) + {KEY_A: 0, KEY_B: 60, KEY_C: 120}[key],
        "finished_at": started(session) + 200,
        "status": "complete",
        "metrics": {"iops": iops, "read_lat_mean_ms": 1000.0 / iops},
        "labels": {"git_commit": f"c{session:02d}"},
        "verdict": "pass",
        "test_id": f"tests/test_perf.py::test_{key[0]}[w]",
        "history_key": key,
    }
    defaults.update(fields)
    return RunRecord(**defaults)  # type: ignore[arg-type]


def record_overview_history(path: Path) -> None:
    """Record the history into the sqlite store at ``path`` (another writer may have it
    open: the results server)."""
    store = SQLiteStore(path)
    # An old regression of key B, 30 days ago: outside the default 7-day window.
    store.record(
        run(
            -1,
            KEY_B,
            1500.0,
            started_at=NOW - 30 * 86400,
            finished_at=NOW - 30 * 86400 + 1,
            verdict="regression",
            evidence={"reason": "old regression"},
        )
    )
    for session in range(SESSIONS):
        wobble = (session % 3 - 1) * 4.0  # small, deterministic noise
        newest = session == SESSIONS - 1
        store.record(run(session, KEY_A, (1000.0 if session < STEP else 600.0) + wobble))
        store.record(
            run(
                session,
                KEY_B,
                2000.0 + wobble,
                verdict="regression" if newest else "pass",
                evidence={"reason": "iops fell 9 % below the baseline"} if newest else {},
            )
        )
        store.record(
            run(
                session,
                KEY_C,
                500.0 + wobble,
                verdict="unstable" if newest else "pass",
                evidence={"reason": "repeats too noisy", "distribution": [SHIFT]} if newest else {},
            )
        )
    store.close()
