"""The job executor: one thread that runs queued jobs one at a time on one environment.

Jobs are planned and run exactly as the plugin plans and runs cases: the same planning
module (pytest_fioloadgen.planning) turns a job into a case with its thresholds and
tolerances, the same gating policy judges it, and ``BenchmarkSession`` runs and records
it through its public API (the job's id names its run, its title and labels join the
run's labels). Every job has the test part ``job``, so jobs of one profile, size and
target share their history. The environment is deployed on the first job and grows on
demand, up to ``serve --max-workers``, when a job asks for more workers; an exception in
a job fails that job only, and a failed deploy is retried by the next job.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace

from pytest_fioloadgen.backend_factory import make_backend, sandbox_of, target_names
from pytest_fioloadgen.backends.sandbox import Sandbox
from pytest_fioloadgen.identity import JOB_TEST
from pytest_fioloadgen.planning import CaseRequest, Planner
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.store.base import Store
from pytest_fioloadgen.verdicts.thresholds import Thresholds

from .config import ServerConfig
from .jobsdb import COMPLETE, FAILED, Job, JobDB

log = logging.getLogger("fioloadgen_server.executor")

#: How long the idle executor sleeps before looking at the queue again (a submit wakes it).
IDLE_POLL_S = 1.0
KEEP_OUTCOMES = 64


class Executor:
    def __init__(
        self,
        config: ServerConfig,
        jobs: JobDB,
        store: Store,
        thresholds: Thresholds,
        *,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.config = config
        self.jobs = jobs
        self.store = store
        settings = config.settings
        self.planner = Planner(
            settings,
            thresholds,
            targets=target_names(settings),
            # The server runs profiles sent over its API: fio --parse-only confined too.
            sandbox=sandbox or (lambda: sandbox_of(settings, require=True)),
        )
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
            env = session.deployed_environment() if session is not None else None
        if env is not None:
            return dict(env.describe())
        size = self.config.settings.max_workers
        return {name: size for name in target_names(self.config.settings)}

    def capacity(self) -> int:
        """The most workers a job may ask for (deployed on demand)."""
        return max(self.config.max_workers, self.config.settings.max_workers)

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

    def _session_for(self, workers: int) -> BenchmarkSession:
        with self._lock:
            if self._session is None:
                settings = self.config.settings
                session_id = uuid.uuid4().hex
                self._session = self.planner.session(
                    # The server runs profiles sent over its API: always confined.
                    backend=make_backend(settings, session_id, require_sandbox=True),
                    store=self.store,
                    session_id=session_id,
                    labels=dict(settings.labels),
                )
            self._session.resize(workers)
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
        limit = self.capacity()
        if not 1 <= job.workers <= limit:
            return (
                FAILED,
                f"workers {job.workers} must be from 1 to {limit} (serve --max-workers)",
                None,
                "",
            )
        session = self._session_for(job.workers)
        profile = parse_profile(job.profile_text, name=job.profile, env={})
        request = CaseRequest(
            test=JOB_TEST,
            where=f"job {job.id}",
            profile=[profile],
            workers=[job.workers],
            targets=[job.target],
        )
        case = replace(self.planner.cases(request)[0], repeat=0, repeats=1)
        rules = self.planner.rules_for(case)
        try:
            session.environment()
        except Exception:
            # A failed deploy is remembered by the session; the next job tries afresh.
            self._close_session()
            raise
        started = time.monotonic()
        try:
            outcome = session.run(
                case,
                rules=rules,
                test_id=JOB_TEST,
                run_id=job.id,
                labels={**job.labels, "job_title": job.title},
            )
        except Exception as err:
            key = session.key_of(case, session.prepare(case)) if session.deployed else ""
            return FAILED, str(err), None, key
        finally:
            session.forget_outcomes(KEEP_OUTCOMES)
        log.info("job %s: fio ran %.1f s", job.id, time.monotonic() - started)
        return COMPLETE, "", dict(outcome.record.metrics), outcome.record.history_key
