"""A benchmark session: one environment, many cases, every run recorded.

This is the domain half of the plugin (no pytest here), so the CLI and the results
server's executor can run cases exactly as the plugin does.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends.base import Backend, Environment
from .exceptions import FioLoadgenError
from .fio.results import RunResult
from .fio.runner import ProgressCallback
from .gating import Limit, Thresholds, Verdict, evaluate
from .history import history_key
from .profiles import Profile, check_safety
from .regression import Comparison
from .store.base import RunRecord, Store

#: When a profile gives no runtime, a run is still bounded by this many seconds of fio.
UNKNOWN_RUNTIME_S = 300.0


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: a profile on N workers of a target (and which repeat)."""

    profile: Profile
    workers: int
    target: str
    repeat: int = 0
    repeats: int = 1

    @property
    def id(self) -> str:
        base = f"{self.profile.name}-w{self.workers}-{self.target}"
        return f"{base}-r{self.repeat + 1}" if self.repeats > 1 else base

    @property
    def key(self) -> tuple[str, int, str]:
        """Cases sharing a key are repeats of the same measurement."""
        return (self.profile.name, self.workers, self.target)


@dataclass(frozen=True)
class CaseOutcome:
    """What running a case produced: the result, its verdict and the stored record."""

    case: Case
    result: RunResult
    verdict: Verdict
    record: RunRecord
    profile_as_run: Profile
    #: Regression comparisons against history, filled in by the gating step when enabled.
    comparisons: tuple[Comparison, ...] = ()


def git_labels(rootdir: Path) -> dict[str, str]:
    """git commit and branch of the rootdir, when it is a git work tree."""
    labels: dict[str, str] = {}
    for label, argv in (
        ("git_commit", ["git", "rev-parse", "HEAD"]),
        ("git_branch", ["git", "rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        try:
            completed = subprocess.run(
                argv, cwd=rootdir, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return labels
        if completed.returncode == 0 and completed.stdout.strip():
            labels[label] = completed.stdout.strip()
    return labels


@dataclass
class BenchmarkSession:
    """Owns the environment for a whole session and runs cases in it."""

    backend: Backend
    targets: Sequence[str]
    max_workers: int
    store: Store | None
    thresholds: Thresholds
    labels: Mapping[str, str] = field(default_factory=dict)
    runtime: int | None = None
    size: str | None = None
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Extra fingerprint facts (e.g. from a pytest hook), merged over the backend's.
    fingerprint_extra: Callable[[Environment], Mapping[str, Any]] | None = None
    outcomes: list[CaseOutcome] = field(default_factory=list)
    _env: Environment | None = None
    _fingerprint: dict[str, Any] | None = None
    _deploy_error: FioLoadgenError | None = None

    # -- environment ---------------------------------------------------------------
    def environment(self) -> Environment:
        """Deploy once, sized for the largest worker count; a failed deploy is not retried
        for every case (it would fail the same way, slowly)."""
        if self._deploy_error is not None:
            raise self._deploy_error
        if self._env is None:
            try:
                self._env = self.backend.deploy(self.targets, self.max_workers)
            except FioLoadgenError as err:
                self._deploy_error = err
                raise
        return self._env

    @property
    def deployed(self) -> bool:
        return self._env is not None

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            env = self.environment()
            facts = dict(self.backend.fingerprint(env))
            if self.fingerprint_extra is not None:
                facts.update(self.fingerprint_extra(env))
            self._fingerprint = facts
        return self._fingerprint

    def known_fingerprint(self) -> dict[str, Any] | None:
        """The fingerprint if a run already computed it (never deploys)."""
        return self._fingerprint

    def close(self) -> None:
        """Tear the environment down (idempotent)."""
        env, self._env = self._env, None
        if env is not None:
            self.backend.teardown(env)

    # -- cases ---------------------------------------------------------------------
    def prepare(self, case: Case, overrides: Mapping[str, Any] | None = None) -> Profile:
        """The profile as it will run, overrides applied and checked again: an override
        (ioengine=exec) must not get past the safety policy the file passed."""
        profile = case.profile.with_overrides(runtime=self.runtime, size=self.size)
        if overrides:
            profile = profile.with_overrides(**overrides)
        check_safety(profile)
        return profile

    def run(
        self,
        case: Case,
        *,
        limits: Sequence[Limit] = (),
        overrides: Mapping[str, Any] | None = None,
        test_id: str = "",
        on_progress: ProgressCallback | None = None,
    ) -> CaseOutcome:
        """Run one case, evaluate its limits and record it (failed runs are recorded too)."""
        profile = self.prepare(case, overrides)
        env = self.environment()
        workers = self.backend.resolve(env, case.target, case.workers)
        directory = workers[0].directory
        profile = profile.with_directory(directory) if directory else profile.without_directory()
        expected = profile.expected_runtime_s or UNKNOWN_RUNTIME_S
        started = time.time()
        try:
            result = self.backend.run_job(
                env, profile.render(), workers, expected_runtime_s=expected, on_progress=on_progress
            )
        except FioLoadgenError as err:
            self._record_failure(case, profile, started, str(err), test_id)
            raise
        result = self._with_scaling(case, profile, result)
        verdict = evaluate(result, limits)
        fingerprint = self.fingerprint()
        record = RunRecord(
            run_id=uuid.uuid4().hex,
            session_id=self.session_id,
            profile_name=case.profile.name,
            profile_hash=profile.content_hash,
            profile_text=profile.render(),
            workers=case.workers,
            backend=self.backend.name,
            target=case.target,
            started_at=started,
            finished_at=time.time(),
            status="complete",
            metrics=dict(result.metrics),
            labels=dict(self.labels),
            fingerprint=fingerprint,
            raw=dict(result.raw),
            notes=tuple(profile.notes),
            repeat=case.repeat,
            test_id=test_id,
            verdict=verdict.status,
            history_key=self.key_of(case, profile),
        )
        if self.store is not None:
            self.store.record(record)
        outcome = CaseOutcome(case, result, verdict, record, profile)
        self.outcomes.append(outcome)
        return outcome

    def _record_failure(
        self, case: Case, profile: Profile, started: float, error: str, test_id: str
    ) -> None:
        if self.store is None:
            return
        self.store.record(
            RunRecord(
                run_id=uuid.uuid4().hex,
                session_id=self.session_id,
                profile_name=case.profile.name,
                profile_hash=profile.content_hash,
                profile_text=profile.render(),
                workers=case.workers,
                backend=self.backend.name,
                target=case.target,
                started_at=started,
                finished_at=time.time(),
                status="failed",
                labels=dict(self.labels),
                fingerprint=self.fingerprint(),
                notes=tuple(profile.notes),
                repeat=case.repeat,
                test_id=test_id,
                verdict="error",
                error=error,
                history_key=self.key_of(case, profile),
            )
        )

    def key_of(self, case: Case, profile: Profile) -> str:
        """The history key of a case run with ``profile`` (the profile as run)."""
        return history_key(
            profile_hash=profile.content_hash,
            workers=case.workers,
            backend=self.backend.name,
            target=case.target,
            fingerprint=self.fingerprint(),
        )

    def _with_scaling(self, case: Case, profile: Profile, result: RunResult) -> RunResult:
        """scaling_efficiency = iops(N) / (N x iops(1)) against this session's 1-worker run
        of the same profile content on the same target (the mean over its repeats)."""
        if case.workers == 1:
            return result.with_metric("scaling_efficiency", 1.0)
        singles = [
            outcome.result.metrics["iops"]
            for outcome in self.outcomes
            if outcome.case.workers == 1
            and outcome.case.target == case.target
            and outcome.profile_as_run.content_hash == profile.content_hash
        ]
        single = sum(singles) / len(singles) if singles else 0.0
        if single <= 0:
            return result
        return result.with_metric(
            "scaling_efficiency", result.metrics["iops"] / (case.workers * single)
        )
