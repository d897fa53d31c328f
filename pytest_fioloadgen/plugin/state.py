"""The plugin's state for one pytest session, and the hooks that need it.

One ``FioLoadgenPlugin`` is registered per session (like pytest-xdist's DSession) and
kept in ``config.stash``; the planning (cases, limits, gating policy) is the pytest-free
``planning.Planner``, the running is ``session.BenchmarkSession``.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ..backend_factory import sandbox_of, target_names
from ..backends.base import Environment, SupportsPreflight
from ..backends.medium import OPT_IN
from ..backends.sandbox import Sandbox
from ..cases import CaseOutcome
from ..exceptions import BackendError, ConfigError, FioLoadgenError, StoreError
from ..faults.registry import lookup
from ..planning import CaseRequest, Planner, marker_request, named_setting
from ..report import html_hooks as html_report
from ..report.export import (
    bencher_metric_format,
    session_document,
    write_github_action_benchmark,
    write_json,
)
from ..report.html import SPARKLINE_RUNS
from ..report.repeatability import repeatability_lines
from ..report.response_curve import curves
from ..report.terminal import (
    fault_lines,
    gating_lines,
    scaling_lines,
    summary_lines,
    timeline_lines,
)
from ..session import BenchmarkSession
from ..settings import Settings
from ..store import RunRecord, default_store_uri
from ..verdicts.regression import DEFAULT_MIN_BASELINE
from ..verdicts.thresholds import Thresholds
from .distributed import (
    REPORT_ATTRIBUTE,
    SESSION_ID_INPUT,
    is_controller,
    is_worker,
    pack,
    shared_session_id,
    unpack,
    worker_id,
)

state_key = pytest.StashKey["FioLoadgenPlugin"]()
outcomes_key = pytest.StashKey[list[CaseOutcome]]()

FIXTURES_THAT_RUN_FIO = ("fio_case", "fio_run", "fio_env")


def runs_fio(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in FIXTURES_THAT_RUN_FIO)


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
        self._written: list[Path] = []
        #: On an xdist controller: the outcomes its workers reported.
        self._remote: list[CaseOutcome] = []
        #: This invocation's session id; under xdist the controller hands it to every
        #: worker (pytest_configure_node), so all their runs share it.
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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if is_controller(self.config):
            self._remote += unpack(getattr(report, REPORT_ATTRIBUTE, None))

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

    def session_outcomes(self) -> list[CaseOutcome]:
        """This process's outcomes, or on an xdist controller every worker's, in the
        order they started."""
        if self._session is not None and self._session.outcomes:
            return list(self._session.outcomes)
        return sorted(self._remote, key=lambda outcome: outcome.record.started_at)

    def session_fingerprint(self) -> dict[str, Any] | None:
        if self._session is not None and self._session.known_fingerprint() is not None:
            return self._session.known_fingerprint()
        outcomes = self.session_outcomes()
        return dict(outcomes[0].record.fingerprint) if outcomes else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist, on the controller: every worker records under this session id."""
        node.workerinput[SESSION_ID_INPUT] = self.session_id

    def _session_ids(self, outcomes: list[CaseOutcome]) -> str:
        """The session id (one, unless runs came from elsewhere)."""
        if self._session is not None and self._session.outcomes:
            return self._session.session_id
        return ",".join(dict.fromkeys(outcome.record.session_id for outcome in outcomes))

    # -- end of session -------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        outcomes = self.session_outcomes()
        if not outcomes or is_worker(self.config):
            return
        session = self._session
        settings = self.settings
        has_store = session.store is not None if session is not None else settings.store != "none"
        terminalreporter.section("fioloadgen results")
        lines = summary_lines(
            outcomes,
            columns=settings.columns,
            sort=settings.sort,
            group_by=settings.group_by,
        )
        lines += scaling_lines(outcomes)
        reason = "" if has_store else "no history store (--fio-store none)"
        if settings.baseline == "none":
            reason = "--fio-baseline none"
        # The xdist controller has no session of its own: the thresholds file's [gating]
        # table says when gating starts, as it did on the workers.
        min_baseline = (
            session.gating.min_baseline
            if session is not None
            else int(self.planner.thresholds.gating.get("min_baseline", DEFAULT_MIN_BASELINE))
        )
        lines += gating_lines(
            outcomes,
            enabled=has_store and settings.baseline != "none",
            reason=reason,
            min_baseline=min_baseline,
        )
        if session is not None and session.outcomes:
            suspects = session.cache_suspects()
        else:  # the xdist controller: what each worker flagged at run time
            suspects = [(outcome, outcome.cache_note) for outcome in outcomes if outcome.cache_note]
        lines += [f"cache? {outcome.case.id}: {note}" for outcome, note in suspects]
        lines += repeatability_lines(outcomes)
        lines += timeline_lines(outcomes)
        lines += fault_lines(outcomes)
        lines += [curve.describe() for curve in curves(outcomes)]
        lines += self._memory_target_lines(outcomes)
        for line in lines:
            terminalreporter.write_line(line)
        if has_store:
            if session is not None and session.store is not None:
                uri = session.store.uri
            else:
                uri = settings.store or str(default_store_uri(settings.rootdir))
            terminalreporter.write_line(
                f"{len(outcomes)} runs recorded in {uri} (session {self._session_ids(outcomes)})"
            )
        for path in self._written:
            terminalreporter.write_line(f"session results written to {path}")

    @staticmethod
    def _memory_target_lines(outcomes: list[CaseOutcome]) -> list[str]:
        """Targets that cannot measure a device but were allowed: said next to the table
        (each of their runs carries the same note)."""
        notes = {
            note: None
            for outcome in outcomes
            for note in outcome.record.notes
            if note.endswith(f"run anyway because of {OPT_IN}")
        }
        return [f"NOT A DEVICE: {note}" for note in notes]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Under xdist the controller writes the exports, with every worker's runs.
        outcomes = self.session_outcomes()
        if not outcomes or is_worker(self.config):
            return
        settings = self.settings
        labels = self._session.labels if self._session is not None else outcomes[0].record.labels
        if settings.json is not None:
            write_json(
                settings.json,
                session_document(
                    self._session_ids(outcomes),
                    outcomes,
                    labels=labels,
                    fingerprint=self.session_fingerprint(),
                ),
            )
            self._written.append(settings.json)
        if settings.bmf is not None:
            write_json(settings.bmf, bencher_metric_format(outcomes))
            self._written.append(settings.bmf)
        if settings.github_benchmark is not None:
            self._written += write_github_action_benchmark(settings.github_benchmark, outcomes)
