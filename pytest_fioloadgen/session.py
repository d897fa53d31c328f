"""A benchmark session: one environment, many cases, every run recorded.

This is the domain half of the plugin (no pytest here), so the CLI and the results
server's executor can run cases exactly as the plugin does.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from .backends.base import Backend, Environment, KnowsFreeSpace, SharesResources, Worker
from .exceptions import FaultError, FioLoadgenError, FioRunError, StoreError
from .faults.base import Fault, FaultContext, FaultEvent
from .faults.case import CaseFaults
from .faults.registry import Lookup, lookup
from .faults.spec import FaultSpec
from .fio.results import RunResult
from .fio.runner import ProgressCallback
from .fio.spectrum import run_spectrum
from .fio.steadystate import steady_state
from .fio.timeline import timeline_of
from .identity import history_key, override_tags
from .profiles import (
    NO_ALLOWANCE,
    OVERRIDABLE_OPTIONS,
    Allowance,
    Profile,
    check_safety,
    parse_profile,
)
from .profiles.caps import DEFAULT_CAPS, Caps, check_caps, check_disk
from .profiles.lint import LintContext, lint, rate_cap_finding
from .profiles.model import scrubbed
from .read_ceiling import READ_PROBE, READ_PROBE_NAME, READ_PROBE_RUNTIME_S, ReadCeilings
from .store.base import RunRecord, Store
from .verdicts.distribution import DistributionComparison, compare_spectrum
from .verdicts.gating import GatingPolicy, Verdict, decide, error_verdict, large_change
from .verdicts.phases import analyse, phase_line
from .verdicts.regression import FAULT_GATED_METRICS, Comparison, compare
from .verdicts.status import Status
from .verdicts.thresholds import Check, Limit, Thresholds, evaluate
from .verdicts.validity import DEFAULT_STALL_FACTOR, judge, measured_span, window_metrics
from .verdicts.variation import Variation, variations

#: When a profile gives no runtime, a run is still bounded by this many seconds of fio.
UNKNOWN_RUNTIME_S = 300.0


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: a test's profile (with its overrides or sweep point) on N
    workers of a target, and which repeat."""

    profile: Profile
    workers: int
    target: str
    repeat: int = 0
    repeats: int = 1
    #: The test part of the identity (identity.case_test_part): the pytest node id without
    #: its parameters, ``job`` for server and CLI jobs.
    test: str = ""
    #: Options this case sets on top of the profile (a marker's, fio_run's, a sweep
    #: point), as (option, value) in a fixed order: part of its id and its history.
    overrides: tuple[tuple[str, str], ...] = ()
    #: Which of the overrides are sweep axes (--fio-sweep, the marker's sweep=): the
    #: response curves are drawn along them.
    swept: tuple[str, ...] = ()
    #: Faults injected during the run (faults/): part of its id and its history.
    faults: tuple[FaultSpec, ...] = ()

    @property
    def name(self) -> str:
        """The measurement without the worker count and target: 'lat-qd1-4k-bs16k';
        a case under a fault carries its tag: 'randread-4k-fault-throttle'."""
        tags = [*override_tags(dict(self.overrides)), *(f.tag for f in self.faults)]
        return "-".join([self.profile.name, *tags])

    @property
    def id(self) -> str:
        base = f"{self.name}-w{self.workers}-{self.target}"
        return f"{base}-r{self.repeat + 1}" if self.repeats > 1 else base

    @property
    def key(self) -> tuple[str, str, int, str]:
        """Cases sharing a key are repeats of the same measurement."""
        return (self.test, self.name, self.workers, self.target)

    def with_faults(self, faults: Sequence[FaultSpec] | None) -> Case:
        """The case under ``faults`` instead of its own (None: unchanged)."""
        return self if faults is None else replace(self, faults=tuple(faults))

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Case:
        """The case with more overrides (later ones win)."""
        if not overrides:
            return self
        merged = {**dict(self.overrides), **{k: v for k, v in overrides.items() if v is not None}}
        return replace(self, overrides=normalized_overrides(merged))


def normalized_overrides(overrides: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(option, text) pairs in OVERRIDABLE_OPTIONS order: the same overrides always make
    the same case."""
    order = list(OVERRIDABLE_OPTIONS)

    def position(item: tuple[str, Any]) -> tuple[int, str]:
        key = item[0]
        return (order.index(key) if key in order else len(order), key)

    return tuple(
        (key, str(value).strip())
        for key, value in sorted(overrides.items(), key=position)
        if value is not None
    )


@dataclass(frozen=True)
class CaseRules:
    """What a case's runs are judged by: limits, regression tolerances and the
    distribution gate's table (thresholds file and marker)."""

    limits: tuple[Limit, ...] = ()
    tolerances: Mapping[str, float] = field(default_factory=dict)
    distribution: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _RunIdentity:
    """What a run is recorded as: its test id, run id (empty: a new one) and labels."""

    test_id: str
    run_id: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class CaseOutcome:
    """What running a case produced: the result, its one verdict and the stored record."""

    case: Case
    result: RunResult
    verdict: Verdict
    record: RunRecord
    profile_as_run: Profile
    #: Which confirmation run this was (0: the regular run).
    confirmation: int = 0
    #: Set when the result looks like it came from a cache rather than the storage.
    cache_note: str = ""

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """Comparisons against history (empty before a case's last repeat, or when gating
        is off)."""
        return self.verdict.comparisons

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.is_regression)

    @property
    def status(self) -> Status:
        """The run's one status, as stored with it."""
        return self.verdict.status


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


@dataclass(frozen=True)
class JudgedTimeline:
    """A result with what its timeline said: metrics added (or the common window's),
    notes, reasons the run is unstable, and evidence to store."""

    result: RunResult
    notes: tuple[str, ...] = ()
    unstable: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)


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
    gating: GatingPolicy = field(default_factory=GatingPolicy)
    prefill: bool = False
    #: Read bandwidth (MiB/s) above which a result is flagged as a likely cache hit.
    read_ceiling: float | None = None
    #: Whether a short direct-I/O probe measures each target's read ceiling (per worker
    #: count) before its first read, when no ceiling is configured.
    read_probe: bool = False
    #: Whether each run keeps its timeline (fio's histogram logs merged per interval).
    timeline: bool = True
    #: Stalls: an interval p99 above this many times the run's median interval p99.
    stall_factor: float = DEFAULT_STALL_FACTOR
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Extra fingerprint facts (e.g. from a pytest hook), merged over the backend's.
    fingerprint_extra: Callable[[Environment], Mapping[str, Any]] | None = None
    #: What the user explicitly allows profiles beyond file I/O (fio_allow_engines).
    allowance: Allowance = NO_ALLOWANCE
    #: How much of the machine a profile may take (--fio-caps): checked on every case as
    #: it will run; the hang timeout follows the time cap.
    caps: Caps = DEFAULT_CAPS
    #: What profile lint knows of the machine (its findings become each run's notes).
    lint_context: LintContext = field(default_factory=LintContext)
    #: Where the cross-process measurement locks live (None: no locking).
    lock_dir: Path | None = None
    #: Notes every run of this session carries (e.g. which pytest-xdist worker ran it).
    run_notes: tuple[str, ...] = ()
    outcomes: list[CaseOutcome] = field(default_factory=list)
    _env: Environment | None = None
    _fingerprint: dict[str, Any] | None = None
    _deploy_error: FioLoadgenError | None = None
    _pinned: list[RunRecord] | None = None
    _prefilled: set[tuple[str, int, str]] = field(default_factory=set)
    _ceilings: ReadCeilings = field(init=False)
    #: Finds a fault by name (built-in or a conftest's, faults/registry.py).
    fault_lookup: Lookup = field(default_factory=lookup)
    #: Loads a profile by name for faults that run one (noisy-neighbor).
    load_profile: Callable[[str], Profile] | None = None
    #: Faults whose undo failed, per target: its cases are errors until they clear.
    _uncleared: dict[str, list[tuple[Fault, FaultEvent]]] = field(default_factory=dict)
    _locks: dict[str, FileLock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._ceilings = ReadCeilings(configured=self.read_ceiling, probe=self.read_probe)

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

    def deployed_environment(self) -> Environment | None:
        """The environment if it is deployed (never deploys)."""
        return self._env

    def resize(self, workers: int) -> None:
        """Make room for ``workers`` per target: a smaller deployed environment is torn
        down, and the next run deploys one this large (the results server deploys on
        demand up to the count a job asks for)."""
        if workers <= self.max_workers:
            return
        self.max_workers = workers
        if self._env is not None and any(
            self._env.capacity(target) < workers for target in self.targets
        ):
            self.close()
            self._fingerprint = None

    def forget_outcomes(self, keep: int) -> None:
        """Keep only the newest ``keep`` outcomes in memory (a long-running server; the
        store has them all). Scaling efficiency needs the recent 1-worker runs only."""
        del self.outcomes[:-keep]

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
        effective = {**dict(case.overrides), **(overrides or {})}
        if effective:
            profile = profile.with_overrides(**effective)
        check_safety(profile, self.allowance)
        check_caps(profile, self.caps)
        return profile

    def check_space(self, env: Environment, case: Case, profile: Profile) -> None:
        """Refuse a case whose files would leave the target's file system with less than
        the disk margin free (where the backend knows the target's file system)."""
        if not isinstance(self.backend, KnowsFreeSpace):
            return
        space = self.backend.free_space(env, case.target)
        if space is None:
            return
        check_disk(
            profile,
            self.caps,
            workers=case.workers,
            target=f"'{case.target}' ({space.path})",
            free=space.free,
            total=space.total,
            reusable=space.used,
        )

    def hang_timeout_base_s(self, profile: Profile) -> float:
        """The runtime the runner's hang timeout adds its slack to: what the profile asks
        for (startdelay + ramp_time + runtime), or UNKNOWN_RUNTIME_S for a size-bound
        profile, never beyond the time cap."""
        expected = profile.expected_runtime_s or UNKNOWN_RUNTIME_S
        if self.caps.time_s is not None:
            expected = min(expected, self.caps.time_s)
        return expected

    def run(
        self,
        case: Case,
        *,
        rules: CaseRules | None = None,
        overrides: Mapping[str, Any] | None = None,
        test_id: str = "",
        on_progress: ProgressCallback | None = None,
        run_id: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> CaseOutcome:
        """Run one case, decide its verdict once, and record it (failures too).

        ``test_id`` is stored with the run (the pytest node id, or ``job``); ``run_id``
        names the first run (confirmation runs get ``<run_id>-c<n>``); ``labels`` join the
        session's labels on these runs.

        ``rules`` are its limits, tolerances and distribution gate table (none: no
        limits, default tolerances); ``overrides`` join the case's own (they are part of
        its id and history).
        A suspected regression, or a change much larger than its tolerance that the
        statistics could not judge, is run again up to ``gating.confirm`` times; every run
        is recorded and the last one's outcome (over all samples) is returned.
        """
        case = case.with_overrides(overrides)
        first = run_id or uuid.uuid4().hex
        identity = _RunIdentity(test_id, first, dict(labels or {}))
        rules = rules or CaseRules()
        outcome = self._run_once(case, rules, identity, on_progress, 0)
        confirmations = 0
        reruns = 0
        while True:
            # decide() only says suspect while a confirmation run may follow.
            while outcome.status is Status.SUSPECT:
                confirmations += 1
                again = replace(identity, run_id=f"{first}-c{confirmations}" if run_id else "")
                outcome = self._run_once(case, rules, again, on_progress, confirmations)
            # --fio-until-stable: repeats that disagree get more repeats (Phoronix-style),
            # each one recorded; the variation is over all of them.
            if not (
                outcome.status is Status.UNSTABLE
                and any(v.exceeds for v in outcome.verdict.variations)
                and reruns < self.gating.until_stable
            ):
                return outcome
            reruns += 1
            case = replace(case, repeat=case.repeat + 1)
            again = replace(identity, run_id=f"{first}-s{reruns}" if run_id else "")
            outcome = self._run_once(case, rules, again, on_progress, 0, stability_rerun=reruns)

    def _run_once(
        self,
        case: Case,
        rules: CaseRules,
        identity: _RunIdentity,
        on_progress: ProgressCallback | None,
        confirmation: int,
        *,
        stability_rerun: int = 0,
    ) -> CaseOutcome:
        profile = self.prepare(case)
        env = self.environment()
        workers = self.backend.resolve(env, case.target, case.workers)
        profile = self._placed(profile, workers[0])
        self.check_space(env, case, profile)
        events = [*self.run_notes, *env.target_notes.get(case.target, []), *env.take_events()]
        events += self.lint_notes(case, profile)
        if confirmation:
            events.append(f"confirmation run {confirmation}")
        if stability_rerun:
            events.append(
                f"stability re-run {stability_rerun} of up to {self.gating.until_stable}"
                " (--fio-until-stable)"
            )
        if events:
            profile = replace(profile, notes=(*profile.notes, *events))
        # One measurement at a time per device (or backend target), across processes:
        # pytest-xdist workers would otherwise perturb each other's figures.
        with self.measurement_lock(env, case.target):
            started = time.time()
            try:
                self._check_cleared(case.target)
                self._prefill(env, case, profile, workers)
                self._probe_read_ceiling(env, case, profile, workers)
                expected = self.hang_timeout_base_s(profile)
                faults = self._case_faults(case, env, workers, profile)
                with faults or contextlib.nullcontext() as schedule:
                    result = self.backend.run_job(
                        env,
                        profile.render(),
                        workers,
                        expected_runtime_s=expected,
                        on_progress=on_progress,
                        timeline=self.timeline,
                        on_start=schedule.start if schedule is not None else None,
                        lost_ok=schedule.lost_workers if schedule is not None else frozenset(),
                    )
                self._after_faults(case, faults)
            except FioLoadgenError as err:
                # fio's message may echo an allowed variable's value: it goes into the
                # record, the test report and CI logs as ${VAR}.
                if profile.variables:
                    err.args = (scrubbed(str(err), profile.variables),)
                    if isinstance(err, FioRunError):
                        err.stderr_tail = scrubbed(err.stderr_tail, profile.variables)
                try:
                    self._record_failure(case, profile, started, str(err), identity)
                except StoreError as store_error:
                    # The run's own failure is the cause (fio's ENOSPC on a disk the store
                    # shares): show it first, the store's failure after it.
                    err.args = (f"{err}; recording this failure failed too: {store_error}",)
                raise
            finished = time.time()
        result = self._with_scaling(case, profile, result)
        judged = self._judge_timeline(result, workers, faults)
        result = judged.result
        checks = evaluate(result, rules.limits)
        key = self.key_of(case, profile)
        final_repeat = case.repeat >= case.repeats - 1 or confirmation > 0
        gated = self.gating.metrics
        if case.faults:
            gated = (*gated, *(m for m in FAULT_GATED_METRICS if m not in gated))
        comparisons = (
            self.compare(key, result, rules.tolerances, metrics=gated) if final_repeat else ()
        )
        spectrum = run_spectrum(result)
        shapes = (
            self.compare_distribution(key, spectrum, rules.distribution) if final_repeat else ()
        )
        suspicion = self._ceilings.judge(case.target, case.workers, profile, result)
        cache_note = suspicion.flag
        capped = rate_cap_finding(profile, [worker.iops for worker in result.workers])
        settled = steady_state(result.raw)
        notes = (
            *profile.notes,
            *([cache_note] if cache_note else []),
            *([suspicion.host_note] if suspicion.host_note else []),
            *judged.notes,
            *([f"lint {capped.line()}"] if capped else []),
            *([settled.note()] if settled else []),
        )
        spread = self.variation(key, result, window=case.repeats) if final_repeat else ()
        unsettled = [settled.note()] if settled and not settled.attained else []
        unsettled += judged.unstable
        left = self.gating.confirm - confirmation
        if confirmation == 0 and left <= 0 and any(large_change(c) for c in comparisons):
            left = 1  # a change far beyond its tolerance is always run once more
        # Decided here, once: every view renders what is stored with the run.
        verdict = decide(
            checks,
            comparisons,
            confirmations_left=left,
            unstable=unsettled,
            variations=spread,
            distribution=shapes,
        )
        record = self._record_of(
            case,
            profile,
            started,
            identity,
            status="complete",
            finished_at=finished,
            metrics=dict(result.metrics),
            raw=dict(result.raw),
            notes=notes,
            repeat=case.repeat + confirmation,
            verdict=verdict.status.value,
            evidence={**verdict.evidence(), **judged.evidence},
            spectrum=spectrum,
        )
        if self.store is not None:
            self.store.record(record)
        outcome = CaseOutcome(case, result, verdict, record, profile, confirmation, cache_note)
        self.outcomes.append(outcome)
        return outcome

    def measurement_lock(self, env: Environment, target: str) -> AbstractContextManager[Any]:
        """The lock a run on ``target`` holds while fio runs: one per device for local
        targets (two directories on one disk share it), one per backend and target
        otherwise; a file lock, so other processes (pytest-xdist workers, a second
        pytest) wait for it too."""
        if self.lock_dir is None:
            return contextlib.nullcontext()
        if isinstance(self.backend, SharesResources):
            resource = self.backend.measurement_resource(env, target)
        else:
            resource = f"{self.backend.name}-{target}"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", resource)
        if name not in self._locks:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            self._locks[name] = FileLock(self.lock_dir / f"{name}.lock")
        return self._locks[name]

    def lint_notes(self, case: Case, profile: Profile) -> list[str]:
        """Profile lint of the profile as it runs (placed on its worker), as notes."""
        context = replace(self.lint_context, workers=case.workers, prefill=self.prefill)
        return [f"lint {finding.line()}" for finding in lint(profile, context)]

    def _placed(self, profile: Profile, worker: Worker) -> Profile:
        """The profile where the backend puts the data: the worker's block device, its
        directory, or the fio server's working directory. A device is allowed by the
        policy only because the backend granted exactly that one."""
        if worker.device:
            placed = profile.with_device(worker.device)
            check_safety(placed, self.allowance.merged(Allowance(devices=(worker.device,))))
            return placed
        if worker.directory:
            return profile.with_directory(worker.directory)
        return profile.without_directory()

    # -- history -------------------------------------------------------------------
    def baseline_samples(self, key: str) -> list[RunRecord]:
        """Runs of ``key`` the current runs are compared with (never this session's)."""
        if self.store is None or not self.gating.enabled:
            return []
        if self.gating.baseline != "auto":
            return [run for run in self._pinned_runs() if run.history_key == key]
        mine = sum(1 for o in self.outcomes if o.record.history_key == key)
        recent = self.store.query(
            history_key=key,
            status="complete",
            labels=dict(self.gating.baseline_labels) or None,
            limit=self.gating.window + mine + 1,
        )
        others = [run for run in recent if run.session_id != self.session_id]
        return others[: self.gating.window]

    def _pinned_runs(self) -> list[RunRecord]:
        if self._pinned is None:
            assert self.store is not None
            baseline = self.store.get_baseline(self.gating.baseline)
            self._pinned = [self.store.get(run_id) for run_id in baseline.run_ids]
        return self._pinned

    def record_derived(
        self,
        case: Case,
        basis: CaseOutcome,
        metrics: Mapping[str, float],
        *,
        limits: Sequence[Limit] = (),
        tolerances: Mapping[str, float] | None = None,
        test_id: str = "",
        notes: Sequence[str] = (),
    ) -> CaseOutcome:
        """Record a figure derived from runs already made (the latency-SLA search's
        answer) as a run of ``case``: checked against its limits, compared with the
        history of its own key on ``metrics``, decided once and stored like any run."""
        result = basis.result
        for name, value in metrics.items():
            result = result.with_metric(name, value)
        profile = basis.profile_as_run
        key = self.key_of(case, profile)
        checks = evaluate(result, limits)
        comparisons = self.compare(key, result, tolerances or {}, metrics=tuple(metrics))
        verdict = decide(checks, comparisons)
        identity = _RunIdentity(test_id or case.test, "", {})
        record = self._record_of(
            case,
            profile,
            basis.record.started_at,
            identity,
            status="complete",
            metrics=dict(result.metrics),
            notes=tuple(notes),
            verdict=verdict.status.value,
            evidence=verdict.evidence(),
        )
        if self.store is not None:
            self.store.record(record)
        outcome = CaseOutcome(case, result, verdict, record, profile)
        self.outcomes.append(outcome)
        return outcome

    def compare_distribution(
        self,
        key: str,
        spectrum: Mapping[str, Any],
        overrides: Mapping[str, Any] | None = None,
    ) -> tuple[DistributionComparison, ...]:
        """The latency distribution (this key's spectra in the session, the current one
        last) against the baseline runs' spectra, per direction (verdicts/distribution)."""
        policy = self.gating.distribution.with_overrides(overrides)
        # Latency must be gated at all ([gating] metrics = ["iops"] says it is not).
        gates_latency = any("_lat_" in metric for metric in self.gating.metrics)
        if self.store is None or not self.gating.enabled or not policy.enabled:
            return ()
        if not gates_latency:
            return ()
        baseline = [run.spectrum for run in self.baseline_samples(key)]
        session = [o.record.spectrum for o in self.outcomes if o.record.history_key == key]
        samples = [*session, spectrum]
        return tuple(
            compare_spectrum(direction, samples, baseline, policy) for direction in spectrum
        )

    def compare(
        self,
        key: str,
        result: RunResult,
        tolerances: Mapping[str, float],
        *,
        metrics: Sequence[str] | None = None,
    ) -> tuple[Comparison, ...]:
        """Every gated metric (or ``metrics``) of this key's samples in the session
        against the baseline."""
        if self.store is None or not self.gating.enabled:
            return ()
        baseline = self.baseline_samples(key)
        session_runs = [o.result for o in self.outcomes if o.record.history_key == key]
        samples = [*session_runs, result]
        description = self.gating.describe_baseline(len(baseline))
        comparisons = []
        for metric in metrics if metrics is not None else self.gating.metrics:
            if metric not in result.metrics:
                continue
            current = [r.metrics[metric] for r in samples if metric in r.metrics]
            history = [run.metrics[metric] for run in baseline if metric in run.metrics]
            comparisons.append(
                compare(
                    metric,
                    current,
                    history,
                    history_key=key,
                    baseline_description=description,
                    tolerance_pct=tolerances.get(metric),
                    alpha=self.gating.alpha,
                    min_baseline=self.gating.min_baseline,
                )
            )
        return tuple(comparisons)

    def variation(self, key: str, result: RunResult, *, window: int) -> tuple[Variation, ...]:
        """The spread of every gated metric over the last ``window`` runs of ``key`` in
        this session, ``result`` included: the repeats, or after --fio-until-stable
        re-runs the latest that many (an outlier run leaves the window as the re-runs
        agree)."""
        if window < 2:
            return ()
        samples = [o.result.metrics for o in self.outcomes if o.record.history_key == key]
        samples = samples[-(window - 1) :]
        if not samples:
            return ()
        metrics = [m for m in self.gating.metrics if m in result.metrics]
        return variations([*samples, result.metrics], metrics, self.gating.max_cv)

    # -- prefill and cache sanity ----------------------------------------------------
    def _prefill(
        self, env: Environment, case: Case, profile: Profile, workers: Sequence[Worker]
    ) -> None:
        """Before a read runs on a target and worker count, have its files written (with
        --fio-prefill, a read-only profile's whole data set) or at least laid out, once:
        then every worker's measurement starts together, none after its own layout."""
        if self.prefill and profile.is_read_only:
            writer = profile.as_prefill()
            done = (case.target, case.workers, writer.content_hash)
        elif profile.reads and not workers[0].device:
            # fio lays out a read's files before the job starts, each worker on its own:
            # under load one worker's layout takes longer and its measurement starts late
            # (seen here: up to 0.75 s apart; under 20 ms with the files laid out first).
            # One round lays out every worker of the target: a fio client round costs
            # about 1.4 s whatever it does, so larger worker counts reuse these files.
            writer = profile.as_layout()
            workers = self.backend.resolve(env, case.target, len(env.workers[case.target]))
            done = (case.target, 0, writer.content_hash)
        else:
            return
        if done in self._prefilled:
            return
        self.backend.run_job(env, writer.render(), workers, expected_runtime_s=UNKNOWN_RUNTIME_S)
        self._prefilled.add(done)

    def _probe_read_ceiling(
        self, env: Environment, case: Case, profile: Profile, workers: Sequence[Worker]
    ) -> None:
        """Measure what the target can physically read, once per target and worker count,
        before the first buffered read there: a read beyond it came from a cache."""
        if not self._ceilings.wants_probe(case.target, case.workers, profile):
            return
        probe = self._placed(parse_profile(READ_PROBE, name=READ_PROBE_NAME), workers[0])
        result = self.backend.run_job(
            env, probe.render(), workers, expected_runtime_s=READ_PROBE_RUNTIME_S
        )
        self._ceilings.record_probe(case.target, case.workers, result)

    def cache_suspects(self) -> list[tuple[CaseOutcome, str]]:
        """Buffered reads flagged as likely cache hits: at run time, or against a
        sequential-read ceiling measured later in the session (profiles do not run in
        that order)."""
        suspects = []
        for outcome in self.outcomes:
            note = outcome.cache_note
            if not note and not outcome.profile_as_run.is_sequential_read:
                case = outcome.case
                note = self._ceilings.judge(
                    case.target, case.workers, outcome.profile_as_run, outcome.result
                ).flag
            if note:
                suspects.append((outcome, note))
        return suspects

    def _record_of(
        self,
        case: Case,
        profile: Profile,
        started: float,
        identity: _RunIdentity,
        **fields: Any,
    ) -> RunRecord:
        """A record of this session for ``case`` run as ``profile``; ``fields`` add the
        outcome (status, metrics, verdict...)."""
        fields.setdefault("notes", tuple(profile.notes))
        fields.setdefault("repeat", case.repeat)
        fields.setdefault("finished_at", time.time())
        # No allowed variable's value reaches a record: the profile is stored as written
        # (${VAR}), and fio's echo of it (job options, errors, notes) scrubbed.
        for name in ("raw", "error", "notes"):
            if name in fields:
                fields[name] = scrubbed(fields[name], profile.variables)
        return RunRecord(
            run_id=identity.run_id or uuid.uuid4().hex,
            session_id=self.session_id,
            profile_name=case.profile.name,
            profile_hash=profile.content_hash,
            profile_text=profile.stored_text(),
            workers=case.workers,
            backend=self.backend.name,
            target=case.target,
            started_at=started,
            labels={**self.labels, **identity.labels},
            fingerprint=self.fingerprint_of(case),
            test_id=identity.test_id,
            history_key=self.key_of(case, profile),
            **fields,
        )

    def _record_failure(
        self, case: Case, profile: Profile, started: float, error: str, identity: _RunIdentity
    ) -> None:
        if self.store is not None:
            self.store.record(
                self._record_of(
                    case,
                    profile,
                    started,
                    identity,
                    status="failed",
                    verdict=Status.ERROR.value,
                    error=error,
                    evidence=error_verdict(error).evidence(),
                )
            )

    def key_of(self, case: Case, profile: Profile) -> str:
        """The history key of a case run with ``profile`` (the profile as run)."""
        return history_key(
            test=case.test,
            profile_hash=profile.content_hash,
            workers=case.workers,
            backend=self.backend.name,
            target=case.target,
            fingerprint=self.fingerprint_of(case),
        )

    def fingerprint_of(self, case: Case) -> dict[str, Any]:
        """The environment facts of a case's runs: a case under a fault carries the
        fault's canonical spec, so it never shares history with the undisturbed case."""
        facts = self.fingerprint()
        if not case.faults:
            return facts
        return {**facts, "faults": [fault.canonical() for fault in case.faults]}

    def _judge_timeline(
        self, result: RunResult, workers: Sequence[Worker], faults: CaseFaults | None
    ) -> JudgedTimeline:
        """The run's timeline judged (verdicts/validity.py): its metrics join the result's,
        and with window skew the merged figures are the common window's. Under a fault,
        its phases (verdicts/phases.py) give their metrics too, and what the fault
        disturbed on purpose is expected, not unstable."""
        stored_faults = faults.stored() if faults is not None else []
        timeline = timeline_of(result.raw)
        if timeline is None:
            return JudgedTimeline(
                result, evidence={"faults": stored_faults} if stored_faults else {}
            )
        analysis = None
        injected = [event for event in stored_faults if event.get("injected_s") is not None]
        if injected:
            analysis = analyse(timeline, injected[0], measured=measured_span(timeline))
        expected = [analysis.disturbed_s] if analysis is not None else []
        judgement = judge(
            timeline,
            [worker.iops for worker in result.workers],
            stall_factor=self.stall_factor,
            worker_names={worker.address.name: worker.name for worker in workers},
            expected=expected,
        )
        metrics = dict(result.metrics)
        metrics.update(judgement.metrics)
        notes = judgement.notes()
        evidence: dict[str, Any] = {"timeline": judgement.evidence()}
        if stored_faults:
            evidence["faults"] = stored_faults
            notes += [
                f"fault {event['describe']}: " + "; ".join(event["said"]) for event in stored_faults
            ]
            notes += [
                f"fault {event['describe']}: {event['error']}"
                for event in stored_faults
                if event["error"]
            ]
        if analysis is not None:
            metrics.update(analysis.metrics())
            phases = analysis.evidence(timeline)
            evidence["phases"] = phases
            notes.append("phases " + phase_line(phases))
        if judgement.common_window is not None:
            metrics.update(window_metrics(timeline, judgement.common_window))
            notes.append(
                "timeline: merged figures are over the workers' common window only"
                f" (intervals {judgement.common_window[0]}-{judgement.common_window[1]})"
            )
        if timeline.notes:
            notes += [f"timeline: {note}" for note in timeline.notes]
        return JudgedTimeline(
            replace(result, metrics=metrics),
            tuple(notes),
            tuple(judgement.unstable_reasons),
            evidence,
        )

    # -- faults ------------------------------------------------------------------------
    def _case_faults(
        self, case: Case, env: Environment, workers: Sequence[Worker], profile: Profile
    ) -> CaseFaults | None:
        """The case's faults made for this run (None without faults)."""
        if not case.faults:
            return None
        context = FaultContext(
            backend=self.backend,
            env=env,
            target=case.target,
            workers=workers,
            load_profile=self.load_profile,
            fio_binary=getattr(self.backend, "fio_binary", "fio"),
        )
        return CaseFaults(
            case.faults, context, self.fault_lookup, profile.ramp_time_s, self.lock_dir
        )

    def _after_faults(self, case: Case, faults: CaseFaults | None) -> None:
        """Keep what could not be undone (the target's later cases are errors until it
        clears); a fault that could not be injected makes the run an error."""
        if faults is None:
            return
        for fault, event in faults.schedule.uncleared():
            self._uncleared.setdefault(case.target, []).append((fault, event))
        failed = faults.failed_injection()
        if failed:
            raise FaultError(f"the case's fault did not happen: {failed}")

    def _check_cleared(self, target: str) -> None:
        """A target a fault may still act on measures nothing until the fault is gone."""
        pending = []
        for fault, event in self._uncleared.get(target, []):
            if not fault.cleared():
                pending.append((fault, event))
        self._uncleared[target] = pending
        if pending:
            said = "; ".join(f"{event.spec.describe()} ({event.error})" for _f, event in pending)
            raise FaultError(
                f"target {target!r} may still be under a fault whose undo failed: {said};"
                " its cases are errors until it is cleared"
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
