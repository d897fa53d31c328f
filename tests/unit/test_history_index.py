"""Key versions, metric series and the summary cache: sqlite's index and the fallbacks."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_contract import make_run

from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.store.history_index import (
    history_index,
    history_keys,
    key_versions,
    metric_series,
)
from pytest_fioloadgen.store.sqlite import MIGRATIONS, SQLiteStore

KEY = "0123456789abcdef"
OTHER = "fedcba9876543210"


def run(number: int, *, key: str = KEY, status: str = "complete", **changes):
    return make_run(
        f"r{number:03d}",
        history_key=key,
        started_at=1000.0 + number,
        status=status,
        metrics={"iops": 100.0 + number} if status == "complete" else {},
        labels={"git_commit": f"c{number}"},
        **changes,
    )


@pytest.fixture(params=["sqlite", "tinydb"])
def store(request, tmp_path):
    suffix = "db" if request.param == "sqlite" else "json"
    opened = open_store(str(tmp_path / f"history.{suffix}"))
    yield opened
    opened.close()


def test_series_is_newest_first_with_missing_figures_as_nan(store):
    for number in range(5):
        store.record(run(number))
    store.record(run(5, status="failed"))
    read = metric_series(store, KEY, "iops")
    assert [p.run_id for p in read.points] == ["r005", "r004", "r003", "r002", "r001", "r000"]
    assert math.isnan(read.points[0].value) and not read.points[0].usable
    assert read.points[1].value == 104.0 and read.points[1].usable
    assert read.points[1].labels == {"git_commit": "c4"}
    assert read.whole
    limited = metric_series(store, KEY, "iops", limit=2)
    assert [p.run_id for p in limited.points] == ["r005", "r004"] and not limited.whole
    assert metric_series(store, "nope", "iops").points == []


def test_versions_change_with_every_record_and_delete(store):
    store.record(run(0))
    store.record(run(1, key=OTHER))
    first = key_versions(store)
    assert set(first) == {KEY, OTHER}
    store.record(run(2))
    second = key_versions(store)
    assert second[KEY] != first[KEY] and second[OTHER] == first[OTHER]
    store.delete("r002")
    third = key_versions(store)
    assert third[KEY] not in (second[KEY],) and third[OTHER] == first[OTHER]
    store.delete("r001")
    assert set(key_versions(store)) == {KEY}


def test_keys_list_the_newest_runs_case(store):
    store.record(run(0, workers=2))
    store.record(run(1, workers=2))
    store.record(run(2, status="failed", workers=2))
    store.record(run(3, key=OTHER, profile_name="seqread-1m", workers=8))
    infos = history_keys(store)
    assert [info.history_key for info in infos] == [OTHER, KEY]
    mine = infos[1]
    assert (mine.runs, mine.complete, mine.newest_run_id, mine.workers) == (3, 2, "r002", 2)
    assert [i.history_key for i in history_keys(store, profile_name="seqread-1m")] == [OTHER]
    assert {i.history_key: i.version for i in infos} == key_versions(store)


def test_sqlite_series_carries_the_version_it_was_read_at(tmp_path):
    with SQLiteStore(tmp_path / "h.db") as store:
        assert history_index(store) is store
        store.record(run(0))
        read = store.metric_series(KEY, "iops")
        assert read.version == store.key_versions()[KEY] == 1


def test_a_summary_is_served_only_at_the_version_it_was_computed_at(tmp_path):
    with SQLiteStore(tmp_path / "h.db") as store:
        store.record(run(0))
        version, cached = store.cached_summary(KEY, "s")
        assert cached is None
        assert store.store_summary(KEY, "s", version, {"n": 1})
        assert store.cached_summary(KEY, "s") == (version, {"n": 1})
        store.record(run(1))
        newer, cached = store.cached_summary(KEY, "s")
        assert newer != version and cached is None
        # A summary computed before the record must not be kept as if it were current.
        assert not store.store_summary(KEY, "s", version, {"n": 1})
        assert store.cached_summary(KEY, "s") == (newer, None)
        assert store.store_summary(KEY, "s", newer, {"n": 2})
        assert store.cached_summary(KEY, "other") == (newer, None)


def test_another_process_recording_makes_the_summary_stale(tmp_path):
    """The version is bumped by a trigger, whatever code writes the file."""
    path = tmp_path / "h.db"
    with SQLiteStore(path) as store:
        store.record(run(0))
        version, _ = store.cached_summary(KEY, "s")
        store.store_summary(KEY, "s", version, {"n": 1})
        script = (
            "import sqlite3, sys; conn = sqlite3.connect(sys.argv[1]); "
            "conn.execute(\"DELETE FROM runs WHERE run_id = 'r000'\"); conn.commit()"
        )
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
        assert store.cached_summary(KEY, "s")[1] is None


def test_a_read_only_history_still_answers_uncached(tmp_path):
    with SQLiteStore(tmp_path / "h.db") as store:
        store.record(run(0))
        assert store._conn is not None
        store._conn.execute("PRAGMA query_only = ON")
        version, _ = store.cached_summary(KEY, "s")
        assert store.store_summary(KEY, "s", version, {"n": 1}) is False
        assert store.metric_series(KEY, "iops").points[0].run_id == "r000"


def test_a_version_3_file_gets_key_versions(tmp_path):
    path = tmp_path / "h.db"
    conn = sqlite3.connect(path)
    for step in MIGRATIONS[:3]:
        step(conn)
    conn.execute("PRAGMA application_id = 1179209548")
    conn.execute("PRAGMA user_version = 3")
    for number, key, content in ((1, KEY, "h1"), (2, KEY, "h1"), (3, OTHER, "h2")):
        conn.execute(
            "INSERT INTO runs (run_id, session_id, profile_name, profile_hash, profile_text,"
            " workers, backend, target, started_at, finished_at, status, repeat, test_id,"
            " verdict, error, fingerprint, notes, history_key) VALUES"
            " (?, 's', 'p', ?, '[x]', 1, 'local', 't', ?, ?, 'complete', 0, '', NULL, '',"
            " '{}', '[]', ?)",
            (f"v{number}", content, float(number), float(number), key),
        )
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        # Version 5 recomputes the keys (with the test part): two keys, 2 and 1 runs.
        versions = store.key_versions()
        assert sorted(versions.values()) == [1, 2]
        store.record(run(9))
        # A key's version only ever grows (the old keys' counters were bumped by v5).
        assert store.key_versions()[KEY] >= 1


def test_nothing_is_cached_for_a_store_without_an_index(tmp_path: Path):
    store = open_store(str(tmp_path / "h.json"))
    try:
        store.record(run(0))
        assert history_index(store) is None
        assert metric_series(store, KEY, "iops").version is None
    finally:
        store.close()
