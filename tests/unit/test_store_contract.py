"""The Store contract, run against every store implementation.

A new implementation joins by adding one entry to ``STORE_URIS``: a function that returns
the URI of a fresh, empty store for the test (it may use other fixtures via ``request``).
Opening the same URI twice must reach the same history.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.store import RunRecord, Store, default_store_uri, open_store
from pytest_fioloadgen.store.query import FILTER_PARAMS, QueryParam, RunQuery
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.store.tinydb_store import TinyDBStore

STORE_URIS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": lambda request, tmp_path: f"sqlite://{tmp_path / 'history.db'}",
    "tinydb": lambda request, tmp_path: f"tinydb://{tmp_path / 'history.json'}",
    # A live results server on an ephemeral loopback port (tests/conftest.py).
    "http": lambda request, tmp_path: request.getfixturevalue("http_store_uri"),
}


@pytest.fixture(params=sorted(STORE_URIS))
def open_same_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Store]]:
    """Opens the store under test; every call opens the same history anew."""
    uri = STORE_URIS[request.param](request, tmp_path)
    opened: list[Store] = []

    def opener() -> Store:
        store = open_store(uri, rootdir=tmp_path)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_same_store: Callable[[], Store]) -> Store:
    return open_same_store()


def make_run(run_id: str = "run-1", **changes: object) -> RunRecord:
    """A run with every field set to something that would show a lossy round trip."""
    run = RunRecord(
        run_id=run_id,
        session_id="session-A",
        profile_name="randread-4k",
        profile_hash="sha256:3f2a",
        profile_text="[global]\nioengine=libaio\n[job]\nrw=randread\nbs=4k\n# ünïcødé ✓\n",
        workers=4,
        backend="local",
        target="/mnt/fast",
        started_at=1_700_000_000.123456,
        finished_at=1_700_000_060.654321,
        status="complete",
        metrics={
            "iops": 12345.678,
            "read_lat_p99_ms": 0.1 + 0.2,
            "tiny": 5e-324,
            "huge": 1.7976931348623157e308,
            "negative": -3.5,
        },
        labels={"build": "1.2.3", "host": "nœud-7", "empty": ""},
        fingerprint={
            "fio": "fio-3.36",
            "kernel": {"release": "6.8.0", "params": ["quiet", "splash"]},
            "cpus": 16,
            "ratio": 0.75,
            "none": None,
            "flag": True,
        },
        raw={
            "fio version": "fio-3.36",
            "jobs": [{"jobname": "job", "read": {"iops": 12345.678, "bins": {"1000": 3}}}],
            "unicode": "µs ✓",
        },
        notes=("directory=/mnt/fast replaced by /mnt/fast/worker-0", "size 1g -> 64m"),
        repeat=2,
        test_id="benchmarks/test_io.py::test_randread[4-fast]",
        verdict="pass",
        error="",
        history_key="0123456789abcdef",
    )
    return dataclasses.replace(run, **changes)  # type: ignore[arg-type]


# -- round trips -----------------------------------------------------------------------


def test_full_record_round_trips_exactly(store: Store) -> None:
    run = make_run()
    store.record(run)
    assert store.get("run-1") == run
    assert store.query(with_raw=True) == [run]


def test_minimal_record_round_trips(store: Store) -> None:
    run = RunRecord(
        run_id="bare",
        session_id="",
        profile_name="p",
        profile_hash="h",
        profile_text="",
        workers=1,
        backend="static",
        target="",
        started_at=0.0,
        finished_at=0.0,
    )
    store.record(run)
    got = store.get("bare")
    assert got == run
    assert got.metrics == {}
    assert got.labels == {}
    assert got.fingerprint == {}
    assert got.raw is None
    assert got.notes == ()
    assert got.verdict is None


def test_failed_run_round_trips(store: Store) -> None:
    run = make_run(
        "failed-1",
        status="failed",
        metrics={},
        raw=None,
        verdict=None,
        error="fio exited 1 on worker-2: fio: pid=0, err=28/file:filesetup.c",
    )
    store.record(run)
    assert store.get("failed-1") == run


def test_raw_is_only_loaded_with_raw(store: Store) -> None:
    run = make_run()
    store.record(run)
    listed = store.query()
    assert listed == [dataclasses.replace(run, raw=None)]
    assert store.query(with_raw=True)[0].raw == run.raw
    # get() is a single-run detail view and always carries the fio document.
    assert store.get("run-1").raw == run.raw


def test_empty_raw_document_is_not_none(store: Store) -> None:
    store.record(make_run(raw={}))
    assert store.get("run-1").raw == {}


# -- filters -------------------------------------------------------------------------


@pytest.fixture
def history(store: Store) -> Store:
    """Six runs differing in one field at a time from run a."""
    labels = make_run().labels
    runs = [
        make_run("a", started_at=100.0),
        make_run("b", started_at=200.0, profile_name="seqwrite-1m", profile_hash="sha256:99"),
        make_run("c", started_at=300.0, workers=8, history_key="fedcba9876543210"),
        make_run("d", started_at=400.0, backend="kubernetes", target="gp3"),
        make_run(
            "e", started_at=500.0, session_id="session-B", labels={**labels, "build": "1.2.4"}
        ),
        make_run("f", started_at=600.0, status="failed", labels={**labels, "host": "n2"}),
    ]
    for run in runs:
        store.record(run)
    return store


def ids(runs: list[RunRecord]) -> list[str]:
    return [run.run_id for run in runs]


def test_query_without_filters_returns_all_newest_first(history: Store) -> None:
    assert ids(history.query()) == ["f", "e", "d", "c", "b", "a"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"profile_name": "seqwrite-1m"}, ["b"]),
        ({"profile_name": "randread-4k"}, ["f", "e", "d", "c", "a"]),
        ({"profile_hash": "sha256:99"}, ["b"]),
        ({"profile_hash": "sha256:3f2a"}, ["f", "e", "d", "c", "a"]),
        ({"workers": 8}, ["c"]),
        ({"workers": 4}, ["f", "e", "d", "b", "a"]),
        ({"backend": "kubernetes"}, ["d"]),
        ({"target": "gp3"}, ["d"]),
        ({"target": "/mnt/fast"}, ["f", "e", "c", "b", "a"]),
        ({"session_id": "session-B"}, ["e"]),
        ({"status": "failed"}, ["f"]),
        ({"status": "complete"}, ["e", "d", "c", "b", "a"]),
        ({"workers": 2}, []),
        ({"history_key": "fedcba9876543210"}, ["c"]),
        ({"history_key": "0123456789abcdef"}, ["f", "e", "d", "b", "a"]),
        ({"profile_name": "no-such-profile"}, []),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_each_filter_alone(history: Store, filters: dict[str, object], expected: list[str]) -> None:
    assert ids(history.query(**filters)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"profile_name": "randread-4k", "workers": 4, "target": "/mnt/fast"}, ["f", "e", "a"]),
        ({"profile_name": "randread-4k", "workers": 4, "status": "complete"}, ["e", "d", "a"]),
        ({"backend": "local", "session_id": "session-A", "status": "complete"}, ["c", "b", "a"]),
        ({"profile_hash": "sha256:99", "workers": 8}, []),
        ({"labels": {"build": "1.2.3"}, "status": "failed"}, ["f"]),
        ({"labels": {"build": "1.2.3"}, "workers": 8, "target": "/mnt/fast"}, ["c"]),
    ],
)
def test_filters_combined(history: Store, filters: dict[str, object], expected: list[str]) -> None:
    assert ids(history.query(**filters)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"build": "1.2.4"}, ["e"]),
        ({"build": "1.2.3"}, ["f", "d", "c", "b", "a"]),
        ({"host": "nœud-7"}, ["e", "d", "c", "b", "a"]),
        ({"build": "1.2.3", "host": "nœud-7"}, ["d", "c", "b", "a"]),
        ({"build": "1.2.4", "host": "n2"}, []),
        ({"empty": ""}, ["f", "e", "d", "c", "b", "a"]),
        ({"build": "1.2"}, []),
        ({"no-such-key": "1.2.3"}, []),
        ({}, ["f", "e", "d", "c", "b", "a"]),
    ],
)
def test_label_filter_needs_every_pair(
    history: Store, labels: dict[str, str], expected: list[str]
) -> None:
    assert ids(history.query(labels=labels)) == expected


def test_filter_values_are_data_not_query_text(history: Store) -> None:
    assert history.query(profile_name="x' OR '1'='1") == []
    assert history.query(labels={"build": "1' OR '1'='1"}) == []
    # Run ids have a rule of their own (store.base.RUN_ID): the quote goes in the session.
    history.record(
        make_run("quote", session_id="quote'; DROP TABLE runs; --", labels={"k": "v'--"})
    )
    assert ids(history.query(labels={"k": "v'--"})) == ["quote"]
    assert ids(history.query(session_id="quote'; DROP TABLE runs; --")) == ["quote"]
    assert len(history.query()) == 7


def test_limit_keeps_the_newest(history: Store) -> None:
    assert ids(history.query(limit=2)) == ["f", "e"]
    assert ids(history.query(limit=1, status="complete")) == ["e"]
    assert ids(history.query(limit=100)) == ["f", "e", "d", "c", "b", "a"]
    assert history.query(limit=0) == []


def test_equal_start_times_order_by_run_id_descending(store: Store) -> None:
    for run_id in ("m", "z", "a"):
        store.record(make_run(run_id, started_at=5.0))
    store.record(make_run("later", started_at=6.0))
    assert ids(store.query()) == ["later", "z", "m", "a"]


# -- identity, deletion, persistence -------------------------------------------------


def test_duplicate_run_id_is_refused_and_the_first_kept(store: Store) -> None:
    first = make_run("dup-7")
    store.record(first)
    with pytest.raises(StoreError, match="'dup-7'"):
        store.record(make_run("dup-7", metrics={"iops": 1.0}, labels={"x": "y"}, raw=None))
    assert store.get("dup-7") == first
    assert ids(store.query()) == ["dup-7"]
    assert store.query(labels={"x": "y"}) == []


def test_get_unknown_id_names_it(store: Store) -> None:
    store.record(make_run("known"))
    with pytest.raises(StoreError, match="'no-such-run'"):
        store.get("no-such-run")


def test_delete_removes_one_run_and_reports_it(history: Store) -> None:
    assert history.delete("c") is True
    assert history.delete("c") is False
    assert history.delete("never-there") is False
    with pytest.raises(StoreError, match="'c'"):
        history.get("c")
    assert ids(history.query()) == ["f", "e", "d", "b", "a"]
    assert ids(history.query(workers=8)) == []
    assert history.get("d") == make_run("d", started_at=400.0, backend="kubernetes", target="gp3")


def test_deleted_id_can_be_recorded_again(store: Store) -> None:
    store.record(make_run("again"))
    store.delete("again")
    replacement = make_run("again", metrics={"iops": 7.0})
    store.record(replacement)
    assert store.get("again") == replacement


def test_history_persists_across_close_and_reopen(open_same_store: Callable[[], Store]) -> None:
    first = open_same_store()
    runs = [make_run("one", started_at=1.0), make_run("two", started_at=2.0, raw=None)]
    for run in runs:
        first.record(run)
    first.close()
    second = open_same_store()
    assert second.get("one") == runs[0]
    assert second.query(with_raw=True) == [runs[1], runs[0]]


def test_closed_store_refuses_work(store: Store) -> None:
    store.record(make_run("before"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get("before")
    with pytest.raises(StoreError, match="closed"):
        store.record(make_run("after"))


def test_store_satisfies_the_protocol(store: Store) -> None:
    assert isinstance(store, Store)
    assert isinstance(store.uri, str)
    assert store.uri


# -- choosing a store by URI ---------------------------------------------------------


def open_sqlite(uri: str, **kwargs: object) -> SQLiteStore:
    store = open_store(uri, **kwargs)  # type: ignore[arg-type]
    assert isinstance(store, SQLiteStore)
    store.close()
    return store


def test_bare_relative_path_is_sqlite_under_rootdir(tmp_path: Path) -> None:
    store = open_sqlite("history.db", rootdir=tmp_path)
    assert store.path == tmp_path / "history.db"
    assert store.uri == f"sqlite://{tmp_path}/history.db"
    assert (tmp_path / "history.db").is_file()


def test_bare_nested_path_creates_the_directories(tmp_path: Path) -> None:
    store = open_sqlite("some/dir/x.db", rootdir=tmp_path)
    assert store.path == tmp_path / "some" / "dir" / "x.db"
    assert store.path.is_file()


def test_bare_absolute_path_ignores_rootdir(tmp_path: Path) -> None:
    store = open_sqlite(str(tmp_path / "abs.db"), rootdir=tmp_path / "elsewhere")
    assert store.path == tmp_path / "abs.db"


def test_relative_path_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_sqlite("cwd.db").path == tmp_path / "cwd.db"


def test_path_with_a_colon_is_still_a_path(tmp_path: Path) -> None:
    assert open_sqlite("runs:old.db", rootdir=tmp_path).path == tmp_path / "runs:old.db"


def test_sqlite_uri_with_absolute_path(tmp_path: Path) -> None:
    store = open_sqlite(f"sqlite://{tmp_path}/a/b.db", rootdir=tmp_path / "ignored")
    assert store.path == tmp_path / "a" / "b.db"
    assert store.path.is_file()


def test_sqlite_uri_with_relative_path(tmp_path: Path) -> None:
    assert open_sqlite("sqlite:rel/h.db", rootdir=tmp_path).path == tmp_path / "rel" / "h.db"


def test_store_uri_reopens_the_same_file(tmp_path: Path) -> None:
    first = open_store("h.db", rootdir=tmp_path)
    first.record(make_run("x"))
    first.close()
    again = open_store(first.uri, rootdir=tmp_path / "elsewhere")
    try:
        assert again.get("x") == make_run("x")
    finally:
        again.close()


def test_sqlite_uri_with_two_slashes_explains_three(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store("sqlite://x.db", rootdir=tmp_path)
    assert str(info.value) == (
        "history store URI 'sqlite://x.db': write sqlite:///absolute/path (three slashes) "
        "or sqlite:x.db for a path relative to the rootdir"
    )
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("uri", ["ftp://host/h.db", "mongodb://db:27017/runs"])
def test_unknown_scheme_names_the_uri_and_the_supported_ones(tmp_path: Path, uri: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(uri, rootdir=tmp_path)
    scheme = uri.split(":")[0]
    assert str(info.value) == (
        f"history store URI {uri!r}: scheme {scheme!r} is not supported; use a path "
        "(history.db, or history.json for TinyDB), sqlite:///absolute/path.db, "
        "sqlite:relative/path.db, tinydb:///absolute/path.json, tinydb:relative/path.json, "
        "http(s)://server[:port] (a results server)"
    )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("uri", ["", "sqlite:"])
def test_uri_without_a_file_is_refused(tmp_path: Path, uri: str) -> None:
    with pytest.raises(StoreError, match="names no file"):
        open_store(uri, rootdir=tmp_path)


def test_json_paths_and_tinydb_uris_open_tinydb(tmp_path: Path) -> None:
    for uri in ("h.json", f"tinydb://{tmp_path / 'a.json'}", "tinydb:rel/b.json"):
        store = open_store(uri, rootdir=tmp_path)
        try:
            assert isinstance(store, TinyDBStore)
            assert store.uri.startswith("tinydb:///")
        finally:
            store.close()
    assert (tmp_path / "rel" / "b.json").exists()


def test_default_store_uri_is_under_rootdir(tmp_path: Path) -> None:
    uri = default_store_uri(tmp_path)
    assert uri == str(tmp_path / ".fioloadgen" / "history.db")
    assert open_sqlite(uri).path == tmp_path / ".fioloadgen" / "history.db"


# -- baselines -----------------------------------------------------------------------


def test_pin_and_read_a_baseline(history: Store) -> None:
    pinned = history.pin_baseline("release-1.2", ["a", "c", "a"], note="before the upgrade")
    assert pinned.run_ids == ("a", "c")
    again = history.get_baseline("release-1.2")
    assert again.name == "release-1.2"
    assert sorted(again.run_ids) == ["a", "c"]
    assert again.note == "before the upgrade"
    assert [b.name for b in history.baselines()] == ["release-1.2"]


def test_pinning_again_replaces_the_runs(history: Store) -> None:
    history.pin_baseline("main", ["a"])
    history.pin_baseline("main", ["b", "d"])
    assert sorted(history.get_baseline("main").run_ids) == ["b", "d"]
    assert len(history.baselines()) == 1


def test_baseline_of_unknown_runs_is_refused_and_changes_nothing(history: Store) -> None:
    history.pin_baseline("main", ["a"])
    with pytest.raises(StoreError, match="no run 'zz' to pin in baseline 'main'"):
        history.pin_baseline("main", ["b", "zz"])
    assert history.get_baseline("main").run_ids == ("a",)


@pytest.mark.parametrize("name", ["", "../x", "a b", "x" * 65, "-lead"])
def test_baseline_names_are_restricted(history: Store, name: str) -> None:
    with pytest.raises(StoreError, match="baseline name"):
        history.pin_baseline(name, ["a"])


def test_unknown_baseline_and_delete(history: Store) -> None:
    with pytest.raises(StoreError, match="no baseline 'nope'"):
        history.get_baseline("nope")
    history.pin_baseline("main", ["a"])
    assert history.delete_baseline("main") is True
    assert history.delete_baseline("main") is False
    assert history.baselines() == []
    assert ids(history.query(profile_hash="sha256:3f2a", workers=4, backend="local")) == [
        "f",
        "e",
        "a",
    ]


def test_a_pinned_run_cannot_be_deleted(history: Store) -> None:
    history.pin_baseline("main", ["a"])
    with pytest.raises(StoreError, match="run 'a' is pinned in baseline 'main'"):
        history.delete("a")
    assert history.get("a").run_id == "a"


# -- search (the server's run list and the http store's backend) --------------------------


@pytest.fixture
def searchable(store: Store) -> Store:
    runs = [
        make_run("s1", started_at=100.0, test_id="t.py::test_a[rr-w1-local]", verdict="pass"),
        make_run("s2", started_at=200.0, test_id="t.py::test_a[rr-w2-local]", verdict="fail"),
        make_run("s3", started_at=300.0, test_id="t.py::test_ab", verdict="pass"),
        make_run(
            "s4",
            started_at=400.0,
            test_id="job",
            verdict="none",
            labels={"job_title": "50% off_peak"},
        ),
    ]
    for run in runs:
        store.record(run)
    return store


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (RunQuery(), ["s4", "s3", "s2", "s1"]),
        # A test part matches its parametrized runs, not another test with that prefix.
        (RunQuery(test="t.py::test_a"), ["s2", "s1"]),
        (RunQuery(test="job"), ["s4"]),
        (RunQuery(verdict="pass"), ["s3", "s1"]),
        (RunQuery(since=150.0, until=350.0), ["s3", "s2"]),
        (RunQuery(text="TEST_AB"), ["s3"]),
        # LIKE wildcards in the text match themselves.
        (RunQuery(text="50% off_"), ["s4"]),
        (RunQuery(text="%"), ["s4"]),
        (RunQuery(labels={"job_title": "50% off_peak"}), ["s4"]),
    ],
)
def test_search_filters(searchable: Store, query: RunQuery, expected: list[str]) -> None:
    page = searchable.search(query)
    assert ids(page.runs) == expected
    assert page.total == len(expected)
    assert all(run.raw is None for run in page.runs)


def test_search_pages_and_counts(searchable: Store) -> None:
    first = searchable.search(RunQuery(limit=3))
    rest = searchable.search(RunQuery(after=first.next, limit=3))
    assert ids(first.runs) == ["s4", "s3", "s2"] and ids(rest.runs) == ["s1"]
    assert first.total == rest.total == 4
    assert searchable.search(RunQuery(limit=0)).runs == []


#: Per RunQuery filter, a query that picks out run s3 and no other (a new filter needs its
#: entry here, and so its support in every store). The time bounds go together: s3 is
#: neither the oldest nor the newest run, and each bound alone would let others in.
ONLY_S3: dict[str, dict[str, object]] = {
    "profile_name": {"profile_name": "seq-only-s3"},
    "profile_hash": {"profile_hash": "sha256:only-s3"},
    "workers": {"workers": 7},
    "backend": {"backend": "static"},
    "target": {"target": "/mnt/s3"},
    "session_id": {"session_id": "session-s3"},
    "history_key": {"history_key": "key-of-s3"},
    "test": {"test": "t.py::test_ab"},
    "verdict": {"verdict": "improved"},
    "status": {"status": "failed"},
    "labels": {"labels": {"only": "s3"}},
    "since": {"since": 250.0, "until": 350.0},
    "until": {"until": 350.0, "since": 250.0},
    "text": {"text": "SEQ-ONLY"},
}


@pytest.mark.parametrize("param", FILTER_PARAMS, ids=lambda param: param.field)
def test_every_filter_is_honoured_by_every_store(store: Store, param: QueryParam) -> None:
    odd = {
        "profile_name": "seq-only-s3",
        "profile_hash": "sha256:only-s3",
        "workers": 7,
        "backend": "static",
        "target": "/mnt/s3",
        "session_id": "session-s3",
        "history_key": "key-of-s3",
        "test_id": "t.py::test_ab",
        "verdict": "improved",
        "status": "failed",
        "labels": {"only": "s3"},
    }
    for run_id, started_at in (("s1", 100.0), ("s2", 200.0), ("s4", 400.0)):
        store.record(make_run(run_id, started_at=started_at))
    store.record(make_run("s3", started_at=300.0, **odd))
    query = RunQuery(**ONLY_S3[param.field])  # type: ignore[arg-type]
    assert ids(store.query(query)) == ["s3"]
    assert store.run_ids(query) == ["s3"]
    page = store.search(query)
    assert ids(page.runs) == ["s3"] and page.total == 1


def test_pages_follow_the_cursor_and_the_offset(store: Store) -> None:
    for number in range(7):
        # Two runs share each start time: the run id orders them.
        store.record(make_run(f"p{number}", started_at=100.0 + number // 2))
    everything = ids(store.query())
    seen: list[str] = []
    cursor = None
    while True:
        page = store.search(RunQuery(limit=3, after=cursor))
        assert page.total == 7
        seen += ids(page.runs)
        assert len(seen) <= page.total, "a page repeats runs"
        cursor = page.next
        if cursor is None:
            break
    assert seen == everything
    assert ids(store.query(RunQuery(limit=2, offset=3))) == everything[3:5]
    after_two = store.search(RunQuery(limit=2)).next
    assert ids(store.query(RunQuery(after=after_two, offset=1))) == everything[3:]
    assert store.run_ids(RunQuery(after=after_two, limit=1)) == everything[2:3]


def cursor_walk(store: Store, query: RunQuery) -> list[str]:
    """Every page of ``query`` in turn, following RunPage.next: the run ids in order."""
    seen: list[str] = []
    cursor = None
    while True:
        page = store.search(dataclasses.replace(query, after=cursor))
        seen += ids(page.runs)
        assert len(seen) <= page.total, "a page repeats runs"
        cursor = page.next
        if cursor is None:
            return seen
        # Only the last page is short, and a cursor is where its page ended.
        assert query.limit is not None and len(page.runs) == query.limit
        assert (cursor.started_at, cursor.run_id) == (page.runs[-1].started_at, seen[-1])


def test_cursor_pages_give_every_run_once_in_order_at_every_page_size(store: Store) -> None:
    for number in range(8):
        # Three runs share a start time: the run id orders them.
        store.record(
            make_run(
                f"k{number}",
                started_at=100.0 + number // 3,
                status="failed" if number % 2 else "complete",
            )
        )
    everything = ids(store.query())
    failed = ids(store.query(status="failed"))
    assert len(everything) == 8 and len(failed) == 4
    for limit in range(1, 10):
        assert cursor_walk(store, RunQuery(limit=limit)) == everything, limit
        assert cursor_walk(store, RunQuery(limit=limit, status="failed")) == failed, limit


def test_a_cursor_is_not_shifted_by_newer_runs(store: Store) -> None:
    for number in range(6):
        store.record(make_run(f"n{number}", started_at=100.0 + number))
    everything = ids(store.query())
    first = store.search(RunQuery(limit=2))
    # An offset would now repeat the first page's last run; the cursor goes on after it.
    store.record(make_run("n-newer", started_at=900.0))
    # As old as the page's last run (n4) and sorting after it by run id ("n-" < "n4").
    store.record(make_run("n-tied", started_at=104.0))
    rest = store.search(RunQuery(limit=10, after=first.next))
    assert ids(first.runs) == ["n5", "n4"]
    assert ids(rest.runs) == ["n-tied", *everything[2:]]
    assert rest.total == 8 and rest.next is None
