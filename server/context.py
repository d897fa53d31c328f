"""Everything a request handler needs, created once per server."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pytest_fioloadgen import __version__
from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.store.base import Store
from pytest_fioloadgen.verdicts.thresholds import Thresholds

from .answer_cache import AnswerCache, generation
from .catalog import Catalog, title_of
from .config import ServerConfig
from .executor import Executor
from .http import RateLimiter
from .jobsdb import QUEUED, RUNNING, Job, JobDB, JobError
from .limits import BUILDER_BURST, BUILDER_RATE_PER_S, BulkStreams, WorkPool, heavy_share
from .metrics import gated_metrics
from .overview import OverviewRows
from .profiles_repo import ProfileRepository

MAX_TITLE = 200


@dataclass
class ServerContext:
    config: ServerConfig
    token: str
    jobs: JobDB
    store: Store
    profiles: ProfileRepository
    executor: Executor
    started: float = field(default_factory=time.time)
    #: The limits jobs are gated on and history charts draw (planning.load_thresholds:
    #: ``serve --thresholds``, else benchmarks/thresholds.toml); loaded at start so a bad
    #: file is a start-up error, not a broken chart.
    thresholds: Thresholds | None = None
    #: Computed reads and bulk reads, each bounded to a share of the worker threads.
    work: WorkPool = field(init=False)
    streams: BulkStreams = field(init=False)
    #: Profile-builder previews per client address.
    builder_rate: RateLimiter = field(init=False)
    #: The overview's rows per history key (server.overview), kept between requests.
    overview: OverviewRows = field(init=False)
    #: Job-list pages and run pages, encoded once per generation of the data.
    answers: AnswerCache = field(init=False)

    def __post_init__(self) -> None:
        share = heavy_share(self.config.threads)
        self.work = WorkPool(workers=share, waiting=share)
        self.streams = BulkStreams(total=share)
        self.builder_rate = RateLimiter(BUILDER_RATE_PER_S, BUILDER_BURST)
        # The metrics jobs are gated on: the summaries /metrics reads, cached once for both.
        self.overview = OverviewRows(metrics=gated_metrics(self))
        self.answers = AnswerCache()

    def generation(self) -> Any:
        """What the job list and run pages were read at (answer_cache.generation)."""
        return generation(self.jobs, self.store)

    @property
    def catalog(self) -> Catalog:
        """Every run with its queue state (server.catalog)."""
        return Catalog(self.jobs, self.store)

    def status(self) -> dict[str, Any]:
        running = self.jobs.running()
        counts = self.jobs.counts()
        return {
            "version": __version__,
            "pid": os.getpid(),
            "backend": self.config.settings.backend,
            "workers": self.executor.workers(),
            "deployed": self.executor.deployed(),
            "executor_alive": self.executor.alive or not self.config.executor,
            "running_job": None if running is None else running.to_json(),
            "queue_length": counts.get(QUEUED, 0),
            "uptime_s": time.time() - self.started,
            "store": self.store.uri,
            "now": time.time(),
        }

    def submit(
        self,
        *,
        profile: str,
        workers: int,
        target: str,
        title: str,
        labels: dict[str, str] | None = None,
        profile_text: str | None = None,
    ) -> Job:
        """Queue a run after checking everything a request can get wrong (JobError)."""
        if not title.strip() or len(title) > MAX_TITLE:
            raise JobError(f"title must be 1-{MAX_TITLE} characters")
        capacity = self.executor.workers()
        if target not in capacity:
            raise JobError(f"unknown target {target!r} (targets: {', '.join(capacity) or 'none'})")
        limit = self.executor.capacity()
        if not 1 <= workers <= limit:
            raise JobError(
                f"workers {workers} must be from 1 to {limit} on target {target!r}"
                " (serve --max-workers)"
            )
        if profile_text is None:
            parsed = self.profiles.parsed(profile)
            profile_text = self.profiles.get(profile).text
        else:
            parsed = self.profiles.check(profile, profile_text)
        settings = self.config.settings
        as_run = parsed.with_overrides(runtime=settings.runtime, size=settings.size)
        job = Job(
            id=str(uuid.uuid4()),
            title=title.strip(),
            profile=profile,
            profile_text=profile_text,
            workers=workers,
            target=target,
            status=QUEUED,
            created=time.time(),
            expected_runtime=as_run.expected_runtime_s,
            labels=dict(labels or {}),
        )
        self.jobs.add(job)
        self.executor.wake()
        return job

    def rerun(self, job_id: str) -> Job:
        old = self.jobs.find(job_id)
        if old is None:
            # A run recorded by a plugin session: the same job file, size and target.
            try:
                run = self.store.get(job_id)
            except StoreError as err:
                raise JobError(f"no job or run {job_id!r}", 404) from err
            return self.submit(
                profile=run.profile_name,
                workers=run.workers,
                target=run.target,
                title=f"rerun of {title_of(run)}"[:MAX_TITLE],
                labels={"rerun_of": run.run_id},
                profile_text=run.profile_text,
            )
        # The same job file as the first time, even if the named profile changed since.
        parse_profile(old.profile_text, name=old.profile, env={})
        return self.submit(
            profile=old.profile,
            workers=old.workers,
            target=old.target,
            title=old.title,
            labels=dict(old.labels),
            profile_text=old.profile_text,
        )

    def delete_job(self, job_id: str) -> None:
        """Delete a job that is not running, and its run (a pinned run refuses: 409); or
        a run recorded by a plugin session."""
        job = self.jobs.find(job_id)
        if job is None:
            if not self.store.delete(job_id):
                raise JobError(f"no job or run {job_id!r}", 404)
            return
        if job.status == RUNNING:
            raise JobError(f"job {job_id!r} is running; it cannot be deleted now", 409)
        if job.status != QUEUED:
            self.store.delete(job_id)
        self.jobs.delete(job_id)
