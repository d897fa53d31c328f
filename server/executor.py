"""The job executor: one thread that runs queued jobs one at a time on one environment.

Jobs run through ``BenchmarkSession`` exactly as the plugin runs cases (overrides, safety
check, per-run worker resolution, history record). The environment is deployed on the
first job and kept for the next ones; an exception in a job fails that job only, and a
failed deploy is retried by the next job rather than remembered forever.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.factory import make_backend, target_names
from pytest_fioloadgen.gating import Thresholds
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession, Case
from pytest_fioloadgen.store.base import Baseline, RunRecord, Store

from .config import ServerConfig
from .jobsdb import COMPLETE, FAILED, Job, JobDB

log = logging.getLogger("fioloadgen_server.executor")

#: How long the idle executor sleeps before looking at the queue again (a submit wakes it).
IDLE_POLL_S = 1.0
KEEP_OUTCOMES = 64


class _JobStore:
    """The history store as one job sees it: its run is recorded under the job's id."""

    def __init__(self, store: Store, job: Job) -> None:
        self.uri = store.uri
        self._store = store
        self._job = job
        self.recorded: RunRecord | None = None

    def record(self, run: RunRecord) -> None:
        labels = {**run.labels, **self._job.labels, "job_title": self._job.title}
        run = dataclasses.replace(run, run_id=self._job.id, labels=labels)
        self._store.record(run)
        self.recorded = run

    def get(self, run_id: str) -> RunRecord:
        return self._store.get(run_id)

    def query(self, **filters: Any) -> list[RunRecord]:
        return self._store.query(**filters)

    def delete(self, run_id: str) -> bool:
        return self._store.delete(run_id)

    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        return self._store.pin_baseline(name, run_ids, note=note)

    def get_baseline(self, name: str) -> Baseline:
        return self._store.get_baseline(name)

    def baselines(self) -> list[Baseline]:
        return self._store.baselines()

    def delete_baseline(self, name: str) -> bool:
        return self._store.delete_baseline(name)

    def close(self) -> None:
        """The server owns the real store; a job never closes it."""


class Executor:
    def __init__(self, config: ServerConfig, jobs: JobDB, store: Store) -> None:
        self.config = config
        self.jobs = jobs
        self.store = store
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: BenchmarkSession | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        interrupted = self.jobs.interrupt_running()
        if interrupted:
            log.warning("%d job(s) were running when the server stopped: interrupted", interrupted)
        self._thread = threading.Thread(target=self._loop, name="fioloadgen-executor", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._close_session()

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- what status shows -----------------------------------------------------------
    def workers(self) -> dict[str, int]:
        """Workers per target: deployed ones, else what a deploy would bring up."""
        with self._lock:
            session = self._session
            env: Environment | None = session._env if session is not None else None
        if env is not None:
            return dict(env.describe())
        size = self.config.settings.max_workers
        return {name: size for name in target_names(self.config.settings)}

    def deployed(self) -> bool:
        with self._lock:
            return self._session is not None and self._session.deployed

    # -- the loop --------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.jobs.claim_next()
            except Exception:
                log.exception("cannot read the job queue; retrying")
                self._stop.wait(IDLE_POLL_S)
                continue
            if job is None:
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            self.run_one(job)

    def run_one(self, job: Job) -> None:
        """Run one claimed job; whatever happens, the job ends complete or failed."""
        log.info("job %s: %s w%d on %s started", job.id, job.profile, job.workers, job.target)
        try:
            status, error, summary, key = self._run(job)
        except Exception as err:  # one job's failure must never stop the executor
            log.exception("job %s failed", job.id)
            status, error, summary, key = FAILED, f"{type(err).__name__}: {err}", None, ""
        try:
            self.jobs.finish(job.id, status, error=error, summary=summary, history_key=key)
        except Exception:
            log.exception("job %s: cannot record its end", job.id)
        log.info("job %s: %s", job.id, status)

    def _session_for(self) -> BenchmarkSession:
        with self._lock:
            if self._session is None:
                settings = self.config.settings
                session_id = uuid.uuid4().hex
                self._session = BenchmarkSession(
                    # The server runs profiles sent over its API: always confined.
                    backend=make_backend(settings, session_id, require_sandbox=True),
                    targets=target_names(settings),
                    max_workers=settings.max_workers,
                    store=None,
                    thresholds=Thresholds.empty(),
                    labels=dict(settings.labels),
                    runtime=settings.runtime,
                    size=settings.size,
                    session_id=session_id,
                )
            return self._session

    def _close_session(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:
                log.exception("environment teardown failed")

    def _run(self, job: Job) -> tuple[str, str, Mapping[str, float] | None, str]:
        session = self._session_for()
        profile = parse_profile(job.profile_text, name=job.profile, env={})
        job_store = _JobStore(self.store, job)
        session.store = job_store
        session.labels = {**dict(self.config.settings.labels), **job.labels}
        try:
            session.environment()
        except Exception:
            # A failed deploy is remembered by the session; the next job tries afresh.
            self._close_session()
            raise
        started = time.monotonic()
        try:
            outcome = session.run(Case(profile, job.workers, job.target), test_id=f"job:{job.id}")
        except Exception as err:
            recorded = job_store.recorded
            return FAILED, str(err), None, recorded.history_key if recorded else ""
        finally:
            session.store = None
            # Only this session's 1-worker runs matter (scaling efficiency); keep memory flat.
            del session.outcomes[:-KEEP_OUTCOMES]
        log.info("job %s: fio ran %.1f s", job.id, time.monotonic() - started)
        return COMPLETE, "", dict(outcome.record.metrics), outcome.record.history_key
