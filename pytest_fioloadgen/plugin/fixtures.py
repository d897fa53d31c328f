"""The fixtures pytest-fioloadgen offers to tests.

* ``fio_case``: the parametrized case of a test (profile, workers, target).
* ``fio_run``: runs a case, or a profile ad hoc with overrides, and returns the result.
* ``fio_env``: the session's deployed environment (workers per target).
* ``fio_store``: the session's history store (None with ``--fio-store none``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from ..backends.base import Environment
from ..cases import Case, CaseOutcome
from ..exceptions import ConfigError, FioLoadgenError
from ..faults.spec import FaultSpec
from ..fio.results import RunResult
from ..fio.spectrum import spectrum_measures
from ..planning import sla_request
from ..profiles import Profile
from ..session import BenchmarkSession
from ..sla import DEFAULT_PROBES, SlaResult
from ..sla import max_iops_under as search_sla
from ..store.base import Store
from .state import FioLoadgenPlugin, outcomes_key, state_key

RunFunction = Callable[..., RunResult]


def _plugin(config: pytest.Config) -> FioLoadgenPlugin:
    plugin = config.stash.get(state_key, None)
    if plugin is None:
        raise pytest.UsageError("pytest-fioloadgen is not configured in this session")
    return plugin


@pytest.fixture(scope="session")
def fio_session(request: pytest.FixtureRequest) -> BenchmarkSession:
    """The session's BenchmarkSession (store, thresholds, labels); deploys nothing."""
    return _plugin(request.config).benchmark_session()


def _terminate_on_sigterm() -> Callable[[], None]:
    """Turn SIGTERM (CI cancelling a job) into KeyboardInterrupt so teardown still runs."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


@pytest.fixture(scope="session")
def fio_env(fio_session: BenchmarkSession) -> Generator[Environment, None, None]:
    """Deploy the workers once per session (sized for the largest worker count) and tear
    them down at the end, also after failures and Ctrl-C."""
    restore = _terminate_on_sigterm()
    try:
        try:
            env = fio_session.environment()
        except FioLoadgenError as err:
            pytest.fail(f"fio workers could not be deployed: {err}", pytrace=False)
        yield env
    finally:
        try:
            fio_session.close()
        finally:
            restore()


@pytest.fixture(scope="session")
def fio_store(fio_session: BenchmarkSession) -> Store | None:
    """The history store every run is recorded in."""
    return fio_session.store


@pytest.fixture
def fio_case(request: pytest.FixtureRequest) -> Case:
    """The case this test instance runs; tests requesting it are parametrized over the
    profiles x worker counts x targets of the session (or of their ``fio`` marker)."""
    raise pytest.UsageError(
        f"{request.node.nodeid}: fio_case was not parametrized (is pytest-fioloadgen's "
        "pytest_generate_tests overridden?)"
    )


class _Progress:
    """One live line 'case 3.0/10 s' on a terminal; silent with -q or without a TTY."""

    def __init__(self, config: pytest.Config, label: str, expected_s: float):
        self._reporter = config.pluginmanager.getplugin("terminalreporter")
        self._capture = config.pluginmanager.getplugin("capturemanager")
        self._label = label
        self._expected = expected_s
        self._shown = False
        self.enabled = bool(
            self._reporter is not None and self._reporter.isatty and config.get_verbosity() >= 0
        )

    def _write(self, text: str) -> None:
        writer = self._reporter._tw
        if self._capture is not None:
            with self._capture.global_and_fixture_disabled():
                writer.write(text, flush=True)
        else:
            writer.write(text, flush=True)

    def __call__(self, elapsed: float) -> None:
        if not self.enabled:
            return
        expected = f"/{self._expected:.0f}" if self._expected else ""
        self._write(f"\r  fio {self._label}: {elapsed:4.0f}{expected} s ")
        self._shown = True

    def done(self) -> None:
        if self._shown:
            self._write("\r" + " " * (len(self._label) + 24) + "\r")


@pytest.fixture
def fio_run(
    request: pytest.FixtureRequest, fio_session: BenchmarkSession, fio_env: Environment
) -> RunFunction:
    """Run fio and return the result.

    ``fio_run()`` runs this test's case; ``fio_run(case)`` another case;
    ``fio_run("randread-4k", workers=2, bs="64k")`` a profile by name (or a path to a
    ``.fio`` file, or a Profile) with overrides (runtime, size, bs, iodepth, numjobs, rw,
    rwmixread, ioengine, direct): they are part of the case's id and history key.
    Thresholds from the thresholds file and the ``fio`` marker are checked, and the run's
    verdict decided and stored, before the test body goes on; a failing verdict fails the
    test after it.
    """
    plugin = _plugin(request.config)
    marker = request.node.get_closest_marker("fio")
    marker_kwargs = dict(marker.kwargs) if marker else {}
    inline_thresholds = marker_kwargs.get("thresholds")
    marker_sla = sla_request(
        f"marker fio on {request.node.nodeid}", marker_kwargs.get("max_iops_under")
    )

    def run_case(case: Case, *, check_limits: bool = True) -> CaseOutcome:
        rules = plugin.planner.rules_for(case, inline_thresholds)
        if not check_limits:
            rules = replace(rules, limits=())
        progress = _Progress(request.config, case.id, fio_session.prepare(case).expected_runtime_s)
        try:
            outcome = fio_session.run(
                case,
                rules=rules,
                test_id=request.node.nodeid,
                on_progress=progress if progress.enabled else None,
            )
        finally:
            progress.done()
        remember(outcome)
        return outcome

    def remember(outcome: CaseOutcome) -> None:
        recorded = request.node.stash.setdefault(outcomes_key, [])
        recorded.append(outcome)
        _record_properties(request.node, outcome, first=len(recorded) == 1)
        request.config.hook.pytest_fioloadgen_result_recorded(outcome=outcome)

    def run(
        case_or_profile: Case | Profile | str | Path | None = None,
        workers: int | None = None,
        target: str | None = None,
        *,
        faults: Sequence[FaultSpec | str] | FaultSpec | str | None = None,
        **overrides: Any,
    ) -> RunResult:
        if case_or_profile is None and marker_sla is not None:
            # The marker form: this test's case is a latency-SLA search; the answer's run
            # (metric sla_iops) is what the test gets.
            return max_iops_under(None, None, workers, target, **overrides).outcome.result
        case = _case_for(request, plugin, case_or_profile, workers, target, overrides)
        if faults is not None:
            # faults= replaces the case's (the marker's or the session's).
            where = f"fio_run on {request.node.nodeid}: faults"
            case = case.with_faults(plugin.planner.faults_from(faults, where))
            plugin.planner.check_fault_room(case, f"fio_run on {request.node.nodeid}")
        return run_case(case).result

    def max_iops_under(
        p99_ms: float | None = None,
        case_or_profile: Case | Profile | str | Path | None = None,
        workers: int | None = None,
        target: str | None = None,
        *,
        direction: str | None = None,
        probes: int | None = None,
        **overrides: Any,
    ) -> SlaResult:
        """The highest IOPS whose p99 stays under ``p99_ms`` (sla.py): every probe is a
        recorded run of this test; the answer is metric ``sla_iops`` of a run of its own
        (test part ``<test>@sla-p99-<p99_ms>ms``), with its thresholds and history.
        What the call leaves out comes from the marker's ``max_iops_under``."""
        defaults = marker_sla or {}
        p99_ms = p99_ms if p99_ms is not None else defaults.get("p99_ms")
        if p99_ms is None:
            raise ConfigError(
                f"{request.node.nodeid}: fio_run.max_iops_under() needs p99_ms (or "
                "@pytest.mark.fio(max_iops_under={'p99_ms': ...}))"
            )
        direction = direction or defaults.get("direction", "read")
        probes = probes or defaults.get("probes", DEFAULT_PROBES)
        case = _case_for(request, plugin, case_or_profile, workers, target, overrides)
        rules = plugin.planner.rules_for(case, inline_thresholds)
        found = search_sla(
            fio_session,
            case,
            p99_ms=p99_ms,
            direction=direction,
            probes=probes,
            limits=rules.limits,
            tolerances=rules.tolerances,
            test_id=request.node.nodeid,
            # Probes overshoot the target on purpose: only the answer is held to limits.
            run=lambda probe: run_case(probe, check_limits=False),
        )
        remember(found.outcome)
        return found

    run.max_iops_under = max_iops_under  # type: ignore[attr-defined]
    return run


def _record_properties(node: pytest.Item, outcome: CaseOutcome, *, first: bool) -> None:
    """Metrics and the stored verdict as JUnit XML properties (Jenkins and GitLab show
    them).

    The test's own (first) run uses plain names; further runs in the same test are
    prefixed with their case id so names stay unique.
    """
    prefix = "" if first else f"{outcome.case.id}."
    properties = [
        ("fio_case", outcome.case.id),
        ("fio_run_id", outcome.record.run_id),
        ("fio_history_key", outcome.record.history_key),
        ("fio_verdict", str(outcome.record.verdict)),
        *(
            (f"fio_{name}", round(value, 6))
            for name, value in sorted(outcome.result.metrics.items())
        ),
        *(
            (f"fio_{name}", round(value, 6))
            for name, value in sorted(spectrum_measures(outcome.record.spectrum).items())
        ),
        *(
            (f"fio_{c.metric}_delta_pct", round(c.delta_pct, 3))
            for c in outcome.comparisons
            if c.delta_pct is not None
        ),
    ]
    node.user_properties.extend((prefix + name, value) for name, value in properties)


def _case_for(
    request: pytest.FixtureRequest,
    plugin: FioLoadgenPlugin,
    what: Case | Profile | str | Path | None,
    workers: int | None,
    target: str | None,
    overrides: dict[str, Any],
) -> Case:
    """The case fio_run() means: this test's, another Case, or a profile ad hoc; the
    call's overrides join the case's (and its id and history key)."""
    if isinstance(what, Case):
        return what.with_overrides(overrides)
    if what is None:
        callspec = getattr(request.node, "callspec", None)
        if callspec is None or "fio_case" not in callspec.params:
            raise ConfigError(
                f"{request.node.nodeid}: fio_run() without a profile needs a parametrized "
                "test (request fio_case or add @pytest.mark.fio)"
            )
        case: Case = callspec.params["fio_case"]
        return case.with_overrides(overrides)
    planning_request = plugin.request_of(request.node, what, **overrides)
    planning_request = replace(
        planning_request,
        workers=workers or 1,
        targets=[target] if target else [plugin.planner.targets[0]],
        sweep=None,
        session_sweep=False,
    )
    cases = [c for c in plugin.planner.cases(planning_request) if c.repeat == 0]
    if len(cases) != 1:
        raise ConfigError(f"fio_run({what!r}) matches {len(cases)} profiles, needs one")
    plugin.deploy_size(cases[0].workers)
    return cases[0]
