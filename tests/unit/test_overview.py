"""The overview (report/overview.py, GET /api/v1/overview) against a real sqlite store
(tests/overview_history.py): several sessions, one regression, one change point, one
distribution shift and one unstable run, and an old regression outside the window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fioloadgen_server.app import build_context, create_app
from werkzeug.test import Client

from pytest_fioloadgen.report.overview import (
    cache_name,
    key_rows,
    latest_sessions,
    overview_document,
)
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS
from tests.conftest import server_config
from tests.overview_history import (
    KEY_A,
    KEY_B,
    KEY_C,
    NOW,
    SESSIONS,
    SHIFT,
    STEP,
    record_overview_history,
)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    record_overview_history(path)
    return path


def test_overview_shows_sessions_recent_events_and_every_key(store_path: Path) -> None:
    store = SQLiteStore(store_path)
    try:
        rows_of_keys = key_rows(store)
        document = overview_document(rows_of_keys, latest_sessions(store), now=NOW)
    finally:
        store.close()
    assert (document["keys"], document["runs"]) == (3, 3 * SESSIONS + 1)
    assert document["verdicts"] == {"pass": 1, "regression": 1, "unstable": 1}

    sessions = document["sessions"]
    assert [s["session_id"] for s in sessions] == [f"session-{n:02d}" for n in (23, 22, 21, 20, 19)]
    assert sessions[0]["verdicts"] == {"pass": 1, "regression": 1, "unstable": 1}
    assert sessions[1]["verdicts"] == {"pass": 3}
    assert sessions[0]["labels"] == {"git_commit": "c23"}

    recent = document["recent"]
    # The old regression is outside the window; only the newest one is recent.
    assert [(e["history_key"], e["run_id"]) for e in recent["regression"]] == [(KEY_B, "r23-b")]
    assert recent["regression"][0]["message"] == "iops fell 9 % below the baseline"
    assert [e["run_id"] for e in recent["unstable"]] == ["r23-c"]
    assert [(e["run_id"], e["worse"]) for e in recent["distribution"]] == [("r23-c", True)]
    assert recent["distribution"][0]["message"] == SHIFT["message"]
    changes = {
        (e["history_key"], e["metric"], e["run_id"], e["worse"]) for e in recent["change_point"]
    }
    # Key A's step, in IOPS (worse: it fell) and in mean latency (worse: it rose).
    assert changes == {
        (KEY_A, "iops", f"r{STEP}-a", True),
        (KEY_A, "read_lat_mean_ms", f"r{STEP}-a", True),
    }

    rows = {row["history_key"]: row for row in document["rows"]}
    # Grouped by target: fast (A, B) before slow (C).
    assert [row["history_key"] for row in document["rows"]] == [KEY_A, KEY_B, KEY_C]
    a = rows[KEY_A]
    assert (a["test"], a["profile"], a["workers"], a["backend"], a["target"]) == (
        "tests/test_perf.py::test_a[w]",
        "randread-4k",
        1,
        "local",
        "fast",
    )
    assert a["runs"] == SESSIONS and a["verdict"] == "pass"
    assert a["spark_change_runs"] == [f"r{STEP}-a"]
    assert a["spark"][a["spark_changes"][0]] == 600.0 + (STEP % 3 - 1) * 4.0
    assert a["spark"][-1] == a["last"] == 600.0 + (23 % 3 - 1) * 4.0
    assert a["change_points"]["iops"] == 1
    b = rows[KEY_B]
    assert b["verdict"] == "regression" and b["runs"] == SESSIONS + 1
    assert b["baseline"] == pytest.approx(2000.0, abs=4.0)
    assert b["delta_pct"] == pytest.approx((b["last"] - b["baseline"]) / b["baseline"] * 100)

    wider = overview_document(rows_of_keys, [], now=NOW, days=60)
    assert [e["run_id"] for e in wider["recent"]["regression"]] == ["r23-b", "r-1-b"]


def test_the_overview_reads_no_raw_document_and_warm_reads_only_its_cache(
    store_path: Path,
) -> None:
    """sqlite's own trace of every statement is the oracle: no fio document is read, and
    a second overview reads the cached rows, no run series."""
    store = SQLiteStore(store_path)
    statements: list[str] = []
    try:
        store.key_versions()  # opens the connection
        assert store._conn is not None
        store._conn.set_trace_callback(statements.append)
        cold = key_rows(store)
        assert not [s for s in statements if "raw_results" in s]
        assert any("LEFT JOIN metrics" in s for s in statements)  # the series were read
        statements.clear()
        warm = key_rows(store)
        assert warm == cold
        assert not [s for s in statements if "raw_results" in s]
        assert not [s for s in statements if "FROM runs" in s and "key_versions" not in s]
        assert not [s for s in statements if s.startswith("INSERT")]
        assert store.cached_summary(KEY_A, cache_name(DEFAULT_GATED_METRICS))[1] is not None
    finally:
        store.close()


@pytest.fixture
def client(tmp_path: Path, store_path: Path):
    config = server_config(tmp_path / "server")
    Path(config.store_uri).parent.mkdir(parents=True, exist_ok=True)
    store_path.rename(Path(config.store_uri))
    ctx = build_context(config)
    yield Client(create_app(ctx))
    ctx.store.close()
    ctx.jobs.close()


def test_api_overview_is_the_same_document(client) -> None:
    response = client.get("/api/v1/overview?days=7")
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))["data"]
    assert data["pending"] == 0 and data["keys"] == 3
    assert [e["run_id"] for e in data["recent"]["regression"]] == ["r23-b"]
    assert [s["session_id"] for s in data["sessions"]][:2] == ["session-23", "session-22"]
    again = json.loads(client.get("/api/v1/overview").get_data(as_text=True))["data"]
    assert again["rows"] == data["rows"]


def test_api_overview_refuses_a_bad_window_in_one_line(client) -> None:
    response = client.get("/api/v1/overview?days=0")
    assert response.status_code == 400
    message = json.loads(response.get_data(as_text=True))["message"]
    assert "days" in message and "\n" not in message
