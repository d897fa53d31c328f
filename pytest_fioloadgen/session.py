"""A benchmark session: one environment, many cases, every run recorded.

This is the domain half of the plugin (no pytest here), so the CLI and the results
server's executor can run cases exactly as the plugin does.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from .backends.base import Backend, Environment, KnowsFreeSpace, SharesResources, Worker
from .baselines import BaselineSource
from .cases import Case, CaseOutcome, CaseRules
from .exceptions import FioLoadgenError, FioRunError, StoreError
from .faults.base import FaultContext
from .faults.case import CaseFaults, UnclearedFaults
from .faults.registry import Lookup, lookup
from .fio.results import RunResult
from .fio.runner import UNKNOWN_RUNTIME_S, ProgressCallback
from .fio.spectrum import run_spectrum
from .fio.steadystate import steady_state
from .identity import history_key
from .layout import DataLayout, LayoutRoom
from .profiles import (
    NO_ALLOWANCE,
    Allowance,
    Profile,
    check_safety,
)
from .profiles.caps import DEFAULT_CAPS, Caps, check_caps, check_disk
from .profiles.lint import LintContext, lint, rate_cap_finding
from .profiles.model import scrubbed
from .read_ceiling import READ_PROBE_RUNTIME_S, ReadCeilings
from .scaling import with_scaling
from .store.base import RunRecord, Store
from .verdicts.distribution import DistributionComparison, compare_spectrum
from .verdicts.gating import GatingPolicy, Verdict, decide, error_verdict, large_change
from .verdicts.regression import FAULT_GATED_METRICS, Comparison, compare
from .verdicts.status import Status
from .verdicts.thresholds import Limit, Thresholds, evaluate
from .verdicts.timeline_judgement import judge_run_timeline
from .verdicts.validity import DEFAULT_STALL_FACTOR
from .verdicts.variation import Variation, variations


@dataclass(frozen=True)
class _RunIdentity:
    """What a run is recorded as: its test id, run id (empty: a new one) and labels."""

    test_id: str
    run_id: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class _Placed:
    """A run as it will happen: the profile placed on its workers, notes included."""

    profile: Profile
    env: Environment
    workers: tuple[Worker, ...]


@dataclass(frozen=True)
class _Measured:
    """What fio measured, when, and the case's faults as they happened."""

    result: RunResult
    started: float
    finished: float
    faults: CaseFaults | None


@dataclass(frozen=True)
class _Judged:
    """The run's result with everything its judgement added, and its one verdict."""

    result: RunResult
    verdict: Verdict
    notes: tuple[str, ...]
    evidence: dict[str, Any]
    spectrum: dict[str, dict[str, float | None]]
    cache_note: str
    skew_only: bool


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
    _ceilings: ReadCeilings = field(init=False)
    _baselines: BaselineSource = field(init=False)
    layout: DataLayout = field(init=False)
    #: Finds a fault by name (built-in or a conftest's, faults/registry.py).
    fault_lookup: Lookup = field(default_factory=lookup)
    #: Loads a profile by name for faults that run one (noisy-neighbor).
    load_profile: Callable[[str], Profile] | None = None
    #: Faults whose undo failed: their targets' cases are errors until they clear.
    _uncleared: UnclearedFaults = field(default_factory=UnclearedFaults)
    _locks: dict[str, FileLock] = field(default_factory=dict)
    #: The cases this session will run, when known (the plugin's collected tests): the
    #: first layout round on a target lays out the files of all their reads at once.
    planned: Sequence[Case] = ()

    def __post_init__(self) -> None:
        self._ceilings = ReadCeilings(configured=self.read_ceiling, probe=self.read_probe)
        self._baselines = BaselineSource(self.store, self.gating, self.session_id)
        self.layout = DataLayout(self.backend, prefill=self.prefill)

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
        remeasures = 0
        while True:
            # decide() only says suspect while a confirmation run may follow.
            while outcome.status is Status.SUSPECT:
                confirmations += 1
                again = replace(identity, run_id=f"{first}-c{confirmations}" if run_id else "")
                outcome = self._run_once(case, rules, again, on_progress, confirmations)
            # Workers that started apart measured different windows: that run says
            # nothing of the storage (a straggler or a stall does, and is kept), so it is
            # recorded as unstable and measured again.
            if outcome.skew_only and remeasures < self.gating.remeasure_skew:
                remeasures += 1
                case = replace(case, repeat=case.repeat + 1)
                again = replace(identity, run_id=f"{first}-m{remeasures}" if run_id else "")
                outcome = self._run_once(case, rules, again, on_progress, 0, remeasure=remeasures)
                continue
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
        remeasure: int = 0,
    ) -> CaseOutcome:
        """One run of ``case``: placed on its workers, measured, judged once, recorded."""
        events = []
        if confirmation:
            events.append(f"confirmation run {confirmation}")
        if stability_rerun:
            events.append(
                f"stability re-run {stability_rerun} of up to {self.gating.until_stable}"
                " (--fio-until-stable)"
            )
        if remeasure:
            events.append(
                f"measured again ({remeasure} of up to {self.gating.remeasure_skew},"
                " --fio-remeasure-skew): the workers of the run before did not measure one"
                " window together"
            )
        placed = self._place(case, events)
        measured = self._measure(case, placed, identity, on_progress)
        judged = self._judge(case, rules, placed, measured, confirmation)
        record = self._record_of(
            case,
            placed.profile,
            measured.started,
            identity,
            status="complete",
            finished_at=measured.finished,
            metrics=dict(judged.result.metrics),
            raw=dict(judged.result.raw),
            notes=judged.notes,
            repeat=case.repeat + confirmation,
            verdict=judged.verdict.status.value,
            evidence=judged.evidence,
            spectrum=judged.spectrum,
        )
        if self.store is not None:
            self.store.record(record)
        outcome = CaseOutcome(
            case,
            judged.result,
            judged.verdict,
            record,
            placed.profile,
            confirmation,
            judged.cache_note,
            judged.skew_only and judged.verdict.status is Status.UNSTABLE,
        )
        self.outcomes.append(outcome)
        return outcome

    def _place(self, case: Case, events: Sequence[str]) -> _Placed:
        """The case's profile as it will run (overrides, caps and safety checked again),
        placed on its workers, with the run's notes (events, lint)."""
        profile = self.prepare(case)
        env = self.environment()
        workers = self.backend.resolve(env, case.target, case.workers)
        profile = self._placed(profile, workers[0])
        self.check_space(env, case, profile)
        notes = [*self.run_notes, *env.target_notes.get(case.target, []), *env.take_events()]
        notes += self.lint_notes(case, profile)
        notes += events
        if notes:
            profile = replace(profile, notes=(*profile.notes, *notes))
        return _Placed(profile, env, tuple(workers))

    def _measure(
        self,
        case: Case,
        placed: _Placed,
        identity: _RunIdentity,
        on_progress: ProgressCallback | None,
    ) -> _Measured:
        """Run fio for the case (its data laid out, the read ceiling probed and its faults
        injected first); a failed run is recorded as failed and raised."""
        profile, env, workers = placed.profile, placed.env, placed.workers
        # One measurement at a time per device (or backend target), across processes:
        # pytest-xdist workers would otherwise perturb each other's figures.
        with self.measurement_lock(env, case.target):
            started = time.time()
            try:
                self._uncleared.check(case.target)
                self.layout.ensure(
                    env,
                    case,
                    profile,
                    workers,
                    upcoming=lambda: self._planned_profiles(case.target, workers[0]),
                    room=lambda: self._layout_room(env, case.target),
                )
                self._ceilings.probe_before(
                    case.target,
                    case.workers,
                    profile,
                    lambda probe: self.backend.run_job(
                        env,
                        self._placed(probe, workers[0]).render(),
                        workers,
                        expected_runtime_s=READ_PROBE_RUNTIME_S,
                    ),
                )
                faults = self._case_faults(case, env, workers, profile)
                with faults or contextlib.nullcontext() as schedule:
                    result = self.backend.run_job(
                        env,
                        profile.render(),
                        workers,
                        expected_runtime_s=self.hang_timeout_base_s(profile),
                        on_progress=on_progress,
                        timeline=self.timeline,
                        on_start=schedule.start if schedule is not None else None,
                        lost_ok=schedule.lost_workers if schedule is not None else frozenset(),
                    )
                self._uncleared.settle(case.target, faults)
            except FioLoadgenError as err:
                self._fail(case, profile, started, identity, err)
                raise
            return _Measured(result, started, time.time(), faults)

    def _fail(
        self,
        case: Case,
        profile: Profile,
        started: float,
        identity: _RunIdentity,
        err: FioLoadgenError,
    ) -> None:
        """Record a failed run; ``err`` is scrubbed of allowed variables' values (fio's
        message may echo one: it goes into the record, the test report and CI logs as
        ${VAR})."""
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

    def _judge(
        self,
        case: Case,
        rules: CaseRules,
        placed: _Placed,
        measured: _Measured,
        confirmation: int,
    ) -> _Judged:
        """The run's one verdict: its timeline, limits, history (per metric and the
        latency distribution, on a case's last repeat), repeat spread and steadiness."""
        profile, faults = placed.profile, measured.faults
        result = with_scaling(case, profile, measured.result, self.outcomes)
        timeline = judge_run_timeline(
            result,
            {worker.address.name: worker.name for worker in placed.workers},
            faults.stored() if faults is not None else [],
            self.stall_factor,
        )
        result = timeline.result
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
        capped = rate_cap_finding(profile, [worker.iops for worker in result.workers])
        settled = steady_state(result.raw)
        notes = (
            *profile.notes,
            *([suspicion.flag] if suspicion.flag else []),
            *([suspicion.host_note] if suspicion.host_note else []),
            *timeline.notes,
            *([f"lint {capped.line()}"] if capped else []),
            *([settled.note()] if settled else []),
        )
        unsettled = [settled.note()] if settled and not settled.attained else []
        left = self.gating.confirm - confirmation
        if confirmation == 0 and left <= 0 and any(large_change(c) for c in comparisons):
            left = 1  # a change far beyond its tolerance is always run once more
        # Decided here, once: every view renders what is stored with the run.
        verdict = decide(
            evaluate(result, rules.limits),
            comparisons,
            confirmations_left=left,
            unstable=[*unsettled, *timeline.unstable],
            variations=self.variation(key, result, window=case.repeats) if final_repeat else (),
            distribution=shapes,
        )
        evidence = {**verdict.evidence(), **timeline.evidence}
        skew_only = timeline.skew_only and not unsettled
        return _Judged(result, verdict, notes, evidence, spectrum, suspicion.flag, skew_only)

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

    def _planned_profiles(self, target: str, worker: Worker) -> list[Profile]:
        """The planned cases on ``target`` as they will run there (one per profile and
        overrides); a case whose profile fails its checks is left to fail when it runs."""
        profiles: list[Profile] = []
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for case in self.planned:
            identity = (case.profile.content_hash, tuple(case.overrides))
            if case.target != target or identity in seen:
                continue
            seen.add(identity)
            try:
                profiles.append(self._placed(self.prepare(case), worker))
            except FioLoadgenError:
                continue
        return profiles

    def _layout_room(self, env: Environment, target: str) -> LayoutRoom | None:
        """Bytes the target's file system can take beyond its disk margin (None where
        the backend does not know its free space)."""
        if not isinstance(self.backend, KnowsFreeSpace):
            return None
        space = self.backend.free_space(env, target)
        if space is None:
            return None
        margin = self.caps.disk_margin.of(space.total) if self.caps.disk_margin else 0
        return LayoutRoom(max(0, space.free - margin), env.capacity(target))

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
        mine = sum(1 for o in self.outcomes if o.record.history_key == key)
        return self._baselines.samples(key, mine)

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

    # -- cache sanity ----------------------------------------------------------------
    def cache_suspects(self) -> list[tuple[CaseOutcome, str]]:
        """This session's buffered reads flagged as likely cache hits (read_ceiling.py)."""
        return self._ceilings.suspects(self.outcomes)

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
            sweep=case.sweep_record(),
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
