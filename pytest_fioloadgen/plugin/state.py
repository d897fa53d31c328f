"""The plugin's state for one pytest session, and the hooks that need it.

One ``FioLoadgenPlugin`` is registered per pytest process and kept in ``config.stash``;
the planning (cases, limits, gating policy) is the pytest-free ``planning.Planner``, the
running is ``session.BenchmarkSession``. What it ran is reported by plugin.results; an
xdist worker sends its outcomes to the controller instead, whose own plugin object
(plugin.distributed.XdistController) collects them.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ..backend_factory import sandbox_of, target_names
from ..backends.base import Environment, SupportsPreflight
from ..backends.sandbox import Sandbox
from ..cases import Case, CaseOutcome
from ..exceptions import BackendError, ConfigError, FioLoadgenError, StoreError
from ..faults.registry import lookup
from ..planning import CaseRequest, Planner, marker_request, named_setting
from ..report import html_hooks as html_report
from ..report.html import SPARKLINE_RUNS
from ..session import BenchmarkSession
from ..settings import Settings
from ..store import RunRecord
from ..verdicts.thresholds import Thresholds
from .distributed import REPORT_ATTRIBUTE, is_worker, pack, shared_session_id, worker_id
from .results import SessionResults

state_key = pytest.StashKey["FioLoadgenPlugin"]()
outcomes_key = pytest.StashKey[list[CaseOutcome]]()

FIXTURES_THAT_RUN_FIO = ("fio_case", "fio_run", "fio_env")


def runs_fio(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in FIXTURES_THAT_RUN_FIO)


def planned_cases(items: Sequence[pytest.Item]) -> list[Case]:
    """The cases of the selected items, in the order they run."""
    cases = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("fio_case") if callspec is not None else None
        if isinstance(case, Case):
            cases.append(case)
    return cases


def test_part_of(item_or_definition: Any) -> str:
    """A test's identity: its node id without the parameter part."""
    nodeid: str = item_or_definition.nodeid
    return nodeid.split("[", 1)[0]


def html_report_requested(config: pytest.Config) -> bool:
    """pytest-html is installed and writes a report in this run (--html)."""
    return config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))


def html_extras_wanted(config: pytest.Config) -> bool:
    """Per-test extras are attached here: where pytest-html writes the report, or on an
    xdist worker whose controller does (pytest-html is inactive on workers; the extras
    travel with the reports)."""
    if is_worker(config):
        return bool(getattr(config.option, "htmlpath", None))
    return html_report_requested(config)


class FioLoadgenPlugin:
    """The session's state and the hooks that need it."""

    def __init__(self, config: pytest.Config, settings: Settings, thresholds: Thresholds):
        self.config = config
        self.settings = settings
        self.thresholds = thresholds
        registered = config.pluginmanager.hook.pytest_fioloadgen_fault_type
        self.planner = Planner(
            settings,
            thresholds,
            targets=target_names(settings),
            # fio --parse-only runs where the backend's fio runs: in the sandbox.
            sandbox=lambda: sandbox_of(settings),
            fault_lookup=lookup(lambda name: registered(name=name)),
        )
        self._session: BenchmarkSession | None = None
        self._setup_error: str | None = None
        #: Why the sandbox fio must run in cannot start (a usage error before any test).
        self._sandbox_error: str | None = None
        #: This invocation's session id; under xdist the controller hands it to every
        #: worker (distributed.XdistController), so all their runs share it.
        self.session_id = uuid.uuid4().hex

    # -- the benchmark session -----------------------------------------------------
    def benchmark_session(self) -> BenchmarkSession:
        """Created on first use, so a run without fio tests never opens the store."""
        if self._setup_error is not None:
            pytest.fail(self._setup_error, pytrace=False)
        if self._session is None:
            try:
                self._session = self._create_session()
            except FioLoadgenError as err:
                self._setup_error = f"fioloadgen setup failed: {err}"
                pytest.fail(self._setup_error, pytrace=False)
        return self._session

    def _create_session(self) -> BenchmarkSession:
        settings = self.settings
        store = self.planner.open_store()
        shared = shared_session_id(self.config)
        session_id = shared or self.session_id
        worker = worker_id(self.config)
        # Each xdist worker deploys its own fio servers: the backend's own id (lock holder,
        # resource names) stays unique per worker while the runs share the session id.
        backend_id = f"{session_id}-{worker}" if shared and worker else session_id
        try:
            backend = self.config.hook.pytest_fioloadgen_make_backend(
                config=self.config, settings=settings, session_id=backend_id
            )

            def hook_facts(env: Environment) -> Mapping[str, Any]:
                merged: dict[str, Any] = {}
                for facts in self.config.hook.pytest_fioloadgen_fingerprint(env=env):
                    merged.update(facts or {})
                return merged

            session = self.planner.session(
                backend=backend, store=store, session_id=session_id, fingerprint_extra=hook_facts
            )
            if worker:
                session.run_notes = (f"run by pytest-xdist worker {worker}",)
        except BaseException:
            if store is not None:
                store.close()
            raise
        sandbox = getattr(backend, "sandbox", self.planner.sandbox)
        if isinstance(sandbox, Sandbox) and not sandbox.confined and settings.sandbox == "auto":
            self._notice(
                f"fioloadgen: fio runs unconfined: {sandbox.reason} (--fio-sandbox bwrap"
                " requires the sandbox, --fio-sandbox none says you mean it)"
            )

        return session

    def preflight(self) -> None:
        """Before the first test: open the store and check the backend's settings, so a
        wrong --fio-store, unreachable --fio-hosts or an impossible --fio-workers is one
        usage error naming the option and where its value came from (exit status 4), not
        a traceback in every case."""
        if self._sandbox_error is not None:
            raise pytest.UsageError(self._sandbox_error)
        try:
            session = self.benchmark_session_or_raise()
            backend = session.backend
            if isinstance(backend, SupportsPreflight):
                backend.preflight(list(session.targets), session.max_workers)
        except StoreError as err:
            raise pytest.UsageError(named_setting(self.settings, "store", err)) from err
        except BackendError as err:
            raise pytest.UsageError(named_setting(self.settings, err.setting, err)) from err
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from err
        except FioLoadgenError as err:
            raise pytest.UsageError(f"fioloadgen: {err}") from err

    def _notice(self, line: str) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, yellow=True)

    def benchmark_session_or_raise(self) -> BenchmarkSession:
        if self._session is None:
            self._session = self._create_session()
        return self._session

    def deploy_size(self, requested: int) -> None:
        """Grow the deploy size when a test asks for more workers than --fio-workers."""
        self.planner.max_workers = max(self.planner.max_workers, requested)
        if self._session is not None and not self._session.deployed:
            self._session.max_workers = self.planner.max_workers

    def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            session.close()
        finally:
            if session.store is not None:
                session.store.close()

    # -- collection -----------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        marker = metafunc.definition.get_closest_marker("fio")
        if "fio_case" not in metafunc.fixturenames:
            if marker is None:
                return
            # A test configured only by the marker still gets its cases.
            metafunc.fixturenames.append("fio_case")
        kwargs = dict(marker.kwargs) if marker else {}
        definition = metafunc.definition
        try:
            # Chosen at the first fio test (fio --parse-only runs in it).
            self.planner.sandbox  # noqa: B018
        except ConfigError as err:
            # A sandbox that was required but cannot start is the session's usage error
            # (raised before the first test, see preflight), not a collection error per
            # test: no profile can be checked without it.
            self._sandbox_error = str(err)
            metafunc.parametrize("fio_case", [pytest.param(None, id="no-sandbox")])
            return
        try:
            request = marker_request(
                test_part_of(definition),
                f"marker fio on {definition.name}",
                kwargs,
                Path(definition.path).parent,
            )
            cases = self.planner.cases(request)
            self.deploy_size(self.planner.max_workers)
        except FioLoadgenError as err:
            raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {err}") from err
        metafunc.parametrize(
            "fio_case",
            [pytest.param(case, id=case.id, marks=pytest.mark.benchmark) for case in cases],
        )

    def request_of(self, item: Any, what: Any = None, **overrides: Any) -> CaseRequest:
        """The case request of a test: its marker, plus what fio_run() was called with."""
        marker = item.get_closest_marker("fio")
        kwargs = dict(marker.kwargs) if marker else {}
        request = marker_request(
            test_part_of(item), f"fio_run in {item.name}", kwargs, Path(item.path).parent
        )
        if what is not None:
            request = CaseRequest(
                test=request.test,
                where=request.where,
                profile=what,
                thresholds=request.thresholds,
                overrides={**request.overrides, **overrides},
                base_dir=request.base_dir,
            )
        return request

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Before -m selection runs: ad-hoc fio tests (fio_run without a case) are
        # benchmarks too.
        for item in items:
            if runs_fio(item) and item.get_closest_marker("benchmark") is None:
                item.add_marker(pytest.mark.benchmark)

    # -- running --------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        if any(runs_fio(item) for item in session.items):
            self.preflight()
            if not is_worker(self.config):
                # The session lays out the files of every planned read in one round. An
                # xdist worker runs only some of the items: it lays out as they come.
                self.benchmark_session_or_raise().planned = planned_cases(session.items)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        result = yield
        lines = []
        for outcome in item.stash.get(outcomes_key, []):
            # The stored verdict decides, and its reason says why.
            if not outcome.status.fails_the_test:
                continue
            confirmed = (
                f" (confirmed by {outcome.confirmation} re-run(s))" if outcome.confirmation else ""
            )
            reason = outcome.verdict.reason
            lines.append(f"{outcome.case.id}: {outcome.status}{confirmed}: {reason}")
            lines += [f"  {comparison.message()}" for comparison in outcome.regressions]
        if lines:
            pytest.fail("\n".join(lines), pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.excinfo is not None and isinstance(call.excinfo.value, FioLoadgenError):
            # A fio or backend failure is a finding, not a bug in the test: one line.
            report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
        outcomes = item.stash.get(outcomes_key, [])
        if report.when == "call" and outcomes:
            self._attach_html(item, report, outcomes)
            if is_worker(self.config):
                setattr(report, REPORT_ATTRIBUTE, pack(outcomes))
        return report

    def _attach_html(
        self, item: pytest.Item, report: pytest.TestReport, outcomes: list[CaseOutcome]
    ) -> None:
        if not html_extras_wanted(self.config):
            return
        html_report.attach(report, outcomes, self.history_of)

    def history_of(self, record: RunRecord) -> list[RunRecord]:
        """Recent runs of a record's history key (for the sparkline), newest first."""
        store = self._session.store if self._session is not None else None
        if store is None or not record.history_key:
            return [record]
        return store.query(history_key=record.history_key, limit=SPARKLINE_RUNS)

    def results(self) -> SessionResults | None:
        """This process's results, for the summary and exports (None before a fio test
        asked for the session). Under xdist a worker sends its outcomes to the
        controller instead (pytest_runtest_makereport)."""
        session = self._session
        if session is None:
            return None
        outcomes = list(session.outcomes)
        fingerprint = session.known_fingerprint()
        if fingerprint is None and outcomes:
            fingerprint = dict(outcomes[0].record.fingerprint)
        return SessionResults(
            outcomes=outcomes,
            session_ids=session.session_id,
            labels=session.labels,
            fingerprint=fingerprint,
            store_uri=session.store.uri if session.store is not None else None,
            min_baseline=session.gating.min_baseline,
            cache_suspects=session.cache_suspects() if outcomes else [],
        )
