"""What only the sqlite store promises: its file, schema, migrations and concurrency."""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import sqlite3
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_store_contract import make_run

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.identity import history_key
from pytest_fioloadgen.store import sqlite as sqlite_store
from pytest_fioloadgen.store.sqlite import APPLICATION_ID, MIGRATIONS, SQLiteStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path) as store:
        yield store


def peek(db_path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read the file with a connection of its own, as another process would."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the file --------------------------------------------------------------------------


def test_new_file_is_wal_with_current_schema(store: SQLiteStore, db_path: Path) -> None:
    assert peek(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert len(MIGRATIONS) == 7
    assert peek(db_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    tables = peek(db_path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    assert tables == [
        ("baseline_runs",),
        ("baselines",),
        ("key_summaries",),
        ("key_versions",),
        ("labels",),
        ("metrics",),
        ("raw_results",),
        ("runs",),
    ]


def test_connection_settings(store: SQLiteStore) -> None:
    conn = store._conn
    assert conn is not None
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone() == (30_000,)


@pytest.mark.parametrize(
    "where",
    [
        "profile_name = ?",
        "profile_hash = ?",
        "workers = ?",
        "backend = ?",
        "target = ?",
        "session_id = ?",
        "status = ?",
        "profile_name = ? AND workers = ? AND target = ?",
    ],
)
def test_every_filter_column_is_indexed(store: SQLiteStore, db_path: Path, where: str) -> None:
    params = ("x",) * where.count("?")
    plan = peek(db_path, f"EXPLAIN QUERY PLAN SELECT run_id FROM runs WHERE {where}", params)
    detail = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX" in detail, detail


def test_label_filter_and_newest_first_use_indexes(store: SQLiteStore, db_path: Path) -> None:
    plan = peek(
        db_path,
        "EXPLAIN QUERY PLAN SELECT run FROM labels WHERE key = ? AND value = ?",
        ("k", "v"),
    )
    assert "USING COVERING INDEX labels_by_pair" in str(plan[0][-1])
    plan = peek(
        db_path, "EXPLAIN QUERY PLAN SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC"
    )
    assert [row[-1] for row in plan] == ["SCAN runs USING COVERING INDEX runs_by_started"]


def test_raw_is_stored_as_zlib_of_compact_json(store: SQLiteStore, db_path: Path) -> None:
    run = make_run(raw={"jobs": [{"read": {"iops": 1.5}}] * 50, "text": "µs"})
    store.record(run)
    [(blob,)] = peek(db_path, "SELECT fio_json_z FROM raw_results")
    assert isinstance(blob, bytes)
    compact = json.dumps(run.raw, separators=(",", ":")).encode()
    assert zlib.decompress(blob) == compact
    assert len(blob) < len(compact) / 10


def test_duplicate_message_says_runs_are_immutable(store: SQLiteStore, db_path: Path) -> None:
    store.record(make_run("twice"))
    with pytest.raises(StoreError) as info:
        store.record(make_run("twice"))
    assert str(info.value) == (
        f"history store {db_path}: run 'twice' is already recorded (runs are immutable)"
    )


def test_runs_without_raw_have_no_raw_row(store: SQLiteStore, db_path: Path) -> None:
    store.record(make_run("no-raw", raw=None))
    assert peek(db_path, "SELECT count(*) FROM raw_results") == [(0,)]


def test_metrics_and_labels_are_rows(store: SQLiteStore, db_path: Path) -> None:
    store.record(make_run(metrics={"iops": 10.0, "bw_mib_s": 2.5}, labels={"build": "7"}))
    assert peek(db_path, "SELECT name, value FROM metrics ORDER BY name") == [
        ("bw_mib_s", 2.5),
        ("iops", 10.0),
    ]
    assert peek(db_path, "SELECT key, value FROM labels") == [("build", "7")]


def test_delete_leaves_no_orphans(store: SQLiteStore, db_path: Path) -> None:
    store.record(make_run("gone"))
    store.record(make_run("kept", raw=None, metrics={"iops": 1.0}, labels={}))
    assert store.delete("gone") is True
    for table in ("metrics", "labels", "raw_results"):
        rows = peek(db_path, f"SELECT count(*) FROM {table}")
        assert rows == [(1 if table == "metrics" else 0,)], table


def test_nan_and_infinite_metrics_round_trip(store: SQLiteStore) -> None:
    store.record(make_run(metrics={"nan": math.nan, "inf": math.inf, "ninf": -math.inf}))
    metrics = store.get("run-1").metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf
    assert metrics["ninf"] == -math.inf


def test_integer_metrics_come_back_as_floats(store: SQLiteStore) -> None:
    store.record(make_run(metrics={"iops": 3}))
    value = store.get("run-1").metrics["iops"]
    assert value == 3.0
    assert type(value) is float


def test_failure_mid_record_writes_nothing(store: SQLiteStore, db_path: Path) -> None:
    # The label value cannot be bound, so the error comes after the runs and metrics rows.
    bad = make_run("half", labels={"ok": "1", "bad": ["not", "a", "str"]})
    with pytest.raises(StoreError, match="cannot record run 'half'"):
        store.record(bad)
    with pytest.raises(StoreError, match="'half'"):
        store.get("half")
    for table in ("runs", "metrics", "labels", "raw_results"):
        assert peek(db_path, f"SELECT count(*) FROM {table}") == [(0,)], table
    store.record(make_run("next"))
    assert [run.run_id for run in store.query()] == ["next"]


def test_unserialisable_raw_is_a_store_error(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match=r"cannot record run 'run-1' \(.*not JSON serializable"):
        store.record(make_run(raw={"when": object()}))
    assert store.query() == []


def test_damaged_raw_blob_names_the_run(store: SQLiteStore, db_path: Path) -> None:
    store.record(make_run("hurt"))
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE raw_results SET fio_json_z = ?", (b"garbage",))
    conn.commit()
    conn.close()
    assert store.query()[0].run_id == "hurt"
    with pytest.raises(StoreError, match="run 'hurt' is damaged"):
        store.get("hurt")


def test_negative_limit_is_refused(store: SQLiteStore) -> None:
    with pytest.raises(StoreError, match="limit -1"):
        store.query(limit=-1)


def test_close_twice_is_harmless(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    store.close()
    store.close()


# -- opening what is already at the path ---------------------------------------------


def test_empty_file_is_version_zero_and_migrates(db_path: Path) -> None:
    db_path.touch()
    with SQLiteStore(db_path) as store:
        store.record(make_run())
        assert store.get("run-1") == make_run()
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_empty_sqlite_database_migrates(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    with SQLiteStore(db_path) as store:
        store.record(make_run())
    assert peek(db_path, "SELECT run_id FROM runs") == [("run-1",)]


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    with SQLiteStore(db_path) as store:
        store.record(make_run())
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = digest(db_path)
    with pytest.raises(StoreError) as info:
        SQLiteStore(db_path)
    assert str(info.value) == (
        f"history store {db_path} has schema version {len(MIGRATIONS) + 1}, this"
        f" pytest-fioloadgen knows up to {len(MIGRATIONS)}; upgrade pytest-fioloadgen"
    )
    assert digest(db_path) == before


@pytest.mark.parametrize(
    "content",
    [b"not a database, just text\n" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "bad-header"],
)
def test_non_sqlite_file_is_refused_untouched(db_path: Path, content: bytes) -> None:
    db_path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        SQLiteStore(db_path)
    message = str(info.value)
    assert message.startswith(f"history store {db_path} is not an sqlite database (")
    assert "\n" not in message
    assert db_path.read_bytes() == content
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["history.db"]


def test_other_applications_database_is_refused_untouched(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, sql TEXT)")
    conn.execute("INSERT INTO jobs VALUES ('1', 'select 1')")
    conn.commit()
    conn.close()
    before = digest(db_path)
    with pytest.raises(StoreError, match="is an sqlite database of another application"):
        SQLiteStore(db_path)
    assert digest(db_path) == before
    assert peek(db_path, "PRAGMA journal_mode") == [("delete",)]


def test_other_application_using_user_version_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE things (x)")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with pytest.raises(StoreError, match="another application"):
        SQLiteStore(db_path)


def test_directory_at_the_path_is_refused(db_path: Path) -> None:
    db_path.mkdir()
    with pytest.raises(StoreError, match=f"history store {db_path} is a directory"):
        SQLiteStore(db_path)


def test_unwritable_location_names_it(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("x")
    path = tmp_path / "plain-file" / "sub" / "history.db"
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert str(info.value).startswith(
        f"history store {path}: cannot create directory {path.parent} ("
    )


def test_read_only_directory_names_the_file(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if _can_write(locked):
        pytest.skip("running with privileges that ignore directory permissions")
    with pytest.raises(StoreError, match=f"history store {locked / 'h.db'} cannot be opened"):
        SQLiteStore(locked / "h.db")


def _can_write(directory: Path) -> bool:
    try:
        (directory / "probe").touch()
    except PermissionError:
        return False
    (directory / "probe").unlink()
    return True


# -- migrations ----------------------------------------------------------------------


def _add_reviewer_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE runs ADD COLUMN reviewer TEXT NOT NULL DEFAULT ''")


def test_older_file_is_migrated_forward_keeping_its_runs(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(db_path) as store:
        store.record(make_run("old"))
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, _add_reviewer_column])
    with SQLiteStore(db_path) as store:
        assert store.get("old") == make_run("old")
        store.record(make_run("new"))
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS) + 1,)]
    assert peek(db_path, "SELECT run_id, reviewer FROM runs ORDER BY run_id") == [
        ("new", ""),
        ("old", ""),
    ]


def test_failing_migration_rolls_back_completely(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(db_path) as store:
        store.record(make_run("old"))

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(sqlite_store, "MIGRATIONS", [*MIGRATIONS, _add_reviewer_column, half_done])
    with pytest.raises(
        StoreError, match=f"schema migration to version {len(MIGRATIONS) + 2} failed"
    ):
        SQLiteStore(db_path)
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert peek(db_path, "SELECT name FROM sqlite_master WHERE name = 'half'") == []
    # Rolled back to what the file was: the last column is still the newest field's.
    assert [row[1] for row in peek(db_path, "PRAGMA table_info(runs)")][-1] == "sweep"
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS)
    with SQLiteStore(db_path) as store:
        assert store.get("old") == make_run("old")


# -- concurrency ---------------------------------------------------------------------


def _write_runs(path: str, writer: int, count: int, start: object) -> None:
    """Runs in a spawned process: wait for the others, then record ``count`` runs."""
    start.wait()  # type: ignore[attr-defined]
    store = SQLiteStore(path)
    try:
        for n in range(count):
            store.record(
                make_run(
                    f"w{writer}-{n}",
                    session_id=f"writer-{writer}",
                    started_at=float(n),
                    raw={"writer": writer, "n": n, "pad": "x" * 2000},
                )
            )
    finally:
        store.close()


def test_several_writer_processes_share_one_file(db_path: Path) -> None:
    writers, per_writer = 4, 50
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    processes = [
        context.Process(target=_write_runs, args=(str(db_path), w, per_writer, start))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * writers
    assert peek(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert peek(db_path, "PRAGMA foreign_key_check") == []
    with SQLiteStore(db_path) as store:
        everything = store.query()
        assert len(everything) == writers * per_writer
        assert len({run.run_id for run in everything}) == writers * per_writer
        for w in range(writers):
            assert len(store.query(session_id=f"writer-{w}")) == per_writer
        assert store.get("w3-49").raw == {"writer": 3, "n": 49, "pad": "x" * 2000}


def test_one_store_shared_by_threads(store: SQLiteStore) -> None:
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for n in range(25):
                store.record(make_run(f"t{thread}-{n}", started_at=float(n)))
                store.query(limit=3)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.query()) == 200


def test_version_1_file_gets_history_keys_computed(db_path: Path) -> None:
    """A history.db written before history keys existed: keys are computed on open."""
    conn = sqlite3.connect(db_path)
    sqlite_store.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    fingerprint = {"fio_version": "fio-3.33", "host": "h", "targets": {"t": {"workers": 4}}}
    conn.execute(
        "INSERT INTO runs (run_id, session_id, profile_name, profile_hash, profile_text,"
        " workers, backend, target, started_at, finished_at, status, repeat, test_id,"
        " verdict, error, fingerprint, notes) VALUES"
        " ('v1', 's', 'p', 'hash', '[x]', 2, 'local', 't', 1.0, 2.0, 'complete', 0, '',"
        " NULL, '', ?, '[]')",
        (json.dumps(fingerprint),),
    )
    conn.commit()
    conn.close()
    # Migrated through every version: the key of today, with the (empty) test part.
    expected = history_key(
        test="",
        profile_hash="hash",
        workers=2,
        backend="local",
        target="t",
        fingerprint=fingerprint,
    )
    with SQLiteStore(db_path) as store:
        assert store.get("v1").history_key == expected
        assert [run.run_id for run in store.query(history_key=expected)] == ["v1"]
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_v6_gives_older_runs_their_spectrum_from_the_raw_document_once(db_path: Path) -> None:
    from dataclasses import replace

    from pytest_fioloadgen.fio.results import parse_result
    from pytest_fioloadgen.fio.spectrum import run_spectrum

    golden = Path(__file__).parents[1] / "data" / "golden" / "randread-w2.json"
    raw = json.loads(golden.read_text())
    with SQLiteStore(db_path) as store:
        store.record(replace(make_run("old"), raw=raw))
        store.record(replace(make_run("bare"), raw=None))
    # As a version 5 file left them: no spectrum column filled.
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE runs SET spectrum = '{}'")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    with SQLiteStore(db_path) as store:
        old, bare = store.get("old"), store.get("bare")
    assert old.spectrum == run_spectrum(parse_result(raw)) != {}
    assert old.spectrum["read"]["p50"] > 0
    assert bare.spectrum == {}
    assert peek(db_path, "PRAGMA user_version") == [(len(MIGRATIONS),)]


def test_v7_gives_spectra_stored_before_p97_and_p98_the_new_rungs(db_path: Path) -> None:
    from dataclasses import replace

    from pytest_fioloadgen.fio.results import parse_result
    from pytest_fioloadgen.fio.spectrum import run_spectrum

    golden = Path(__file__).parents[1] / "data" / "golden" / "randread-w2.json"
    raw = json.loads(golden.read_text())
    complete = run_spectrum(parse_result(raw))
    with SQLiteStore(db_path) as store:
        store.record(replace(make_run("old"), raw=raw, spectrum=complete))
    assert complete["read"]["p97"] <= complete["read"]["p98"] <= complete["read"]["p99"]
    # As a version 6 file left it: the spectrum of the shorter ladder.
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE runs SET spectrum = json_remove(spectrum, '$.read.p97', '$.read.p98')")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    assert "p97" not in json.loads(peek(db_path, "SELECT spectrum FROM runs")[0][0])["read"]
    with SQLiteStore(db_path) as store:
        assert store.get("old").spectrum == complete
    assert peek(db_path, "PRAGMA user_version") == [(7,)]
