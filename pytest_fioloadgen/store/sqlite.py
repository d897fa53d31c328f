"""The sqlite history store: one file, safe for several writer processes.

Layout: ``runs`` holds one row per run with the filter columns indexed; ``metrics`` and
``labels`` are key/value tables so that a filter or a "series of metric M for case K" is
an index lookup instead of a scan through JSON; the compressed fio JSON lives apart in
``raw_results`` so that listing runs never reads those large blobs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import StoreError
from ..fio.spectrum import ladder_complete, spectrum_of_raw
from ..identity import JOB_TEST, case_test_part, history_key
from .base import Baseline, RunRecord, baseline_runs
from .history_index import KeyInfo, SeriesPoint, SeriesRead
from .query import RunPage, RunQuery
from .schema import COLUMNS
from .wire import run_json_text

#: Marks a file as ours (PRAGMA application_id, "FIOL"), so that a foreign sqlite
#: database that happens to use user_version is never mistaken for a history store.
APPLICATION_ID = 0x46494F4C

#: Long enough to outlast another process's write of one run (a few ms) many times over.
BUSY_TIMEOUT_S = 30.0


def _v1_initial(conn: sqlite3.Connection) -> None:
    statements = (
        # run_id is the public key; the integer id keeps the child tables and their
        # indexes small and their joins cheap.
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL,
            profile_name TEXT NOT NULL,
            profile_hash TEXT NOT NULL,
            profile_text TEXT NOT NULL,
            workers INTEGER NOT NULL,
            backend TEXT NOT NULL,
            target TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            status TEXT NOT NULL,
            repeat INTEGER NOT NULL,
            test_id TEXT NOT NULL,
            verdict TEXT,
            error TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            notes TEXT NOT NULL
        )""",
        # The case key (profile, workers, target) in that order, then time: serves the
        # regression baseline / chart series lookups and a profile_name filter alone.
        "CREATE INDEX runs_by_case ON runs (profile_name, workers, target, started_at)",
        "CREATE INDEX runs_by_started ON runs (started_at, run_id)",
        "CREATE INDEX runs_by_profile_hash ON runs (profile_hash)",
        "CREATE INDEX runs_by_session ON runs (session_id)",
        "CREATE INDEX runs_by_target ON runs (target)",
        "CREATE INDEX runs_by_workers ON runs (workers)",
        "CREATE INDEX runs_by_backend ON runs (backend)",
        "CREATE INDEX runs_by_status ON runs (status)",
        # value is nullable because sqlite stores NaN as NULL; it reads back as NaN.
        """CREATE TABLE metrics (
            run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (run, name)
        ) WITHOUT ROWID""",
        """CREATE TABLE labels (
            run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX labels_by_pair ON labels (key, value)",
        # zlib of compact JSON; a change of encoding is a migration, not a flag column.
        """CREATE TABLE raw_results (
            run INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
            fio_json_z BLOB NOT NULL
        )""",
        f"PRAGMA application_id = {APPLICATION_ID}",
    )
    for statement in statements:
        conn.execute(statement)


def _v2_history_key(conn: sqlite3.Connection) -> None:
    """Add the history key and compute it for runs recorded before it existed."""
    conn.execute("ALTER TABLE runs ADD COLUMN history_key TEXT NOT NULL DEFAULT ''")
    rows = conn.execute(
        "SELECT id, profile_hash, workers, backend, target, fingerprint FROM runs"
    ).fetchall()
    conn.executemany(
        "UPDATE runs SET history_key = ? WHERE id = ?",
        [
            (
                # The key as it was defined then (v5 recomputes it with the test part).
                history_key(
                    test="",
                    profile_hash=profile_hash,
                    workers=workers,
                    backend=backend,
                    target=target,
                    fingerprint=json.loads(fingerprint),
                ),
                key,
            )
            for key, profile_hash, workers, backend, target, fingerprint in rows
        ],
    )
    # A key's series in time order: baselines, trends and change points read it.
    conn.execute("CREATE INDEX runs_by_history_key ON runs (history_key, started_at)")


#: MIGRATIONS[n] takes a file from schema version n to n + 1 (version 0 is an empty file).
#: Append only: a user's history.db may be at any earlier version.
def _v3_baselines(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE baselines (
            name TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            note TEXT NOT NULL
        )"""
    )
    # Pinning keeps its runs: deleting a pinned run is refused by the foreign key.
    conn.execute(
        """CREATE TABLE baseline_runs (
            name TEXT NOT NULL REFERENCES baselines (name) ON DELETE CASCADE,
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (name, run_id)
        )"""
    )


def _v4_key_versions(conn: sqlite3.Connection) -> None:
    """Per-key versions kept by triggers, and the summaries cached at a version.

    Triggers rather than code in record() and delete(): every writer of the file, old
    code paths and other processes included, bumps the version in the same transaction
    as the change, so a cached summary can never outlive the runs it was computed from.
    """
    statements = (
        """CREATE TABLE key_versions (
            history_key TEXT PRIMARY KEY,
            version INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "INSERT INTO key_versions (history_key, version) "
        "SELECT history_key, count(*) FROM runs GROUP BY history_key",
        """CREATE TRIGGER key_version_on_insert AFTER INSERT ON runs BEGIN
            INSERT INTO key_versions (history_key, version) VALUES (NEW.history_key, 1)
            ON CONFLICT (history_key) DO UPDATE SET version = version + 1;
        END""",
        """CREATE TRIGGER key_version_on_delete AFTER DELETE ON runs BEGIN
            UPDATE key_versions SET version = version + 1 WHERE history_key = OLD.history_key;
        END""",
        """CREATE TRIGGER key_version_on_update AFTER UPDATE ON runs BEGIN
            UPDATE key_versions SET version = version + 1 WHERE history_key = OLD.history_key;
            INSERT INTO key_versions (history_key, version) VALUES (NEW.history_key, 1)
            ON CONFLICT (history_key) DO UPDATE SET version = version + 1;
        END""",
        # JSON documents derived from a key's runs (pytest_fioloadgen.verdicts.summaries), by name.
        """CREATE TABLE key_summaries (
            history_key TEXT NOT NULL,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (history_key, name)
        ) WITHOUT ROWID""",
    )
    for statement in statements:
        conn.execute(statement)


def _v5_keys_with_test(conn: sqlite3.Connection) -> None:
    """History keys gain the test part (pytest_fioloadgen.identity): recompute them from
    each run's stored test id, so gating carries on with the history it had. Server jobs
    stored as ``job:<id>`` become ``job``: they share one history per profile and size."""
    rows = conn.execute(
        "SELECT id, test_id, profile_hash, workers, backend, target, fingerprint FROM runs"
    ).fetchall()
    conn.executemany(
        "UPDATE runs SET history_key = ?, test_id = ? WHERE id = ?",
        [
            (
                history_key(
                    test=case_test_part(test_id),
                    profile_hash=profile_hash,
                    workers=workers,
                    backend=backend,
                    target=target,
                    fingerprint=json.loads(fingerprint),
                ),
                JOB_TEST if case_test_part(test_id) == JOB_TEST else test_id,
                key,
            )
            for key, test_id, profile_hash, workers, backend, target, fingerprint in rows
        ],
    )
    # Summaries were computed per key: the keys are new.
    conn.execute("DELETE FROM key_summaries")


def _v6_spectra(conn: sqlite3.Connection) -> None:
    """Runs gain their percentile spectrum (fio/spectrum.py): read from each stored raw
    document once, here, so no view or gate ever decompresses one for it."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "spectrum" not in present:
        conn.execute("ALTER TABLE runs ADD COLUMN spectrum TEXT NOT NULL DEFAULT '{}'")
    _spectra_from_raw(conn)


def _v7_spectrum_p97_p98(conn: sqlite3.Connection) -> None:
    """The ladder gained p97 and p98: stored spectra without them are read again."""
    _spectra_from_raw(conn)


def _spectra_from_raw(conn: sqlite3.Connection) -> None:
    """Runs whose stored spectrum is missing or lacks a rung of today's ladder get it from
    their raw document (read and decompressed only for those runs)."""
    stale = [
        key
        for key, stored in conn.execute("SELECT id, spectrum FROM runs").fetchall()
        if not ladder_complete(json.loads(stored))
    ]
    updates = []
    for key in stale:
        found = conn.execute("SELECT fio_json_z FROM raw_results WHERE run = ?", (key,)).fetchone()
        if found is None:
            continue  # a run stored without its document
        packed = found[0]
        try:
            spectrum = spectrum_of_raw(json.loads(zlib.decompress(packed)))
        except (ValueError, zlib.error):
            continue  # an unreadable document stays without (views say so already)
        if spectrum:
            updates.append((json.dumps(spectrum), key))
    conn.executemany("UPDATE runs SET spectrum = ? WHERE id = ?", updates)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_initial,
    _v2_history_key,
    _v3_baselines,
    _v4_key_versions,
    _v5_keys_with_test,
    _v6_spectra,
    _v7_spectrum_p97_p98,
]


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Columns of RunRecord fields the file does not have yet (a field added since it was
    written): added with their default, so a new run field needs no migration of its own."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for spec in COLUMNS:
        if spec.name not in present:
            # Names and defaults are our own schema's, never user input.
            conn.execute(
                f"ALTER TABLE runs ADD COLUMN {spec.name} {spec.sqlite_type}"
                f" DEFAULT {spec.sqlite_default}"
            )


#: The runs table's columns, in the order of RunRecord's fields (store.schema).
_RUN_COLUMNS = ("id", *(spec.name for spec in COLUMNS))
_SELECT_RUNS = f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs"
_INSERT_RUN = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' * (len(_RUN_COLUMNS) - 1))})"
)
#: RunQuery filters that are one column's value. These names are the only ones _filters
#: places into SQL text; values are always bound.
_EQUAL_COLUMNS = (
    "profile_name",
    "profile_hash",
    "workers",
    "backend",
    "target",
    "session_id",
    "history_key",
    "status",
    "verdict",
)
#: Filter columns whose value picks out few runs: their index beats any other's.
_SELECTIVE_COLUMNS = frozenset({"session_id", "history_key"})
_NEWEST_FIRST = "ORDER BY started_at DESC, run_id DESC"
#: Run ids bound in one statement by get_many (sqlite allows 32,766 variables, old
#: builds 999).
_IDS_PER_STATEMENT = 500


class SQLiteStore:
    """History in one sqlite file (WAL mode), usable from several threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().absolute()
        self.uri = f"sqlite://{self.path.as_posix()}"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = self._connect()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- opening ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            # is_dir() raises for a name the system refuses (a component over 255 bytes).
            if self.path.is_dir():
                raise StoreError(f"history store {self.path} is a directory, not a file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"history store {self.path}: cannot create directory {self.path.parent} ("
                f"{err.strerror or err})"
            ) from err
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), the
            # module's implicit ones would begin as readers and could not wait for the lock.
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(f"history store {self.path} cannot be opened ({err})") from err
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        # Only reads until the file is known to be ours: a foreign or corrupt file must be
        # left exactly as it was.
        try:
            version = self._identify(conn)
        except sqlite3.OperationalError as err:  # permissions, locks: not the content
            raise StoreError(f"history store {self.path} cannot be opened ({err})") from err
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"history store {self.path} is not an sqlite database ({err})"
            ) from err
        self._check_version(version)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            _enable_wal(conn)
        except sqlite3.Error as err:
            raise StoreError(f"history store {self.path} cannot be opened ({err})") from err
        if version < len(MIGRATIONS) or self._columns_missing(conn):
            self._migrate(conn)

    def _columns_missing(self, conn: sqlite3.Connection) -> bool:
        try:
            present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.Error as err:
            raise StoreError(f"history store {self.path} cannot be opened ({err})") from err
        return any(spec.name not in present for spec in COLUMNS)

    def _identify(self, conn: sqlite3.Connection) -> int:
        # One snapshot: another process may be creating the schema while we look.
        with _read_transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0:
            # An empty file is our version 0; anything with tables in it is someone else's.
            if tables:
                raise self._foreign()
        elif application_id != APPLICATION_ID:
            raise self._foreign()
        return int(version)

    def _check_version(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise StoreError(
                f"history store {self.path} has schema version {version}, this "
                f"pytest-fioloadgen knows up to {len(MIGRATIONS)}; upgrade pytest-fioloadgen"
            )

    def _foreign(self) -> StoreError:
        return StoreError(
            f"history store {self.path} is an sqlite database of another application "
            "(not a pytest-fioloadgen history); choose another --fio-store"
        )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            with _write_transaction(conn):
                # Re-read under the write lock: another process may have migrated meanwhile.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if (
                    version == 0
                    and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                ):
                    raise self._foreign()
                self._check_version(version)
                for step in MIGRATIONS[version:]:
                    step(conn)
                _add_missing_columns(conn)
                # PRAGMA takes no bound parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        except sqlite3.Error as err:
            raise StoreError(
                f"history store {self.path}: schema migration to version {len(MIGRATIONS)} "
                f"failed and was rolled back ({err})"
            ) from err

    # -- the Store contract ----------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, action: str) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, turning sqlite failures into StoreError."""
        with self._lock:
            if self._conn is None:
                raise StoreError(f"history store {self.path} is closed; cannot {action}")
            try:
                yield self._conn
            except sqlite3.Error as err:
                raise StoreError(f"history store {self.path}: cannot {action} ({err})") from err

    def record(self, run: RunRecord) -> None:
        # Serialise and compress before taking the write lock, which other processes wait on.
        action = f"record run {run.run_id!r}"
        try:
            row = tuple(spec.to_column(getattr(run, spec.name)) for spec in COLUMNS)
            metrics = [(name, float(value)) for name, value in run.metrics.items()]
            raw = None if run.raw is None else _compress(run.raw)
        except (TypeError, ValueError) as err:
            raise StoreError(f"history store {self.path}: cannot {action} ({err})") from err
        with self._connection(action) as conn, _write_transaction(conn):
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run.run_id,)).fetchone():
                raise StoreError(
                    f"history store {self.path}: run {run.run_id!r} is already recorded "
                    "(runs are immutable)"
                )
            key = conn.execute(_INSERT_RUN, row).lastrowid
            conn.executemany(
                "INSERT INTO metrics (run, name, value) VALUES (?, ?, ?)",
                [(key, name, value) for name, value in metrics],
            )
            conn.executemany(
                "INSERT INTO labels (run, key, value) VALUES (?, ?, ?)",
                [(key, k, v) for k, v in run.labels.items()],
            )
            if raw is not None:
                conn.execute("INSERT INTO raw_results (run, fio_json_z) VALUES (?, ?)", (key, raw))

    def get(self, run_id: str) -> RunRecord:
        with self._connection(f"read run {run_id!r}") as conn, _read_transaction(conn):
            rows = self._load(conn, "WHERE run_id = ?", [run_id], with_raw=True)
        if not rows:
            raise StoreError(f"history store {self.path} has no run {run_id!r}")
        return rows[0]

    def query(self, query: RunQuery | None = None, /, **filters: Any) -> list[RunRecord]:
        wanted = RunQuery.of(query, filters)
        where, params = _selection(wanted)
        with self._connection("query runs") as conn, _read_transaction(conn):
            return self._load(conn, where, params, with_raw=wanted.with_raw)

    def run_ids(self, query: RunQuery | None = None, /, **filters: Any) -> list[str]:
        where, params = _selection(RunQuery.of(query, filters))
        with self._connection("list run ids") as conn:
            return [row[0] for row in conn.execute(f"SELECT run_id FROM runs {where}", params)]

    def runs_json(self, run_ids: Sequence[str], *, with_raw: bool = True) -> list[tuple[str, str]]:
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(run_ids))
        # Well under sqlite's limit of bound variables per statement.
        for start in range(0, len(wanted), _IDS_PER_STATEMENT):
            batch = list(wanted[start : start + _IDS_PER_STATEMENT])
            where = f"WHERE run_id IN ({', '.join('?' * len(batch))})"
            with self._connection("read runs") as conn, _read_transaction(conn):
                runs = self._load(conn, where, batch, with_raw=False)
                raws: dict[str, bytes] = {}
                if with_raw:
                    raws = dict(
                        conn.execute(
                            "SELECT runs.run_id, raw_results.fio_json_z FROM raw_results "
                            f"JOIN runs ON runs.id = raw_results.run {where}",
                            batch,
                        ).fetchall()
                    )
            for run in runs:
                raw = raws.get(run.run_id)
                try:
                    text = None if raw is None else zlib.decompress(raw).decode()
                except (zlib.error, UnicodeDecodeError) as err:
                    raise StoreError(
                        f"history store {self.path}: run {run.run_id!r} is damaged ({err})"
                    ) from err
                found[run.run_id] = run_json_text(run, with_raw=with_raw, raw_text=text)
        return [(run_id, found[run_id]) for run_id in wanted if run_id in found]

    def search(self, query: RunQuery) -> RunPage:
        where, params = _filters(query)
        # One more than the page: whether a next page exists, without a second count.
        page = dataclasses.replace(query, limit=None if query.limit is None else query.limit + 1)
        selection, selected = _selection(page)
        with self._connection("search runs") as conn, _read_transaction(conn):
            total = conn.execute(f"SELECT count(*) FROM runs {where}", params).fetchone()[0]
            runs = self._load(conn, selection, selected, with_raw=False)
        return RunPage.cut(runs, query.limit, int(total))

    def delete(self, run_id: str) -> bool:
        with self._connection(f"delete run {run_id!r}") as conn, _write_transaction(conn):
            pinned = conn.execute(
                "SELECT name FROM baseline_runs WHERE run_id = ? ORDER BY name", (run_id,)
            ).fetchone()
            if pinned:
                raise StoreError(
                    f"history store {self.path}: run {run_id!r} is pinned in baseline "
                    f"{pinned[0]!r}; delete the baseline first"
                )
            # metrics, labels and raw_results follow through ON DELETE CASCADE.
            cursor = conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            return cursor.rowcount > 0

    # -- baselines -------------------------------------------------------------------

    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        wanted = baseline_runs(name, run_ids)
        created = time.time()
        with self._connection(f"pin baseline {name!r}") as conn, _write_transaction(conn):
            known = {
                row[0]
                for row in conn.execute(
                    "SELECT run_id FROM runs WHERE run_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(wanted),),
                )
            }
            missing = [run_id for run_id in wanted if run_id not in known]
            if missing:
                raise StoreError(
                    f"history store {self.path} has no run {missing[0]!r} to pin in "
                    f"baseline {name!r}"
                )
            conn.execute("DELETE FROM baselines WHERE name = ?", (name,))
            conn.execute(
                "INSERT INTO baselines (name, created_at, note) VALUES (?, ?, ?)",
                (name, created, note),
            )
            conn.executemany(
                "INSERT INTO baseline_runs (name, run_id) VALUES (?, ?)",
                [(name, run_id) for run_id in wanted],
            )
        return Baseline(name, tuple(wanted), created, note)

    def get_baseline(self, name: str) -> Baseline:
        for baseline in self._baselines(name):
            return baseline
        raise StoreError(f"history store {self.path} has no baseline {name!r}")

    def baselines(self) -> list[Baseline]:
        return self._baselines(None)

    def _baselines(self, name: str | None) -> list[Baseline]:
        where, params = ("WHERE b.name = ?", [name]) if name is not None else ("", [])
        with self._connection("read baselines") as conn, _read_transaction(conn):
            rows = conn.execute(
                "SELECT b.name, b.created_at, b.note, r.run_id FROM baselines b "
                f"LEFT JOIN baseline_runs r ON r.name = b.name {where} "
                "ORDER BY b.name, r.run_id",
                params,
            ).fetchall()
        found: dict[str, Baseline] = {}
        for row_name, created, note, run_id in rows:
            current = found.get(row_name) or Baseline(row_name, (), created, note)
            runs = (*current.run_ids, run_id) if run_id is not None else current.run_ids
            found[row_name] = Baseline(row_name, runs, created, note)
        return list(found.values())

    def delete_baseline(self, name: str) -> bool:
        with self._connection(f"delete baseline {name!r}") as conn, _write_transaction(conn):
            return conn.execute("DELETE FROM baselines WHERE name = ?", (name,)).rowcount > 0

    # -- the history index (pytest_fioloadgen.store.history_index) -------------------

    def key_versions(self) -> dict[str, int]:
        with self._connection("read key versions") as conn, _read_transaction(conn):
            rows = conn.execute(
                "SELECT history_key, version FROM key_versions v WHERE EXISTS "
                "(SELECT 1 FROM runs r WHERE r.history_key = v.history_key)"
            ).fetchall()
        return {key: int(version) for key, version in rows}

    def history_keys(self, *, profile_name: str | None = None) -> list[KeyInfo]:
        # With one max() aggregate, sqlite takes the bare columns from the row that has
        # the maximum: the newest run's case.
        where, params = ("WHERE r.profile_name = ?", [profile_name]) if profile_name else ("", [])
        statement = (
            "SELECT r.history_key, max(r.started_at), r.run_id, r.profile_name, r.workers, "
            "r.backend, r.target, count(*), total(r.status = 'complete'), v.version "
            f"FROM runs r JOIN key_versions v ON v.history_key = r.history_key {where} "
            "GROUP BY r.history_key ORDER BY 2 DESC, 1 DESC"
        )
        with self._connection("list history keys") as conn, _read_transaction(conn):
            rows = conn.execute(statement, params).fetchall()
        return [
            KeyInfo(
                history_key=row[0],
                newest_started_at=float(row[1]),
                newest_run_id=row[2],
                profile_name=row[3],
                workers=int(row[4]),
                backend=row[5],
                target=row[6],
                runs=int(row[7]),
                complete=int(row[8]),
                version=int(row[9]),
            )
            for row in rows
            if row[0]
        ]

    def metric_series(
        self, history_key: str, metric: str, *, limit: int | None = None
    ) -> SeriesRead:
        if limit is not None and limit < 0:
            raise StoreError(f"history store {self.path}: series limit {limit} is negative")
        selection = f"FROM runs WHERE history_key = ? {_NEWEST_FIRST}"
        params: list[Any] = [history_key]
        if limit is not None:
            selection += " LIMIT ?"
            params.append(limit)
        action = f"read the series of key {history_key!r}"
        labels: dict[int, dict[str, str]] = {}
        with self._connection(action) as conn, _read_transaction(conn):
            # One snapshot: the version says exactly which runs these are.
            version = conn.execute(
                "SELECT version FROM key_versions WHERE history_key = ?", (history_key,)
            ).fetchone()
            rows = conn.execute(
                "SELECT r.id, r.run_id, r.started_at, m.value, r.status, r.verdict, "
                "r.session_id, r.test_id FROM runs r "
                "LEFT JOIN metrics m ON m.run = r.id AND m.name = ? "
                f"WHERE r.id IN (SELECT id {selection}) "
                "ORDER BY r.started_at DESC, r.run_id DESC",
                [metric, *params],
            ).fetchall()
            for run, key, value in conn.execute(
                f"SELECT run, key, value FROM labels WHERE run IN (SELECT id {selection})",
                params,
            ):
                labels.setdefault(run, {})[key] = value
        points = [
            SeriesPoint(
                run_id=run_id,
                started_at=started,
                value=math.nan if value is None else float(value),
                status=status,
                verdict=verdict,
                session_id=session,
                test_id=test_id,
                labels=labels.get(row_id, {}),
            )
            for row_id, run_id, started, value, status, verdict, session, test_id in rows
        ]
        whole = limit is None or len(points) < limit
        return SeriesRead(points, int(version[0]) if version else 0, whole)

    def cached_summary(self, history_key: str, name: str) -> tuple[int, Any | None]:
        action = f"read summary {name!r} of key {history_key!r}"
        with self._connection(action) as conn, _read_transaction(conn):
            row = conn.execute(
                "SELECT v.version, s.version, s.document FROM key_versions v "
                "LEFT JOIN key_summaries s ON s.history_key = v.history_key AND s.name = ? "
                "WHERE v.history_key = ?",
                (name, history_key),
            ).fetchone()
        if row is None:
            return 0, None
        version, cached_version, document = row
        if cached_version != version or document is None:
            return int(version), None
        try:
            return int(version), json.loads(document)
        except ValueError:
            return int(version), None  # a damaged cache entry is recomputed

    def store_summary(self, history_key: str, name: str, version: int, document: Any) -> bool:
        text = json.dumps(document, separators=(",", ":"))
        try:
            with self._connection(f"cache summary {name!r}") as conn, _write_transaction(conn):
                # Only while the key is still at the version the summary was computed at.
                cursor = conn.execute(
                    "INSERT INTO key_summaries (history_key, name, version, document) "
                    "SELECT ?, ?, ?, ? WHERE (SELECT version FROM key_versions "
                    "WHERE history_key = ?) IS ? "
                    "ON CONFLICT (history_key, name) DO UPDATE SET "
                    "version = excluded.version, document = excluded.document",
                    (history_key, name, version, text, history_key, version),
                )
                return cursor.rowcount > 0
        except StoreError:
            # A read-only file, a full disk: the summary was computed, it just is not kept.
            return False

    def generation(self) -> tuple[int, int]:
        """A value that changes whenever the file's content may have changed: sqlite's
        data_version (moves on when another connection, of any process, committed) and
        this connection's own row changes. Equal values: nothing was written in between,
        so whatever was read from the file then is still what it holds (caches use it).
        """
        with self._connection("read the store's generation") as conn:
            (version,) = conn.execute("PRAGMA data_version").fetchone()
            return int(version), int(conn.total_changes)

    def close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            # Keeps the planner's statistics current for long histories; it is only an
            # optimisation, so a busy or read-only file must not make close() fail.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
            self._conn = None

    # -- reading ---------------------------------------------------------------------

    def _load(
        self, conn: sqlite3.Connection, where: str, params: list[Any], *, with_raw: bool
    ) -> list[RunRecord]:
        """Runs selected by ``where`` (filter, order, limit) with their child rows."""
        runs = conn.execute(f"{_SELECT_RUNS} {where}", params).fetchall()
        if not runs:
            return []
        # The child tables are read for the same selection in one statement each, instead
        # of one statement per run or an id list that could outgrow sqlite's variable limit.
        selected = f"SELECT id FROM runs {where}"
        metrics: dict[int, dict[str, float]] = {}
        for key, name, value in conn.execute(
            f"SELECT run, name, value FROM metrics WHERE run IN ({selected})", params
        ):
            metrics.setdefault(key, {})[name] = math.nan if value is None else value
        labels: dict[int, dict[str, str]] = {}
        for key, name, value in conn.execute(
            f"SELECT run, key, value FROM labels WHERE run IN ({selected})", params
        ):
            labels.setdefault(key, {})[name] = value
        raws: dict[int, bytes] = {}
        if with_raw:
            raws = dict(
                conn.execute(
                    f"SELECT run, fio_json_z FROM raw_results WHERE run IN ({selected})", params
                ).fetchall()
            )
        return [
            self._to_record(row, metrics.get(row[0], {}), labels.get(row[0], {}), raws.get(row[0]))
            for row in runs
        ]

    def _to_record(
        self,
        row: tuple[Any, ...],
        metrics: dict[str, float],
        labels: dict[str, str],
        raw: bytes | None,
    ) -> RunRecord:
        fields = {spec.name: value for spec, value in zip(COLUMNS, row[1:], strict=True)}
        try:
            for spec in COLUMNS:
                fields[spec.name] = spec.from_column(fields[spec.name])
            fields["raw"] = None if raw is None else json.loads(zlib.decompress(raw))
        except (ValueError, zlib.error) as err:
            raise StoreError(
                f"history store {self.path}: run {fields['run_id']!r} is damaged ({err})"
            ) from err
        return RunRecord(**fields, metrics=metrics, labels=labels)


def _filters(query: RunQuery) -> tuple[str, list[Any]]:
    """The WHERE of every run query (its filters, not its page), and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    selective = any(getattr(query, column) is not None for column in _SELECTIVE_COLUMNS)
    for column in _EQUAL_COLUMNS:
        value = getattr(query, column)
        if value is not None:
            # Without statistics sqlite took the status index (two values) over the
            # session's: a session's runs were a scan of every run, 21 ms in 12,000.
            # The unary + keeps a column's index out of the plan.
            unindexed = "+" if selective and column not in _SELECTIVE_COLUMNS else ""
            clauses.append(f"{unindexed}{column} = ?")
            params.append(value)
    if query.test is not None:
        # The test's own runs and every parametrized one of it ("test[case-id]").
        clauses.append("(test_id = ? OR substr(test_id, 1, ?) = ?)")
        params += [query.test, len(query.test) + 1, query.test + "["]
    for key, value in (query.labels or {}).items():
        clauses.append("id IN (SELECT run FROM labels WHERE key = ? AND value = ?)")
        params += [key, value]
    if query.since is not None:
        clauses.append("started_at >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("started_at <= ?")
        params.append(query.until)
    if query.text:
        pattern = _like_pattern(query.text)
        clauses.append(
            "(profile_name LIKE ? ESCAPE '\\' OR test_id LIKE ? ESCAPE '\\' OR id IN"
            " (SELECT run FROM labels WHERE key = 'job_title' AND value LIKE ? ESCAPE '\\'))"
        )
        params += [pattern, pattern, pattern]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _selection(query: RunQuery) -> tuple[str, list[Any]]:
    """The WHERE, ORDER and LIMIT of the runs ``query`` selects (its page included)."""
    where, params = _filters(query)
    if query.after is not None:
        # A keyset page: the sort key's index walks straight to it (OFFSET would count
        # every run before it, each time).
        where += " AND " if where else "WHERE "
        where += "(started_at, run_id) < (?, ?)"
        params += [query.after.started_at, query.after.run_id]
    where += f" {_NEWEST_FIRST}"
    if query.limit is not None or query.offset:
        where += " LIMIT ? OFFSET ?"
        params += [-1 if query.limit is None else query.limit, query.offset]
    return where, params


def _like_pattern(text: str) -> str:
    """``%text%`` for LIKE ... ESCAPE '\\': the user's % and _ match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _compress(raw: Mapping[str, Any]) -> bytes:
    return zlib.compress(json.dumps(raw, separators=(",", ":")).encode())


def _enable_wal(conn: sqlite3.Connection) -> None:
    """WAL: readers never block the writer and concurrent writers queue on the lock.

    The mode is stored in the file, so only the first open really switches; but switching
    needs the file to itself and sqlite then reports "locked" at once instead of waiting
    for busy_timeout, so processes that create a new history together retry here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            busy = err.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextlib.contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, waiting up to busy_timeout for other
    # writers; a deferred transaction that upgrades later could fail with SQLITE_BUSY
    # at once instead of waiting.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        # sqlite may already have rolled back by itself (e.g. on a full disk).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # One snapshot for the runs and their child rows, even while other processes write.
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")
