"""The server's own database: the persistent job queue and the profiles added over the API.

It is an sqlite file in the state directory, apart from the history store, because the
history may be remote or another format and a queue needs transactions of its own: a job
is claimed (queued -> running) in one statement, so a restart can never run it twice,
and on start every job left "running" by a dead server is marked "interrupted".
Every statement binds its values; the only names ever placed into SQL text come from the
fixed sets below, never from a request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_fioloadgen.exceptions import FioLoadgenError

QUEUED = "queued"
RUNNING = "running"
COMPLETE = "complete"
FAILED = "failed"
CANCELLED = "cancelled"
INTERRUPTED = "interrupted"
STATES = (QUEUED, RUNNING, COMPLETE, FAILED, CANCELLED, INTERRUPTED)
FINAL_STATES = frozenset({COMPLETE, FAILED, CANCELLED, INTERRUPTED})

#: Sort keys a client may ask for, mapped to the SQL that sorts by them.
SORT_KEYS = {
    "created": "created",
    "started": "started",
    "ended": "ended",
    "title": "title",
    "status": "status",
    "profile": "profile",
    "workers": "workers",
    "target": "target",
}
MAX_PAGE = 500

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        profile TEXT NOT NULL,
        profile_text TEXT NOT NULL,
        workers INTEGER NOT NULL,
        target TEXT NOT NULL,
        status TEXT NOT NULL,
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        expected_runtime REAL NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        summary TEXT,
        source TEXT NOT NULL DEFAULT 'queue',
        history_key TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq)",
    # The default listing of one state (newest first) walks this index instead of sorting.
    "CREATE INDEX IF NOT EXISTS jobs_by_status_created ON jobs (status, created, seq)",
    "CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created, seq)",
    "CREATE INDEX IF NOT EXISTS jobs_by_profile ON jobs (profile, created)",
    "CREATE INDEX IF NOT EXISTS jobs_by_target ON jobs (target, created)",
    """CREATE TABLE IF NOT EXISTS profiles (
        name TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL
    )""",
)

_COLUMNS = (
    "id",
    "title",
    "profile",
    "profile_text",
    "workers",
    "target",
    "status",
    "created",
    "started",
    "ended",
    "expected_runtime",
    "error",
    "labels",
    "summary",
    "source",
    "history_key",
)


class JobError(FioLoadgenError):
    """A job request that cannot be honoured; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Job:
    id: str
    title: str
    profile: str
    profile_text: str
    workers: int
    target: str
    status: str
    created: float
    started: float | None = None
    ended: float | None = None
    expected_runtime: float = 0.0
    error: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: Mapping[str, float] | None = None
    source: str = "queue"
    history_key: str = ""

    def to_json(self, *, with_text: bool = False) -> dict[str, Any]:
        document = {
            "id": self.id,
            "title": self.title,
            "profile": self.profile,
            "workers": self.workers,
            "target": self.target,
            "status": self.status,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
            "expected_runtime": self.expected_runtime,
            "error": self.error,
            "labels": dict(self.labels),
            "summary": None if self.summary is None else dict(self.summary),
            "source": self.source,
            "history_key": self.history_key,
        }
        if with_text:
            document["profile_text"] = self.profile_text
        return document


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    profile: str | None = None
    target: str | None = None
    title: str | None = None
    sort: str = "created"
    descending: bool = True
    limit: int = 50
    offset: int = 0


def _row_to_job(row: tuple[Any, ...]) -> Job:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["labels"] = json.loads(values["labels"])
    values["summary"] = None if values["summary"] is None else json.loads(values["summary"])
    return Job(**values)


class JobDB:
    """Jobs and server profiles in one sqlite file (WAL), shared by the app's threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        #: Bumped by every write; the page totals below are valid for one version. Only this
        #: server process writes its database, so the counter sees every change.
        self._version = 0
        self._totals: dict[tuple[Any, ...], tuple[int, int]] = {}
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA busy_timeout = 30000")
        with self._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._version += 1

    @property
    def version(self) -> int:
        """Bumped by every write of this database (only this server writes it)."""
        return self._version

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- jobs --------------------------------------------------------------------------
    def add(self, job: Job) -> Job:
        self.add_many([job])
        return job

    def add_many(self, jobs: list[Job]) -> None:
        """Add jobs in one transaction (an import, a benchmark); any known id refuses all."""
        rows = []
        for job in jobs:
            row = job.to_json(with_text=True)
            row["labels"] = json.dumps(dict(job.labels))
            row["summary"] = None if job.summary is None else json.dumps(dict(job.summary))
            rows.append([row[column] for column in _COLUMNS])
        with self._transaction() as conn:
            for job in jobs:
                if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job.id,)).fetchone():
                    raise JobError(f"job {job.id!r} already exists", 409)
            conn.executemany(
                f"INSERT INTO jobs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                rows,
            )

    def get(self, job_id: str) -> Job:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise JobError(f"no job {job_id!r}", 404)
        return _row_to_job(row)

    def with_status(self, status: str) -> list[Job]:
        """Every job in one state (the queue's few open ones), in no particular order."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status = ?", (status,)
            ).fetchall()
        return [_row_to_job(row) for row in rows]

    def find(self, job_id: str) -> Job | None:
        try:
            return self.get(job_id)
        except JobError:
            return None

    def list(self, query: JobFilter) -> tuple[list[Job], int]:
        """One page of jobs and the number of jobs matching the filter."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", query.status),
            ("profile", query.profile),
            ("target", query.target),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if query.title:
            escaped = query.title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("title LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        column = SORT_KEYS[query.sort]
        direction = "DESC" if query.descending else "ASC"
        order = f"ORDER BY {column} {direction}, seq {direction}"
        with self._read() as conn:
            # Counting 100k rows costs more than the page itself: reuse the count until a
            # write changes the table.
            key = (where, *params)
            cached = self._totals.get(key)
            if cached is not None and cached[0] == self._version:
                total = cached[1]
            else:
                total = conn.execute(f"SELECT count(*) FROM jobs {where}", params).fetchone()[0]
                if len(self._totals) > 256:
                    self._totals.clear()
                self._totals[key] = (self._version, int(total))
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs {where} {order} LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return [_row_to_job(row) for row in rows], int(total)

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT status, count(*) FROM jobs WHERE status IN (?, ?) GROUP BY status",
                (QUEUED, RUNNING),
            ).fetchall()
        return {status: int(count) for status, count in rows}

    def running(self) -> Job | None:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE status = ? ORDER BY seq LIMIT 1",
                (RUNNING,),
            ).fetchone()
        return None if row is None else _row_to_job(row)

    def claim_next(self) -> Job | None:
        """The oldest queued job, atomically moved to running."""
        with self._transaction() as conn:
            row = conn.execute(
                "UPDATE jobs SET status = ?, started = ? WHERE seq = "
                "(SELECT seq FROM jobs WHERE status = ? ORDER BY seq LIMIT 1) "
                f"RETURNING {', '.join(_COLUMNS)}",
                (RUNNING, time.time(), QUEUED),
            ).fetchone()
        return None if row is None else _row_to_job(row)

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        error: str = "",
        summary: Mapping[str, float] | None = None,
        history_key: str = "",
    ) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE jobs SET status = ?, ended = ?, error = ?, summary = ?, history_key = ? "
                "WHERE id = ?",
                (
                    status,
                    time.time(),
                    error,
                    None if summary is None else json.dumps(dict(summary)),
                    history_key,
                    job_id,
                ),
            )

    def interrupt_running(self) -> int:
        """On start: jobs a previous server left running can never finish; say so."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, ended = ?, "
                "error = 'the server stopped while the job was running' WHERE status = ?",
                (INTERRUPTED, time.time(), RUNNING),
            )
        return cursor.rowcount

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job; anything else is a conflict."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, ended = ? WHERE id = ? AND status = ?",
                (CANCELLED, time.time(), job_id, QUEUED),
            )
        job = self.get(job_id)
        if cursor.rowcount == 0:
            raise JobError(
                f"job {job_id!r} is {job.status}; only a queued job can be cancelled", 409
            )
        return job

    def delete(self, job_id: str) -> Job:
        """Delete a job that is not running (a queued one is simply dropped)."""
        job = self.get(job_id)
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM jobs WHERE id = ? AND status != ?", (job_id, RUNNING)
            )
        if cursor.rowcount == 0:
            raise JobError(f"job {job_id!r} is running; it cannot be deleted now", 409)
        return job

    # -- server profiles ---------------------------------------------------------------
    def profiles(self) -> dict[str, str]:
        with self._read() as conn:
            return dict(conn.execute("SELECT name, text FROM profiles ORDER BY name").fetchall())

    def put_profile(self, name: str, text: str) -> bool:
        """Create or replace; returns whether it existed."""
        now = time.time()
        with self._transaction() as conn:
            existed = conn.execute("SELECT 1 FROM profiles WHERE name = ?", (name,)).fetchone()
            conn.execute(
                "INSERT INTO profiles (name, text, created, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET text = excluded.text, updated = excluded.updated",
                (name, text, now, now),
            )
        return existed is not None

    def delete_profile(self, name: str) -> bool:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM profiles WHERE name = ?", (name,)).rowcount > 0
