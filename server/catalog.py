"""Every run with its queue state: the one list the API, the UI and ``fioloadgen job ls``
show.

A run is a run wherever it came from (the plugin recording into the store, the http
store, a server job): the history store holds them all and is the source of truth. The
job queue only adds what has no run yet: jobs queued or running, cancelled or
interrupted ones, and jobs that failed before fio ran. So a listing is those pending
jobs (newest first) followed by the store's runs (newest first), one entry each, in one
shape; ``job ls``, the UI and ``db export`` agree on the runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.identity import JOB_TEST
from pytest_fioloadgen.report.response_curve import sweep_document
from pytest_fioloadgen.report.run_document import derived, run_flags
from pytest_fioloadgen.store.base import RUN_STATUSES, RunRecord, Store
from pytest_fioloadgen.store.query import Cursor, RunQuery
from pytest_fioloadgen.store.wire import run_to_json

from .jobsdb import CANCELLED, FAILED, INTERRUPTED, QUEUED, RUNNING, Job, JobDB

#: Job states without a run in the store (a failed job has one when fio ran).
UNRUN_STATES = (QUEUED, RUNNING, CANCELLED, INTERRUPTED)
#: What a listing shows of a run's metrics (the run page shows them all).
SUMMARY = (
    "iops",
    "bw_mib_s",
    "read_lat_p99_ms",
    "write_lat_p99_ms",
    "read_lat_mean_ms",
    "write_lat_mean_ms",
)


def title_of(run: RunRecord) -> str:
    """A job's title; for other runs their test and case."""
    title = run.labels.get("job_title")
    if title:
        return title
    test = run.test_id.split("::", 1)[-1] if run.test_id else ""
    return test or f"{run.profile_name} w{run.workers} {run.target}"


def run_entry(run: RunRecord) -> dict[str, Any]:
    """A run in the listing's one shape (the same fields as a job's)."""
    return {
        "id": run.run_id,
        "title": title_of(run),
        "profile": run.profile_name,
        "workers": run.workers,
        "target": run.target,
        "status": run.status,
        "created": run.started_at,
        "started": run.started_at,
        "ended": run.finished_at,
        "expected_runtime": None,
        "error": run.error,
        "labels": dict(run.labels),
        "summary": {name: run.metrics[name] for name in SUMMARY if name in run.metrics},
        # "queue": a server job's run, "recorded": recorded by a plugin session,
        # "imported": brought in by db import --from (its label says from where).
        "source": "imported"
        if run.labels.get("imported-from")
        else "queue"
        if run.test_id == JOB_TEST
        else "recorded",
        "history_key": run.history_key,
        "verdict": run.verdict,
        "test_id": run.test_id,
        "session_id": run.session_id,
    }


def job_entry(job: Job) -> dict[str, Any]:
    """A job without a run, in the same shape."""
    return {**job.to_json(), "verdict": None, "test_id": JOB_TEST, "session_id": None}


def _job_after(job: Job, cursor: Cursor) -> bool:
    """Whether a pending job comes after the cursor (newest first, as unrun() sorts)."""
    return (job.created, job.id) < (cursor.started_at, cursor.run_id)


def _job_matches(job: Job, query: RunQuery, state: str | None) -> bool:
    if state is not None and job.status != state:
        return False
    if query.verdict is not None or query.session_id is not None:
        return False  # no run yet: no verdict, no session
    if query.test is not None and query.test != JOB_TEST:
        return False
    if query.profile_name is not None and job.profile != query.profile_name:
        return False
    if query.target is not None and job.target != query.target:
        return False
    if query.history_key is not None and job.history_key != query.history_key:
        return False
    if any(job.labels.get(key) != value for key, value in (query.labels or {}).items()):
        return False
    if query.since is not None and job.created < query.since:
        return False
    if query.until is not None and job.created > query.until:
        return False
    return not query.text or query.text.lower() in f"{job.title} {job.profile}".lower()


@dataclass(frozen=True)
class CatalogPage:
    entries: list[dict[str, Any]]
    total: int
    #: Where the next page starts; None: this is the last.
    next: Cursor | None


@dataclass
class Catalog:
    jobs: JobDB
    store: Store

    def unrun(self) -> list[Job]:
        """Jobs without a run in the store, newest first."""
        found = [job for state in UNRUN_STATES for job in self.jobs.with_status(state)]
        found += [job for job in self.jobs.with_status(FAILED) if not job.history_key]
        found.sort(key=lambda job: (job.created, job.id), reverse=True)
        return found

    def page(self, query: RunQuery, *, state: str | None = None) -> CatalogPage:
        """One page of entries (pending jobs first, then runs, newest first each), how
        many match in all and where the next page starts.

        A cursor that ends among the pending jobs goes on after that job (and into the
        runs when they are done), any other after that run: a keyset page of the store.
        ``offset`` skips that many more entries.
        """
        pending = [job for job in self.unrun() if _job_matches(job, query, state)]
        after = query.after
        if after is None or after.pending:
            rest = pending if after is None else [job for job in pending if _job_after(job, after)]
            taken = rest[query.offset :][: query.limit]
            run_query = replace(query, after=None, offset=max(0, query.offset - len(rest)))
        else:
            rest, taken, run_query = [], [], query
        entries = [job_entry(job) for job in taken]
        total = len(pending)
        more_pending = len(rest) > query.offset + len(taken)
        more_runs = False
        cursor = None
        if state is None or state in RUN_STATUSES:
            room = None if query.limit is None else query.limit - len(taken)
            found = self.store.search(replace(run_query, status=state or query.status, limit=room))
            total += found.total
            entries += [run_entry(run) for run in found.runs]
            more_runs = found.total > 0
            cursor = found.next
        if taken and (more_pending or (more_runs and len(entries) == len(taken))):
            last = taken[-1]
            cursor = Cursor(last.created, last.id, pending=True)
        return CatalogPage(entries, total, cursor)

    def detail(self, entry_id: str) -> dict[str, Any] | None:
        """An entry with its profile text and, for a run, the run document (the record
        and what is derived from its fio output, as the static site's run page has it)."""
        job = self.jobs.find(entry_id)
        if job is not None and (job.status in UNRUN_STATES or not job.history_key):
            return {**job_entry(job), "profile_text": job.profile_text, "run": None}
        try:
            run = self.store.get(entry_id)
        except StoreError:
            return None
        # Only a swept run reads its session: the siblings its response curve is drawn from.
        session_runs = self.store.query(session_id=run.session_id) if run.sweep else []
        document = run_document(run, session_runs)
        return {**run_entry(run), "profile_text": run.profile_text, "run": document}


def run_document(run: RunRecord, session_runs: Sequence[RunRecord] = ()) -> dict[str, Any]:
    """The record, what is derived from its fio output, its flags and its sweep, as the
    static site's run documents have them (report.run_document)."""
    record: Mapping[str, Any] = run_to_json(run, with_raw=False)
    return {
        "run": dict(record),
        "derived": derived(run.raw, run.evidence),
        "flags": run_flags(run),
        "sweep": sweep_document(run, session_runs),
    }
