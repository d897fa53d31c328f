"""What bulk reads take from a store (issue 19): the ids a query would return, then the
runs as JSON text a few at a time, the same on every store; and the run id's one rule."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.store.base import Store
from pytest_fioloadgen.store.schema import run_json_schema
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.store.wire import run_from_json, run_to_json
from tests.unit.test_store_contract import (  # noqa: F401  (fixtures)
    history,
    make_run,
    open_same_store,
    store,
)


def test_run_ids_are_what_query_returns_in_its_order(history: Store) -> None:  # noqa: F811
    assert history.run_ids() == [run.run_id for run in history.query()]
    assert history.run_ids(limit=2) == ["f", "e"]
    assert history.run_ids(session_id="session-B") == ["e"]
    assert history.run_ids(labels={"host": "n2"}, status="failed") == ["f"]
    assert history.run_ids(workers=8, history_key="fedcba9876543210") == ["c"]


def test_runs_json_is_the_wire_document_in_the_order_asked(history: Store) -> None:  # noqa: F811
    found = history.runs_json(["c", "nope", "a", "c"])
    assert [run_id for run_id, _text in found] == ["c", "a"]  # unknown left out, once each
    for run_id, text in found:
        expected = run_to_json(history.get(run_id))
        assert json.loads(text) == json.loads(json.dumps(expected))
    without = dict(history.runs_json(["a"], with_raw=False))
    assert "raw" not in json.loads(without["a"])
    assert history.runs_json([]) == []


def test_runs_json_is_standard_json_even_for_non_finite_numbers(store: Store) -> None:  # noqa: F811
    store.record(make_run("nan", metrics={"iops": math.nan}, raw={"x": math.inf, "y": [1]}))
    ((_run_id, text),) = store.runs_json(["nan"])
    document = json.loads(text)  # json.loads would take NaN: check the text itself
    assert "NaN" not in text and "Infinity" not in text
    assert document["metrics"]["iops"] is None and document["raw"] == {"x": None, "y": [1]}


def test_the_stored_fio_document_passes_through_unparsed(tmp_path: Path, monkeypatch) -> None:
    """A bulk read spent most of its time parsing and encoding fio documents again."""
    sqlite_store = SQLiteStore(tmp_path / "h.db")
    sqlite_store.record(make_run("a", raw={"fio-document-marker": [1, 2, 3]}))
    parsed: list[str] = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda text, **kw: parsed.append(text) or real(text, **kw))
    ((_run_id, text),) = sqlite_store.runs_json(["a"])
    monkeypatch.undo()
    sqlite_store.close()
    assert parsed  # the record's own small JSON columns
    assert not [t for t in parsed if "fio-document-marker" in str(t)]
    assert real(text)["raw"] == {"fio-document-marker": [1, 2, 3]}


def test_run_json_text_places_the_stored_document_as_it_is() -> None:
    from pytest_fioloadgen.store.wire import run_json_text

    run = make_run("a", raw=None)
    text = run_json_text(run, raw_text='{"jobs":[1,2]}')
    assert json.loads(text)["raw"] == {"jobs": [1, 2]}
    assert (
        json.loads(run_json_text(run, with_raw=False)).keys()
        == run_to_json(run, with_raw=False).keys()
    )


def test_a_sessions_runs_are_found_through_its_index(tmp_path: Path) -> None:
    """Without statistics sqlite took the status index (two values) for a session's complete
    runs, a scan of the whole history; the session's own index is the one used."""
    sqlite_store = SQLiteStore(tmp_path / "h.db")
    statements: list[str] = []
    assert sqlite_store._conn is not None
    sqlite_store._conn.set_trace_callback(statements.append)
    sqlite_store.query(session_id="s", status="complete")
    sqlite_store.close()
    select = next(s for s in statements if s.startswith("SELECT id, run_id"))
    conn = sqlite3.connect(tmp_path / "h.db")
    plan = " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {select}"))
    conn.close()
    assert "runs_by_session" in plan and "runs_by_status" not in plan, plan


# -- the run id's rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    "run_id",
    ["a", "0f3c9a", "8d5e6b1c-2f4a-4b7e-9c1d-3e5f7a9b1c2d", "abc-c1", "seed-x-3", "a.b:c_d"],
)
def test_the_ids_we_make_follow_the_rule(run_id: str) -> None:
    from pytest_fioloadgen.store.base import check_run_id

    assert check_run_id(run_id) == run_id


@pytest.mark.parametrize(
    "run_id",
    ["", "x" * 101, "a/b", "../etc", "-a", ".a", "a b", "ü", "a\x1b[2J", "quote'"],
)
def test_ids_outside_the_rule_are_refused_on_the_wire(run_id: str) -> None:
    document = run_to_json(make_run(run_id="x"))
    document["run_id"] = run_id
    with pytest.raises(StoreError, match="is not a run id") as info:
        run_from_json(document, where="runs[3]")
    assert str(info.value).startswith("runs[3]: run id ")
    assert len(str(info.value)) < 300  # a 100,000-character id is not repeated


def test_the_rule_is_in_the_published_schema() -> None:
    from pytest_fioloadgen.store.base import RUN_ID

    assert run_json_schema()["properties"]["run_id"]["pattern"] == RUN_ID.pattern
