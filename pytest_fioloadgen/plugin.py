"""pytest glue: options and ini keys, markers, parametrization, reporting hooks.

The plugin resolves Settings once in ``pytest_configure`` and registers one
``FioLoadgenPlugin`` object holding the session's state (like pytest-xdist's DSession);
the domain work happens in ``pytest_fioloadgen.session``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import pytest

from . import hookspecs
from .backends.base import Backend, Environment, SupportsPreflight
from .backends.factory import make_backend, target_names
from .backends.sandbox import Sandbox
from .exceptions import BackendError, ConfigError, FioLoadgenError, StoreError
from .fixtures import (
    fio_case,
    fio_env,
    fio_run,
    fio_session,
    fio_store,
    outcomes_key,
    state_key,
)
from .gating import Thresholds, validate_level
from .profiles import (
    Allowance,
    Profile,
    discover_profiles,
    load_profile,
    select_profiles,
    shipped_profiles_dir,
    validate,
)
from .regression import (
    DEFAULT_ALPHA,
    DEFAULT_GATED_METRICS,
    DEFAULT_MIN_BASELINE,
    GatingPolicy,
)
from .report import html_hooks as html_report
from .report.export import (
    bencher_metric_format,
    session_document,
    write_github_action_benchmark,
    write_json,
)
from .report.html import SPARKLINE_RUNS
from .report.terminal import gating_lines, scaling_lines, summary_lines
from .session import BenchmarkSession, Case, CaseOutcome, git_labels
from .settings import OPTIONS, OPTIONS_BY_NAME, Settings, resolve
from .store import RunRecord, Store, default_store_uri, open_store

__all__ = ["fio_case", "fio_env", "fio_run", "fio_session", "fio_store"]

PLUGIN_NAME = "fioloadgen-session"
HTML_PLUGIN_NAME = "fioloadgen-html"

FIXTURES_THAT_RUN_FIO = ("fio_case", "fio_run", "fio_env")


def _runs_fio(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in FIXTURES_THAT_RUN_FIO)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fioloadgen", "storage benchmarking with fio (pytest-fioloadgen)")
    for option in OPTIONS:
        help_text = f"{option.help} [env {option.env}, ini {option.ini}]"
        if option.flag:
            group.addoption(option.cli, action="store_true", default=None, help=help_text)
        else:
            group.addoption(
                option.cli,
                action="append" if option.repeatable else "store",
                default=None,
                metavar=option.metavar,
                dest=f"fio_{option.name}",
                choices=option.choices,
                help=help_text,
            )
        parser.addini(option.ini, help=option.help, type="string", default="")


def _ini_source(config: pytest.Config) -> str:
    return f"ini file {config.inipath.name}" if config.inipath else "ini"


def resolve_settings(config: pytest.Config) -> Settings:
    cli = {option.name: getattr(config.option, f"fio_{option.name}", None) for option in OPTIONS}
    ini = {option.name: config.getini(option.ini) for option in OPTIONS}
    suite: dict[str, Any] = {}
    for defaults in config.hook.pytest_fioloadgen_defaults(config=config):
        if defaults:
            suite.update(defaults)
    return resolve(
        rootdir=Path(config.rootpath),
        cli=cli,
        env=os.environ,
        ini=ini,
        suite=suite,
        ini_source=_ini_source(config),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "benchmark: a storage benchmark run by pytest-fioloadgen (applied automatically)",
    )
    config.addinivalue_line(
        "markers",
        "fio(profile=None, workers=None, targets=None, thresholds=None, **overrides): "
        "configure the fio cases of one test",
    )
    if config.option.help or getattr(config.option, "version", False):
        return
    try:
        settings = resolve_settings(config)
        thresholds = _load_thresholds(settings)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from err
    plugin = FioLoadgenPlugin(config, settings, thresholds)
    config.stash[state_key] = plugin
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    if html_report_requested(config):
        # pytest-html's hook names exist only when it is installed and active.
        config.pluginmanager.register(
            html_report.HtmlHooks(plugin.session_outcomes, plugin.session_fingerprint),
            HTML_PLUGIN_NAME,
        )


def html_report_requested(config: pytest.Config) -> bool:
    """pytest-html is installed and writes a report in this run (--html)."""
    return config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(state_key, None)
    if plugin is not None:
        plugin.shutdown()


def _load_thresholds(settings: Settings) -> Thresholds:
    if settings.thresholds is not None:
        display = str(settings.thresholds)
        if settings.source_of("thresholds") != "default":
            display = f"{settings.thresholds} (from {settings.source_of('thresholds')})"
        return Thresholds.load(settings.thresholds, display=display)
    default = settings.rootdir / "benchmarks" / "thresholds.toml"
    if default.is_file():
        return Thresholds.load(default, display=str(default.relative_to(settings.rootdir)))
    return Thresholds.empty()


@pytest.hookimpl(trylast=True)
def pytest_fioloadgen_make_backend(
    config: pytest.Config, settings: Settings, session_id: str
) -> Backend:
    """The built-in backends, chosen by --fio-backend."""
    return make_backend(settings, session_id)


class FioLoadgenPlugin:
    """The session's state and the hooks that need it."""

    def __init__(self, config: pytest.Config, settings: Settings, thresholds: Thresholds):
        self.config = config
        self.settings = settings
        self.thresholds = thresholds
        self._profiles: dict[str, Profile] = {}
        self._session: BenchmarkSession | None = None
        self._setup_error: str | None = None
        self._thresholds_checked = False
        self._max_workers = settings.max_workers
        self._written: list[Path] = []
        #: Only the user's own settings (ini, env, command line) can allow more engines.
        self.allowance = Allowance(engines=settings.allow_engines)

    # -- profiles -------------------------------------------------------------------
    @property
    def profiles_dir(self) -> Path:
        return self.settings.profiles_dir or shipped_profiles_dir()

    def validated(self, profile: Profile) -> Profile:
        key = f"{profile.source}:{profile.content_hash}"
        if key not in self._profiles:
            self._profiles[key] = validate(
                profile, fio_binary=self.settings.fio_binary, allowance=self.allowance
            )
        return self._profiles[key]

    def profiles_for(self, spec: Any, test_path: Path) -> list[Profile]:
        """Profiles of a test: the marker's (names, globs or .fio paths) or the session's."""
        if spec is None:
            chosen = select_profiles(self.profiles_dir, self.settings.profiles)
        else:
            names = [spec] if isinstance(spec, str | Path) else list(spec)
            chosen = []
            for name in names:
                if str(name).endswith(".fio"):
                    path = Path(name)
                    chosen.append(
                        load_profile(path if path.is_absolute() else test_path.parent / path)
                    )
                else:
                    chosen += select_profiles(self.profiles_dir, str(name))
        if not self._thresholds_checked:
            known = set(discover_profiles(self.profiles_dir)) | {p.name for p in chosen}
            self.thresholds.check_profiles(known)
            self._thresholds_checked = True
        return [self.validated(profile) for profile in chosen]

    def target_names(self) -> list[str]:
        return target_names(self.settings)

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
        store_uri = settings.store or default_store_uri(settings.rootdir)
        store = None if store_uri == "none" else open_store(store_uri, rootdir=settings.rootdir)
        session_id = uuid.uuid4().hex
        try:
            gating = self._gating_policy(store)
            backend = self.config.hook.pytest_fioloadgen_make_backend(
                config=self.config, settings=settings, session_id=session_id
            )
        except BaseException:
            if store is not None:
                store.close()
            raise
        labels = {**git_labels(settings.rootdir), **settings.labels}
        sandbox = getattr(backend, "sandbox", None)
        if isinstance(sandbox, Sandbox) and not sandbox.confined and settings.sandbox == "auto":
            self._notice(
                f"fioloadgen: fio runs unconfined: {sandbox.reason} (--fio-sandbox bwrap"
                " requires the sandbox, --fio-sandbox none says you mean it)"
            )

        def hook_facts(env: Environment) -> Mapping[str, Any]:
            merged: dict[str, Any] = {}
            for facts in self.config.hook.pytest_fioloadgen_fingerprint(env=env):
                merged.update(facts or {})
            return merged

        return BenchmarkSession(
            backend=backend,
            targets=self.target_names(),
            max_workers=self._max_workers,
            store=store,
            thresholds=self.thresholds,
            labels=labels,
            runtime=settings.runtime,
            size=settings.size,
            gating=gating,
            prefill=settings.prefill,
            read_ceiling=settings.read_ceiling,
            session_id=session_id,
            fingerprint_extra=hook_facts,
            allowance=self.allowance,
        )

    def _gating_policy(self, store: Store | None) -> GatingPolicy:
        """Options and the thresholds file's [gating] table; a named baseline must exist."""
        settings = self.settings
        table = self.thresholds.gating
        baseline = settings.baseline if store is not None else "none"
        if baseline not in ("auto", "none"):
            assert store is not None
            try:
                store.get_baseline(baseline)
            except StoreError as err:
                raise ConfigError(self._named("baseline", err)) from err
        return GatingPolicy(
            baseline=baseline,
            window=settings.baseline_window,
            baseline_labels=dict(settings.baseline_labels),
            confirm=settings.confirm_runs,
            alpha=float(table.get("alpha", DEFAULT_ALPHA)),
            min_baseline=int(table.get("min_baseline", DEFAULT_MIN_BASELINE)),
            metrics=tuple(table.get("metrics", DEFAULT_GATED_METRICS)),
        )

    def preflight(self) -> None:
        """Before the first test: open the store and check the backend's settings, so a
        wrong --fio-store, unreachable --fio-hosts or an impossible --fio-workers is one
        usage error naming the option and where its value came from (exit status 4), not
        a traceback in every case."""
        try:
            session = self.benchmark_session_or_raise()
            backend = session.backend
            if isinstance(backend, SupportsPreflight):
                backend.preflight(list(session.targets), session.max_workers)
        except StoreError as err:
            raise pytest.UsageError(self._named("store", err)) from err
        except BackendError as err:
            raise pytest.UsageError(self._named(err.setting, err)) from err
        except ConfigError as err:
            raise pytest.UsageError(str(err)) from err
        except FioLoadgenError as err:
            raise pytest.UsageError(f"fioloadgen: {err}") from err

    def _named(self, setting: str | None, err: Exception) -> str:
        """``--fio-x (from FIO_X): message``: the option and where its value came from."""
        if setting is None or setting not in OPTIONS_BY_NAME:
            return f"fioloadgen: {err}"
        option = OPTIONS_BY_NAME[setting]
        field = {"target": "targets", "binary": "fio_binary"}.get(setting, setting)
        source = self.settings.source_of(field)
        if source == option.cli:
            return f"{option.cli}: {err}"
        origin = "default" if source == "default" else f"from {source}"
        return f"{option.cli} ({origin}): {err}"

    def _notice(self, line: str) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, yellow=True)

    def benchmark_session_or_raise(self) -> BenchmarkSession:
        if self._session is None:
            self._session = self._create_session()
        return self._session

    def deploy_size(self, requested: int) -> None:
        """Grow the deploy size when a marker asks for more workers than --fio-workers."""
        self._max_workers = max(self._max_workers, requested)
        if self._session is not None and not self._session.deployed:
            self._session.max_workers = self._max_workers

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
        try:
            cases = self._cases(metafunc, kwargs)
        except FioLoadgenError as err:
            raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {err}") from err
        metafunc.parametrize(
            "fio_case",
            [pytest.param(case, id=case.id, marks=pytest.mark.benchmark) for case in cases],
        )

    def _cases(self, metafunc: pytest.Metafunc, kwargs: Mapping[str, Any]) -> list[Case]:
        where = f"marker fio on {metafunc.definition.name}"
        profiles = self.profiles_for(kwargs.get("profile"), Path(metafunc.definition.path))
        workers_spec = kwargs.get("workers")
        if workers_spec is None:
            workers = list(self.settings.workers)
        else:
            workers = [workers_spec] if isinstance(workers_spec, int) else list(workers_spec)
            if not workers or not all(isinstance(n, int) and n > 0 for n in workers):
                raise ConfigError(f"{where}: workers={workers_spec!r} must be positive integers")
        targets = self.target_names()
        wanted_targets = kwargs.get("targets")
        if wanted_targets is not None:
            wanted = [wanted_targets] if isinstance(wanted_targets, str) else list(wanted_targets)
            unknown = [name for name in wanted if name not in targets]
            if unknown:
                configured = ", ".join(targets)
                raise ConfigError(
                    f"{where}: target {unknown[0]!r} is not configured (targets: {configured})"
                )
            targets = wanted
        if kwargs.get("thresholds") is not None:
            validate_level(kwargs["thresholds"], f"{where} thresholds")
        self.deploy_size(max(workers))
        repeats = self.settings.repeat
        # Repeats outermost (A B C A B C): drift over time does not pile onto one case.
        return [
            Case(profile, count, target, repeat, repeats)
            for repeat in range(repeats)
            for profile in profiles
            for count in workers
            for target in targets
        ]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Before -m selection runs: ad-hoc fio tests (fio_run without a case) are
        # benchmarks too.
        for item in items:
            if _runs_fio(item) and item.get_closest_marker("benchmark") is None:
                item.add_marker(pytest.mark.benchmark)

    # -- running --------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        if any(_runs_fio(item) for item in session.items):
            self.preflight()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        result = yield
        lines = []
        for outcome in item.stash.get(outcomes_key, []):
            if outcome.verdict.status == "fail":
                lines.append(f"{outcome.case.id}: {outcome.verdict.failure_message()}")
            if outcome.status == "regression":
                confirmed = (
                    f" (confirmed by {outcome.confirmation} re-run(s))"
                    if outcome.confirmation
                    else ""
                )
                lines.append(f"{outcome.case.id}: regression against history{confirmed}:")
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
        return report

    def _attach_html(
        self, item: pytest.Item, report: pytest.TestReport, outcomes: list[CaseOutcome]
    ) -> None:
        if not html_report_requested(self.config):
            return
        html_report.attach(report, outcomes, self.history_of)

    def history_of(self, record: RunRecord) -> list[RunRecord]:
        """Recent runs of a record's history key (for the sparkline), newest first."""
        store = self._session.store if self._session is not None else None
        if store is None or not record.history_key:
            return [record]
        return store.query(history_key=record.history_key, limit=SPARKLINE_RUNS)

    def session_outcomes(self) -> list[CaseOutcome]:
        return list(self._session.outcomes) if self._session is not None else []

    def session_fingerprint(self) -> dict[str, Any] | None:
        return self._session.known_fingerprint() if self._session is not None else None

    # -- end of session -------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        session = self._session
        if session is None or not session.outcomes:
            return
        terminalreporter.section("fioloadgen results")
        lines = summary_lines(session.outcomes)
        lines += scaling_lines(session.outcomes)
        reason = "no history store (--fio-store none)" if session.store is None else ""
        if self.settings.baseline == "none":
            reason = "--fio-baseline none"
        lines += gating_lines(session.outcomes, enabled=session.gating.enabled, reason=reason)
        lines += [f"cache? {outcome.case.id}: {note}" for outcome, note in session.cache_suspects()]
        for line in lines:
            terminalreporter.write_line(line)
        if session.store is not None:
            terminalreporter.write_line(
                f"{len(session.outcomes)} runs recorded in {session.store.uri} "
                f"(session {session.session_id})"
            )
        for path in self._written:
            terminalreporter.write_line(f"session results written to {path}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        bench = self._session
        if bench is None:
            return
        settings = self.settings
        if settings.json is not None:
            write_json(
                settings.json,
                session_document(
                    bench.session_id,
                    bench.outcomes,
                    labels=bench.labels,
                    fingerprint=bench.known_fingerprint(),
                ),
            )
            self._written.append(settings.json)
        if settings.bmf is not None:
            write_json(settings.bmf, bencher_metric_format(bench.outcomes))
            self._written.append(settings.bmf)
        if settings.github_benchmark is not None:
            self._written += write_github_action_benchmark(
                settings.github_benchmark, bench.outcomes
            )
