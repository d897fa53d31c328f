"""Planning: settings + the thresholds file + a selection -> cases, limits, gating policy.

One pytest-free module, so the plugin, the CLI and the results server's executor turn a
request into the same cases, check the same thresholds and gate the same way: a server
job is judged exactly like ``pytest -m benchmark``.

* ``Planner.cases(CaseRequest)``: a test's (or a job's) profiles x workers x targets x
  repeats, each case carrying its test identity and its overrides;
* ``Planner.rules_for(case, inline)``: its thresholds, regression tolerances and
  distribution gate table;
* ``Planner.gating_policy(store)``: options plus the thresholds file's [gating] table;
* ``Planner.session(...)``: the BenchmarkSession those settings describe.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends.base import Backend, Environment
from .backends.facts import host_facts
from .backends.sandbox import UNCONFINED, Sandbox
from .cases import Case, CaseRules, normalized_overrides
from .exceptions import ConfigError, FioLoadgenError, StoreError
from .faults.registry import Lookup, lookup
from .faults.registry import parse as parse_fault
from .faults.spec import FaultSpec
from .fio.timeseries import log_interval_ms
from .profiles import (
    OVERRIDABLE_OPTIONS,
    Allowance,
    Profile,
    discover_profiles,
    load_profile,
    select_profiles,
    shipped_profiles_dir,
    validate,
)
from .profiles.caps import DEFAULT_CAPS, Caps, check_caps, parse_caps
from .profiles.lint import LintContext, blocking, lint
from .profiles.model import allowed_variables
from .session import BenchmarkSession
from .settings import OPTIONS_BY_NAME, Settings
from .sla import DEFAULT_PROBES
from .store import Store, default_store_uri, open_store
from .vcs import git_labels
from .verdicts.distribution import DistributionPolicy
from .verdicts.gating import GatingPolicy
from .verdicts.regression import DEFAULT_ALPHA, DEFAULT_GATED_METRICS, DEFAULT_MIN_BASELINE
from .verdicts.thresholds import Thresholds, validate_level
from .verdicts.validity import DEFAULT_STALL_FACTOR

#: Keyword arguments of the fio marker that are not profile overrides.
MARKER_KEYS = (
    "profile",
    "workers",
    "targets",
    "thresholds",
    "sweep",
    "max_iops_under",
    "fault",
    "faults",
)
#: The most ``fio --parse-only`` checks run at once (each a confined fio process).
MAX_PARALLEL_CHECKS = 4
#: A run must go on this long after its last fault ends (its recovery is measured there),
#: and at least this many intervals of its timeline.
FAULT_ROOM_S = 1.0
FAULT_ROOM_INTERVALS = 3


def load_thresholds(settings: Settings) -> Thresholds:
    """--fio-thresholds, else benchmarks/thresholds.toml in the rootdir when present."""
    if settings.thresholds is not None:
        display = str(settings.thresholds)
        if settings.source_of("thresholds") != "default":
            display = f"{settings.thresholds} (from {settings.source_of('thresholds')})"
        return Thresholds.load(settings.thresholds, display=display)
    default = settings.rootdir / "benchmarks" / "thresholds.toml"
    if default.is_file():
        return Thresholds.load(default, display=str(default.relative_to(settings.rootdir)))
    return Thresholds.empty()


def caps_of(settings: Settings, thresholds: Thresholds) -> Caps:
    """The resource caps in force: the defaults, the thresholds file's [caps] table over
    them, --fio-caps (ini, env) over that, key by key."""
    caps = DEFAULT_CAPS
    if thresholds.caps:
        where = f"thresholds file {thresholds.source} [caps]"
        caps = caps.with_values(parse_caps(thresholds.caps, where), where)
    return caps.with_values(settings.caps, settings.source_of("caps"))


def named_setting(settings: Settings, setting: str | None, err: Exception) -> str:
    """``--fio-x (from FIO_X): message``: the option and where its value came from."""
    if setting is None or setting not in OPTIONS_BY_NAME:
        return f"fioloadgen: {err}"
    option = OPTIONS_BY_NAME[setting]
    source = settings.source_of(option.field)
    if source == option.cli:
        return f"{option.cli}: {err}"
    origin = "default" if source == "default" else f"from {source}"
    return f"{option.cli} ({origin}): {err}"


@dataclass(frozen=True)
class CaseRequest:
    """What one test or job asks for (the fio marker's arguments, or a job's fields).

    ``profile``: names, globs, ``.fio`` paths (relative to ``base_dir``) or Profile
    objects; None: the session's selection. ``workers``/``targets``: None for the
    session's. ``overrides``: profile options every case sets. ``where`` names the request
    in errors ("marker fio on test_x", "job 1a2b").
    """

    test: str
    where: str
    profile: Any = None
    workers: Any = None
    targets: Any = None
    thresholds: Mapping[str, Any] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path | None = None
    #: Sweep axes of this request (option -> values), over the session's --fio-sweep.
    sweep: Mapping[str, Any] | None = None
    #: False for one ad-hoc run (fio_run("profile")): the session's sweep is for the matrix.
    session_sweep: bool = True
    #: Faults of this request (a spec string, a FaultSpec, or a list); None: the session's
    #: --fio-fault (a marker's faults replace the session's, they do not add to them).
    faults: Any = None


#: What the marker's max_iops_under may say, and the type each value must have.
_SLA_KEYS: dict[str, tuple[type, ...]] = {
    "p99_ms": (int, float),
    "direction": (str,),
    "probes": (int,),
}


def sla_request(where: str, value: Any) -> dict[str, Any] | None:
    """The marker's ``max_iops_under`` checked: a mapping with a positive ``p99_ms``, and
    optionally ``direction`` (read or write) and ``probes`` (2 or more)."""
    if value is None:
        return None
    where = f"{where}: max_iops_under"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}={value!r} must be a dict such as {{'p99_ms': 2}}")
    for key, item in value.items():
        if key not in _SLA_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(_SLA_KEYS)})")
        if isinstance(item, bool) or not isinstance(item, _SLA_KEYS[key]):
            raise ConfigError(f"{where}: {key}={item!r} has the wrong type")
    p99 = value.get("p99_ms")
    if p99 is None or p99 <= 0:
        raise ConfigError(f"{where}: p99_ms must be a positive number of milliseconds")
    if value.get("direction", "read") not in ("read", "write"):
        raise ConfigError(f"{where}: direction must be read or write")
    if value.get("probes", DEFAULT_PROBES) < 2:
        raise ConfigError(f"{where}: probes must be at least 2")
    return dict(value)


def marker_request(test: str, where: str, kwargs: Mapping[str, Any], base_dir: Path) -> CaseRequest:
    """The request of a test's ``fio`` marker (every other keyword is an override)."""
    overrides = {key: value for key, value in kwargs.items() if key not in MARKER_KEYS}
    sla_request(where, kwargs.get("max_iops_under"))  # refused at collection, not at run
    return CaseRequest(
        test=test,
        where=where,
        profile=kwargs.get("profile"),
        workers=kwargs.get("workers"),
        targets=kwargs.get("targets"),
        thresholds=kwargs.get("thresholds"),
        overrides=overrides,
        base_dir=base_dir,
        sweep=kwargs.get("sweep"),
        faults=kwargs.get("faults", kwargs.get("fault")),
    )


class Planner:
    """Turns requests into cases under one session's settings."""

    def __init__(
        self,
        settings: Settings,
        thresholds: Thresholds,
        *,
        targets: Sequence[str],
        allowance: Allowance | None = None,
        sandbox: Sandbox | Callable[[], Sandbox] = UNCONFINED,
        fault_lookup: Lookup | None = None,
    ) -> None:
        self.settings = settings
        #: Finds a fault type by name: the built-in ones and a conftest's (plugin hook).
        self.fault_lookup = fault_lookup or lookup()
        self.thresholds = thresholds
        self.targets = list(targets)
        #: Only the user's own settings (ini, env, command line) can allow more engines.
        self.allowance = allowance or Allowance(engines=settings.allow_engines)
        self._sandbox = sandbox
        #: What one profile may take of the machine (--fio-caps, [caps]).
        self.caps = caps_of(settings, thresholds)
        #: The variables profiles may name as ${VAR} (--fio-env), read once.
        self.variables = allowed_variables(settings.env_vars, os.environ)
        self._validated: dict[str, Profile] = {}
        self._thresholds_checked = False
        #: The largest worker count any planned case needs (the deploy size).
        self.max_workers = settings.max_workers

    @property
    def sandbox(self) -> Sandbox:
        """Where fio --parse-only runs (the sandbox the backend's fio processes run in),
        chosen when first needed: a pytest run without fio tests never probes bwrap."""
        if not isinstance(self._sandbox, Sandbox):
            self._sandbox = self._sandbox()
        return self._sandbox

    @property
    def profiles_dir(self) -> Path:
        return self.settings.profiles_dir or shipped_profiles_dir()

    def validated(self, profile: Profile) -> Profile:
        """The safety policy and fio --parse-only, once per profile content."""
        key = f"{profile.source}:{profile.content_hash}"
        if key not in self._validated:
            self._validated[key] = validate(
                profile,
                fio_binary=self.settings.fio_binary,
                allowance=self.allowance,
                sandbox=self.sandbox,
            )
        return self._validated[key]

    def profiles_for(self, spec: Any, base_dir: Path | None = None) -> list[Profile]:
        """Profiles by name, glob, ``.fio`` path or object; None: the session's selection."""
        if spec is None:
            chosen = select_profiles(self.profiles_dir, self.settings.profiles, env=self.variables)
        else:
            items = [spec] if isinstance(spec, str | Path | Profile) else list(spec)
            chosen = []
            for item in items:
                if isinstance(item, Profile):
                    chosen.append(item)
                elif str(item).endswith(".fio"):
                    path = Path(item)
                    if not path.is_absolute() and base_dir is not None:
                        path = base_dir / path
                    chosen.append(load_profile(path, env=self.variables))
                else:
                    chosen += select_profiles(self.profiles_dir, str(item), env=self.variables)
        if not self._thresholds_checked:
            known = set(discover_profiles(self.profiles_dir)) | {p.name for p in chosen}
            self.thresholds.check_profiles(known)
            self._thresholds_checked = True
        self._validate_together(chosen)
        return [self.validated(profile) for profile in chosen]

    def _validate_together(self, profiles: Sequence[Profile]) -> None:
        """Check the profiles not checked yet concurrently: ``fio --parse-only`` takes
        about half a second of fio start-up per profile, most of it waiting. A failure is
        not kept: validated() raises it again, for the first failing profile in order."""
        pending = {
            f"{p.source}:{p.content_hash}": p
            for p in profiles
            if f"{p.source}:{p.content_hash}" not in self._validated
        }
        if len(pending) < 2:
            return
        sandbox = self.sandbox  # chosen once, here, not in every thread

        def check(profile: Profile) -> Profile | None:
            try:
                return validate(
                    profile,
                    fio_binary=self.settings.fio_binary,
                    allowance=self.allowance,
                    sandbox=sandbox,
                )
            except FioLoadgenError:
                return None

        with ThreadPoolExecutor(max_workers=min(len(pending), MAX_PARALLEL_CHECKS)) as pool:
            checked = list(pool.map(check, pending.values()))
        for key, profile in zip(pending, checked, strict=True):
            if profile is not None:
                self._validated[key] = profile

    def one_profile(self, spec: Any, base_dir: Path | None = None) -> Profile:
        matches = self.profiles_for(spec, base_dir)
        if len(matches) != 1:
            raise ConfigError(f"profile {spec!r} matches {len(matches)} profiles, needs one")
        return matches[0]

    def _workers(self, request: CaseRequest) -> list[int]:
        spec = request.workers
        if spec is None:
            return list(self.settings.workers)
        counts = [spec] if isinstance(spec, int) else list(spec)
        if not counts or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in counts
        ):
            raise ConfigError(f"{request.where}: workers={spec!r} must be positive integers")
        return counts

    def _targets(self, request: CaseRequest) -> list[str]:
        if request.targets is None:
            return list(self.targets)
        wanted = [request.targets] if isinstance(request.targets, str) else list(request.targets)
        unknown = [name for name in wanted if name not in self.targets]
        if unknown:
            raise ConfigError(
                f"{request.where}: target {unknown[0]!r} is not configured (targets:"
                f" {', '.join(self.targets)})"
            )
        return wanted

    def _overrides(self, request: CaseRequest) -> tuple[tuple[str, str], ...]:
        unknown = sorted(set(request.overrides) - set(OVERRIDABLE_OPTIONS))
        if unknown:
            raise ConfigError(
                f"{request.where}: cannot override {', '.join(unknown)} (overridable:"
                f" {', '.join(OVERRIDABLE_OPTIONS)})"
            )
        return normalized_overrides(request.overrides)

    def _sweep(self, request: CaseRequest) -> dict[str, list[str]]:
        """The sweep axes of a request (option -> values): the session's --fio-sweep axes
        and the marker's ``sweep={"iodepth": [1, 8]}`` (a marker axis replaces the
        session's axis of the same option). Empty without a sweep."""
        axes = (
            {option: list(values) for option, values in self.settings.sweep}
            if request.session_sweep
            else {}
        )
        if request.sweep is not None:
            if not isinstance(request.sweep, Mapping):
                raise ConfigError(
                    f"{request.where}: sweep={request.sweep!r} must map options to value lists"
                )
            for option, values in request.sweep.items():
                listed = [values] if isinstance(values, str | int) else list(values)
                if option not in OVERRIDABLE_OPTIONS:
                    raise ConfigError(
                        f"{request.where}: cannot sweep {option!r} (sweepable:"
                        f" {', '.join(OVERRIDABLE_OPTIONS)})"
                    )
                if not listed or not all(isinstance(v, str | int) for v in listed):
                    raise ConfigError(
                        f"{request.where}: sweep {option}={values!r} needs a list of values"
                    )
                axes[option] = [str(value).strip() for value in listed]
        return axes

    def faults(self, request: CaseRequest) -> tuple[FaultSpec, ...]:
        """The request's faults, or the session's --fio-fault when it gives none; each
        checked against its fault's keys (one line naming it and where it came from)."""
        if request.faults is None:
            where = named_setting(self.settings, "fault", Exception("")).rstrip(": ")
            return self.faults_from(self.settings.faults, where)
        return self.faults_from(request.faults, f"{request.where}: fault")

    def faults_from(self, faults: Any, where: str) -> tuple[FaultSpec, ...]:
        """Specs from a spec string, a FaultSpec, or a list of them."""
        given = [faults] if isinstance(faults, str | FaultSpec) else list(faults)
        specs = []
        for item in given:
            if isinstance(item, FaultSpec):
                specs.append(item)
            elif isinstance(item, str):
                specs.append(parse_fault(item, where, self.fault_lookup))
            else:
                raise ConfigError(f"{where}: {item!r} is not a fault (a spec or a string)")
        return tuple(specs)

    def check_fault_room(self, case: Case, where: str) -> None:
        """A fault must end early enough that the run measures after it (its recovery)."""
        if not case.faults:
            return
        profile = case.profile.with_overrides(
            runtime=self.settings.runtime, size=self.settings.size
        )
        if case.overrides:
            profile = profile.with_overrides(**dict(case.overrides))
        total = profile.expected_runtime_s
        if not total:
            return  # a size-bound run: nothing known to check against
        measured = total - profile.ramp_time_s
        room = max(FAULT_ROOM_S, FAULT_ROOM_INTERVALS * log_interval_ms(total) / 1000.0)
        for fault in case.faults:
            if fault.ends_s + room > measured:
                raise ConfigError(
                    f"{where}: case {case.id}: fault {fault.describe()} ends {fault.ends_s:g} s"
                    f" into a measurement of {measured:g} s: leave at least {room:g} s after"
                    " it to measure the recovery (a longer runtime, or an earlier or shorter"
                    " fault)"
                )

    def cases(self, request: CaseRequest) -> list[Case]:
        """Profiles x sweep points x workers x targets, repeats outermost (A B C A B C:
        drift over time does not pile onto one case)."""
        profiles = self.profiles_for(request.profile, request.base_dir)
        workers = self._workers(request)
        targets = self._targets(request)
        overrides = self._overrides(request)
        axes = self._sweep(request)
        points: list[dict[str, str]] = [{}]
        for option, values in axes.items():
            points = [{**point, option: value} for point in points for value in values]
        swept = tuple(axes)
        sweep = tuple((option, tuple(values)) for option, values in axes.items())
        faults = self.faults(request)
        if request.thresholds is not None:
            validate_level(request.thresholds, f"{request.where} thresholds")
        self.max_workers = max(self.max_workers, *workers)
        repeats = self.settings.repeat
        cases = [
            Case(
                profile,
                count,
                target,
                repeat,
                repeats,
                request.test,
                normalized_overrides({**dict(overrides), **point}),
                swept,
                faults,
                sweep,
            )
            for repeat in range(repeats)
            for profile in profiles
            for point in points
            for count in workers
            for target in targets
        ]
        for case in cases:
            if case.repeat == 0:
                self.check_caps(case, request.where)
                self.check_lint(case, request.where)
                self.check_fault_room(case, request.where)
        return cases

    def check_caps(self, case: Case, where: str) -> None:
        """A case beyond a resource cap (--fio-caps) stops at collection, in one line."""
        try:
            check_caps(self.as_run(case), self.caps)
        except FioLoadgenError as err:
            raise ConfigError(f"{where}: case {case.id}: {err}") from err

    def as_run(self, case: Case) -> Profile:
        """The case's profile with the session's and the case's overrides, as it runs."""
        profile = case.profile.with_overrides(
            runtime=self.settings.runtime, size=self.settings.size
        )
        if case.overrides:
            profile = profile.with_overrides(**dict(case.overrides))
        return profile

    def lint_context(self, workers: int) -> LintContext:
        """What lint knows before anything is deployed: the page cache that serves a local
        run is this machine's memory; elsewhere it is unknown until the fingerprint."""
        memory = host_facts()["memory_bytes"] if self.settings.backend == "local" else None
        return LintContext(workers=workers, memory_bytes=memory, prefill=self.settings.prefill)

    def check_lint(self, case: Case, where: str) -> None:
        """Lint errors (and warnings under fio_lint_strict) stop a case at collection, with
        the finding's code and one line; the rest become notes of each run."""
        profile = self.as_run(case)
        stopping = blocking(
            lint(profile, self.lint_context(case.workers)), strict=self.settings.lint_strict
        )
        if stopping:
            strict = " (fio_lint_strict)" if self.settings.lint_strict else ""
            more = [finding.code for finding in stopping[1:]]
            rest = f" (+{len(more)} more: {', '.join(more)})" if more else ""
            raise ConfigError(
                f"{where}: profile '{case.profile.label}' case {case.id}{strict}:"
                f" {stopping[0].line()}{rest}"
            )

    def rules_for(self, case: Case, inline: Mapping[str, Any] | None = None) -> CaseRules:
        """The case's limits, regression tolerances and distribution gate table (inline
        thresholds win)."""
        name = case.profile.name
        return CaseRules(
            tuple(self.thresholds.limits_for(name, case.workers, inline)),
            self.thresholds.tolerances_for(name, case.workers, inline),
            self.thresholds.distribution_for(name, case.workers, inline),
        )

    def gating_policy(self, store: Store | None) -> GatingPolicy:
        """Options and the thresholds file's [gating] table; a named baseline must exist."""
        settings = self.settings
        table = self.thresholds.gating
        baseline = settings.baseline if store is not None else "none"
        if baseline not in ("auto", "none"):
            assert store is not None
            try:
                store.get_baseline(baseline)
            except StoreError as err:
                raise ConfigError(named_setting(settings, "baseline", err)) from err
        return GatingPolicy(
            baseline=baseline,
            window=settings.baseline_window,
            baseline_labels=dict(settings.baseline_labels),
            confirm=settings.confirm_runs,
            alpha=float(table.get("alpha", DEFAULT_ALPHA)),
            min_baseline=int(table.get("min_baseline", DEFAULT_MIN_BASELINE)),
            metrics=tuple(table.get("metrics", DEFAULT_GATED_METRICS)),
            max_cv=settings.max_cv if settings.max_cv is not None else table.get("max_cv"),
            until_stable=settings.until_stable,
            remeasure_skew=settings.remeasure_skew,
            distribution=DistributionPolicy(enabled=settings.distribution_gate),
        )

    def open_store(self) -> Store | None:
        """The history store --fio-store names (None for ``none``)."""
        uri = self.settings.store or default_store_uri(self.settings.rootdir)
        return None if uri == "none" else open_store(uri, rootdir=self.settings.rootdir)

    def session(
        self,
        *,
        backend: Backend,
        store: Store | None,
        session_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        fingerprint_extra: Callable[[Environment], Mapping[str, Any]] | None = None,
    ) -> BenchmarkSession:
        """The BenchmarkSession of these settings (gating, prefill, read ceiling...)."""
        settings = self.settings
        return BenchmarkSession(
            backend=backend,
            targets=list(self.targets),
            max_workers=self.max_workers,
            store=store,
            thresholds=self.thresholds,
            labels=(
                {**git_labels(settings.rootdir), **settings.labels} if labels is None else labels
            ),
            runtime=settings.runtime,
            size=settings.size,
            gating=self.gating_policy(store),
            prefill=settings.prefill,
            read_ceiling=settings.read_ceiling,
            read_probe=settings.read_probe,
            timeline=settings.timeline,
            fault_lookup=self.fault_lookup,
            load_profile=self.one_profile,
            stall_factor=float(self.thresholds.gating.get("stall_factor", DEFAULT_STALL_FACTOR)),
            session_id=session_id or uuid.uuid4().hex,
            fingerprint_extra=fingerprint_extra,
            allowance=self.allowance,
            caps=self.caps,
            lint_context=self.lint_context(1),
            lock_dir=settings.rootdir / ".fioloadgen" / "locks",
        )
