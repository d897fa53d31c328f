"""FIOLoadGen 1.x's database (``fioservice.db``) as a source of runs.

Its schema (pcuzner/fioloadgen ``fiotools/server/db.py``)::

    profiles(name text PRIMARY KEY, spec text, created integer, updated integer)
    jobs(id text PRIMARY KEY, title text NOT NULL, profile text NOT NULL, profile_spec text,
         storageclass text, workers integer NOT NULL, status text NOT NULL, started integer,
         ended integer, raw_json text, summary text, type text, raw_output text,
         provider text, platform text)

Databases made before its migrations lack ``profile_spec`` and ``storageclass``; migrated
ones have them appended at the end (ALTER TABLE ADD COLUMN), so columns are read by name.

What a job row means: FIOLoadGen ran ``fio --client=<hosts> <job> --output-format=json``
(no histogram bins) and kept everything of its output from the first ``{`` in
``raw_json``; ``status`` ends ``complete``, ``failed`` (fio or the copy failed) or
``incomplete`` (the output was not JSON); queued/prepare/started rows never finished.
``workers`` is what was asked for (9999: all of them); ``summary`` holds each client's p95
averaged, which is never imported. Rows are read through one cursor, one at a time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..exceptions import SourceError
from ..profiles.model import excerpt, shown
from .ids import content_digest
from .sources import Refused, Skipped, SourceDocument, SourceItem, SourceRun

#: The origin imported runs of this source carry (label imported-from).
FIOLOADGEN = "fioloadgen"
#: Columns every FIOLoadGen 1.x jobs table has.
REQUIRED_COLUMNS = ("id", "title", "profile", "workers", "status", "started", "ended", "raw_json")
#: Columns read when present (the first two came with its migrations).
OPTIONAL_COLUMNS = ("profile_spec", "storageclass", "provider", "platform")
COMPLETE = "complete"
_SKIP_REASONS = {
    "failed": "status failed: FIOLoadGen's fio run (or the copy of its job file) failed",
    "incomplete": "status incomplete: FIOLoadGen could not read fio's output as JSON",
}
_UNFINISHED = ("queued", "prepare", "started")
#: FIOLoadGen's platforms as this harness's backends (anything else: unknown).
BACKEND_OF_PLATFORM = {"openshift": "kubernetes", "kubernetes": "kubernetes", "ssh": "static"}
#: The worker count fiocli sends when --workers is not given: "all of them".
ALL_WORKERS = 9999


class FioLoadgenDatabase:
    """The job rows of a FIOLoadGen database, one at a time (opened read-only)."""

    unit = "jobs"

    def __init__(self, path: Path, *, default_target: str = "default") -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.default_target = default_target
        if not self.path.is_file():
            raise SourceError(f"FIOLoadGen database {self.path}: no such file")
        try:
            # Read-only: importing never changes the source.
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            self._conn.row_factory = sqlite3.Row
            tables = {
                row[0]
                for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.Error as err:
            raise SourceError(f"FIOLoadGen database {self.path}: cannot read it ({err})") from err
        if "jobs" not in tables:
            self.close()
            raise SourceError(
                f"FIOLoadGen database {self.path} has no jobs table: not a FIOLoadGen database"
            )
        self.columns = self._column_names("jobs")
        missing = [name for name in REQUIRED_COLUMNS if name not in self.columns]
        if missing:
            self.close()
            raise SourceError(
                f"FIOLoadGen database {self.path}: table jobs has no column {missing[0]!r}:"
                " not a FIOLoadGen 1.x database"
            )
        self.has_profiles = "profiles" in tables and {"name", "spec"} <= set(
            self._column_names("profiles")
        )

    def _column_names(self, table: str) -> list[str]:
        # The table name is one of our own literals, never user input.
        return [str(row[1]) for row in self._conn.execute(f"PRAGMA table_info({table})")]

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

    def items(self) -> Iterator[SourceItem]:
        wanted = [*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in self.columns)]
        # Column names are our own literals checked against the table; rows come one at a
        # time through the cursor, in the order FIOLoadGen wrote them.
        selected = ", ".join(f'"{name}"' for name in wanted)
        try:
            cursor = self._conn.execute(f"SELECT {selected} FROM jobs ORDER BY rowid")
            for position, row in enumerate(cursor, start=1):
                yield self._item(position, dict(row))
        except sqlite3.Error as err:
            raise SourceError(f"FIOLoadGen database {self.path}: cannot read jobs ({err})") from err

    def profiles(self) -> Iterator[tuple[str, str, str | None]]:
        """(where, name, job file text) of each row of its profiles table."""
        if not self.has_profiles:
            return
        cursor = self._conn.execute('SELECT "name", "spec" FROM profiles ORDER BY rowid')
        for position, row in enumerate(cursor, start=1):
            name = "" if row["name"] is None else str(row["name"])
            spec = row["spec"]
            yield (
                f"{self.name} profiles row {position} ({shown(name, 40)})",
                name,
                spec if isinstance(spec, str) else None,
            )

    def close(self) -> None:
        self._conn.close()

    # -- one row ---------------------------------------------------------------------
    def _item(self, position: int, row: Mapping[str, Any]) -> SourceItem:
        job_id = "" if row["id"] is None else str(row["id"])
        where = f"{self.name} jobs row {position} (job {shown(job_id, 40)})"
        status = "" if row["status"] is None else str(row["status"])
        if status != COMPLETE:
            if status in _SKIP_REASONS:
                return Skipped(where, _SKIP_REASONS[status])
            if status in _UNFINISHED:
                return Skipped(where, f"status {status}: the job never finished")
            return Skipped(where, f"status {excerpt(status, 20)}: not a completed job")
        raw = row["raw_json"]
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return Refused(where, f"raw_json is not UTF-8 text (byte {err.start})")
        if not isinstance(raw, str) or not raw.strip():
            return Refused(where, "status complete but raw_json is empty")
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as err:
            return Refused(
                where,
                f"raw_json is not complete JSON ({err}, of {len(raw)} characters):"
                " truncated or damaged",
            )
        except RecursionError:
            return Refused(where, "raw_json nests JSON too deeply to read")
        if not isinstance(document, dict) or not ("client_stats" in document or "jobs" in document):
            return Refused(where, "raw_json is not fio output (no client_stats or jobs)")
        return self._run(position, where, job_id, row, raw, document)

    def _run(
        self,
        position: int,
        where: str,
        job_id: str,
        row: Mapping[str, Any],
        raw: str,
        document: Mapping[str, Any],
    ) -> SourceRun:
        notes = [
            f"imported from FIOLoadGen database {self.name}, job {job_id} (jobs row {position})"
        ]
        profile_name = _text(row["profile"]) or "unknown"
        profile_text = _text(row.get("profile_spec"))
        if profile_text is None:
            profile_text = self._profile_spec(profile_name)
            if profile_text is not None:
                notes.append(
                    f"the job row has no profile_spec (a database from before FIOLoadGen's"
                    f" migrations): its profile text is the profiles table's {profile_name!r}"
                    " as it is now, which may differ from what ran"
                )
        target = _text(row.get("storageclass"))
        if target is None:
            target = self.default_target
            notes.append(
                f"the job row has no storageclass: filed under target {target!r} (--target)"
            )
        platform = _text(row.get("platform"))
        labels = {
            key: value
            for key, value in (
                ("provider", _text(row.get("provider"))),
                ("platform", platform),
                ("job_title", _text(row["title"])),
            )
            if value is not None
        }
        notes.append(
            "FIOLoadGen's own summary (each client's p95 averaged) is not imported: the"
            " figures are merged again from fio's per-client output"
        )
        declared = _count(row["workers"])
        return SourceRun(
            where=where,
            origin=FIOLOADGEN,
            digest=content_digest("fioloadgen-db", [job_id, raw]),
            documents=(SourceDocument("", document),),
            profile_name=profile_name,
            profile_text=profile_text,
            target=target,
            backend=BACKEND_OF_PLATFORM.get(platform or "", "unknown"),
            title=labels.get("job_title"),
            started_at=_time(row["started"]),
            finished_at=_time(row["ended"]),
            labels=labels,
            source_facts={"database": self.name, "row": position, "job_id": job_id},
            notes=tuple(notes),
            # 9999 is fiocli's "all of them": a count only fio's output knows.
            declared_workers=None if declared == ALL_WORKERS else declared,
        )

    def _profile_spec(self, name: str) -> str | None:
        if not self.has_profiles:
            return None
        found = self._conn.execute('SELECT "spec" FROM profiles WHERE "name" = ?', (name,))
        row = found.fetchone()
        return _text(row[0]) if row is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _time(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _count(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
