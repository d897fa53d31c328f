"""History in one JSON file through TinyDB (``tinydb:///path.json``).

Meant for a history that travels with the code or the CI cache: a readable, diffable text
file. Each operation takes an exclusive lock on ``<file>.lock`` and the file is replaced
atomically, so several processes can record into it and a crash never leaves half a file.
fio's raw documents are kept zlib-compressed and base64-encoded in their own table, so the
runs table stays small and readable.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from ..exceptions import StoreError
from ..fio.spectrum import ladder_complete, spectrum_of_raw
from ..identity import JOB_TEST, case_test_part, record_key
from .base import Baseline, RunRecord, baseline_runs
from .query import RunPage, RunQuery
from .schema import RUN_FIELDS
from .wire import run_json_text

FORMAT = "pytest-fioloadgen-history"
#: 2: history keys include the test part (see _v2_keys_with_test).
#: 3: runs carry their percentile spectrum; 4: the ladder gained p97 and p98 (both by
#: _spectra_from_raw).
FORMAT_VERSION = 4
_META, _RUNS, _RAW, _BASELINES = "meta", "runs", "raw", "baselines"
# The fields of the record schema that are JSON as they are; raw is packed apart.
_SCALAR_FIELDS = tuple(
    spec.name for spec in RUN_FIELDS if spec.kind not in ("metrics", "strings", "raw")
)
_LISTS = tuple(spec.name for spec in RUN_FIELDS if spec.kind == "strings")


class _AtomicJSONStorage(Storage):
    """TinyDB storage that writes a temporary file and renames it over the original."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def close(self) -> None:
        return None


class TinyDBStore:
    """The Store protocol over a TinyDB JSON file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        self.uri = f"tinydb://{self.path}"
        self._thread_lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"history store {self.path}: cannot create its directory ({err.strerror})"
            ) from err
        with self._locked("open") as db:
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            meta = db.table(_META).all()
            if fresh:
                db.table(_META).insert({"format": FORMAT, "version": FORMAT_VERSION})
            elif not meta or meta[0].get("format") != FORMAT:
                raise self._foreign()
            elif int(meta[0].get("version", 0)) > FORMAT_VERSION:
                raise StoreError(
                    f"history store {self.path} has format version {meta[0]['version']}, this "
                    f"pytest-fioloadgen knows up to {FORMAT_VERSION}; upgrade pytest-fioloadgen"
                )
            else:
                version = int(meta[0].get("version", 0))
                if version < 2:
                    _v2_keys_with_test(db)
                if version < 4:
                    _spectra_from_raw(db)

    def _foreign(self) -> StoreError:
        return StoreError(f"history store {self.path} is a JSON file of something else; left as is")

    @contextlib.contextmanager
    def _locked(self, action: str) -> Iterator[TinyDB]:
        """One operation under the inter-process lock, on a freshly read file."""
        if self._closed:
            raise StoreError(f"history store {self.path} is closed; cannot {action}")
        with self._thread_lock:
            try:
                lock = open(f"{self.path}.lock", "a")  # noqa: SIM115 - held for the block
            except OSError as err:
                raise StoreError(
                    f"history store {self.path}: cannot {action} ({err.strerror})"
                ) from err
            with lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    db = TinyDB(str(self.path), storage=_AtomicJSONStorage)
                    yield db
                except (ValueError, KeyError, TypeError) as err:
                    # json.JSONDecodeError is a ValueError: the file is not ours or damaged.
                    raise StoreError(
                        f"history store {self.path} is not a readable TinyDB history ({err}); "
                        "left as is"
                    ) from err
                except OSError as err:
                    raise StoreError(
                        f"history store {self.path}: cannot {action} ({err.strerror or err})"
                    ) from err
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    # -- runs ----------------------------------------------------------------------
    def record(self, run: RunRecord) -> None:
        document: dict[str, Any] = {name: getattr(run, name) for name in _SCALAR_FIELDS}
        for name in _SCALAR_FIELDS:
            if isinstance(document[name], Mapping):
                document[name] = dict(document[name])
        document.update(
            metrics={name: float(value) for name, value in run.metrics.items()},
            **{name: list(getattr(run, name)) for name in _LISTS},
        )
        try:
            json.dumps(document)
            raw = None if run.raw is None else _pack(run.raw)
        except (TypeError, ValueError) as err:
            raise StoreError(
                f"history store {self.path}: cannot record run {run.run_id!r} ({err})"
            ) from err
        with self._locked(f"record run {run.run_id!r}") as db:
            runs = db.table(_RUNS)
            if runs.contains(Query().run_id == run.run_id):
                raise StoreError(
                    f"history store {self.path}: run {run.run_id!r} is already recorded "
                    "(runs are immutable)"
                )
            runs.insert(document)
            if raw is not None:
                db.table(_RAW).insert({"run_id": run.run_id, "fio_json_z": raw})

    def get(self, run_id: str) -> RunRecord:
        with self._locked(f"read run {run_id!r}") as db:
            found = db.table(_RUNS).get(Query().run_id == run_id)
            if found is None:
                raise StoreError(f"history store {self.path} has no run {run_id!r}")
            raw = db.table(_RAW).get(Query().run_id == run_id)
        return _to_record(dict(found), None if raw is None else dict(raw)["fio_json_z"])

    def query(self, query: RunQuery | None = None, /, **filters: Any) -> list[RunRecord]:
        wanted = RunQuery.of(query, filters)
        with self._locked("query runs") as db:
            # The file is read whole either way; a TinyDB history is a small one.
            runs = wanted.page_of(_to_record(dict(d), None) for d in db.table(_RUNS).all()).runs
            raws: dict[str, str] = {}
            if wanted.with_raw and runs:
                selected = {run.run_id for run in runs}
                raws = {
                    r["run_id"]: r["fio_json_z"]
                    for r in db.table(_RAW).all()
                    if r["run_id"] in selected
                }
        return [
            replace(run, raw=_unpack(raws[run.run_id])) if run.run_id in raws else run
            for run in runs
        ]

    def run_ids(self, query: RunQuery | None = None, /, **filters: Any) -> list[str]:
        wanted = RunQuery.of(query, filters)
        return [run.run_id for run in self.query(wanted, with_raw=False)]

    def runs_json(self, run_ids: Sequence[str], *, with_raw: bool = True) -> list[tuple[str, str]]:
        wanted = set(run_ids)
        with self._locked("read runs") as db:
            documents = {
                d["run_id"]: dict(d) for d in db.table(_RUNS).all() if d["run_id"] in wanted
            }
            raws: dict[str, str] = {}
            if with_raw:
                raws = {
                    r["run_id"]: r["fio_json_z"]
                    for r in db.table(_RAW).all()
                    if r["run_id"] in documents
                }
        return [
            (run_id, run_json_text(_to_record(documents[run_id], raws.get(run_id))))
            if with_raw
            else (run_id, run_json_text(_to_record(documents[run_id], None), with_raw=False))
            for run_id in dict.fromkeys(run_ids)
            if run_id in documents
        ]

    def search(self, query: RunQuery) -> RunPage:
        with self._locked("search runs") as db:
            return query.page_of(_to_record(dict(d), None) for d in db.table(_RUNS).all())

    def delete(self, run_id: str) -> bool:
        with self._locked(f"delete run {run_id!r}") as db:
            for baseline in db.table(_BASELINES).all():
                if run_id in baseline["run_ids"]:
                    raise StoreError(
                        f"history store {self.path}: run {run_id!r} is pinned in baseline "
                        f"{baseline['name']!r}; delete the baseline first"
                    )
            removed = db.table(_RUNS).remove(Query().run_id == run_id)
            db.table(_RAW).remove(Query().run_id == run_id)
        return bool(removed)

    # -- baselines -------------------------------------------------------------------
    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        wanted = baseline_runs(name, run_ids)
        created = time.time()
        with self._locked(f"pin baseline {name!r}") as db:
            known = {d["run_id"] for d in db.table(_RUNS).all()}
            missing = [run_id for run_id in wanted if run_id not in known]
            if missing:
                raise StoreError(
                    f"history store {self.path} has no run {missing[0]!r} to pin in "
                    f"baseline {name!r}"
                )
            table = db.table(_BASELINES)
            table.remove(Query().name == name)
            table.insert({"name": name, "run_ids": wanted, "created_at": created, "note": note})
        return Baseline(name, tuple(wanted), created, note)

    def get_baseline(self, name: str) -> Baseline:
        for baseline in self.baselines():
            if baseline.name == name:
                return baseline
        raise StoreError(f"history store {self.path} has no baseline {name!r}")

    def baselines(self) -> list[Baseline]:
        with self._locked("read baselines") as db:
            documents = [dict(d) for d in db.table(_BASELINES).all()]
        return sorted(
            (
                Baseline(d["name"], tuple(d["run_ids"]), float(d["created_at"]), d["note"])
                for d in documents
            ),
            key=lambda baseline: baseline.name,
        )

    def delete_baseline(self, name: str) -> bool:
        with self._locked(f"delete baseline {name!r}") as db:
            return bool(db.table(_BASELINES).remove(Query().name == name))

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return f"TinyDBStore({str(self.path)!r})"


def _pack(raw: Mapping[str, Any]) -> str:
    compact = json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(compact)).decode("ascii")


def _unpack(packed: str) -> Any:
    return json.loads(zlib.decompress(base64.b64decode(packed)))


def _to_record(document: dict[str, Any], packed: str | None) -> RunRecord:
    raw = None if packed is None else _unpack(packed)
    # A field added since the file was written reads as its default.
    defaults = {spec.name: spec.default for spec in RUN_FIELDS}
    fields: dict[str, Any] = {name: document.get(name, defaults[name]) for name in _SCALAR_FIELDS}
    fields.update({name: tuple(document.get(name, ())) for name in _LISTS})
    return RunRecord(**fields, metrics=dict(document.get("metrics", {})), raw=raw)


def _v2_keys_with_test(db: TinyDB) -> None:
    """History keys gain the test part: recompute them from each run's test id (as the
    sqlite store's v5 migration does), then mark the file version 2."""
    runs = db.table(_RUNS)
    for document in runs.all():
        record = _to_record(dict(document), None)
        test_id = JOB_TEST if case_test_part(record.test_id) == JOB_TEST else record.test_id
        runs.update(
            {"history_key": record_key(replace(record, test_id=test_id)), "test_id": test_id},
            doc_ids=[document.doc_id],
        )
    db.table(_META).update({"version": 2})


def _spectra_from_raw(db: TinyDB) -> None:
    """Runs whose spectrum is missing or lacks a rung of today's ladder get it from their
    raw document, read once (as the sqlite store's v6 and v7 migrations do); then the file
    is marked with this version."""
    runs = db.table(_RUNS)
    packed_by_run = {row["run_id"]: row["fio_json_z"] for row in db.table(_RAW).all()}
    for document in runs.all():
        if ladder_complete(document.get("spectrum") or {}):
            continue
        packed = packed_by_run.get(document.get("run_id"))
        if packed is None:
            continue
        try:
            raw = json.loads(zlib.decompress(base64.b64decode(packed)))
        except (ValueError, zlib.error):
            continue
        spectrum = spectrum_of_raw(raw)
        if spectrum:
            runs.update({"spectrum": spectrum}, doc_ids=[document.doc_id])
    db.table(_META).update({"version": FORMAT_VERSION})
