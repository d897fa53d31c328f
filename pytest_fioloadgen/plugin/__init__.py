"""pytest glue: options and ini keys, markers, and the session's plugin object.

The entry point (``pytest11``) of pytest-fioloadgen. It resolves Settings once in
``pytest_configure`` and registers one ``FioLoadgenPlugin`` (plugin.state) holding the
session's state; the fixtures live in plugin.fixtures. At the session's start it
registers who reports the results (plugin.results): this process, or under pytest-xdist
the controller (plugin.distributed); a worker reports nothing itself. The domain work is
pytest-free: planning (cases, limits, gating) and session (running, recording).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .. import hookspecs
from ..backend_factory import make_backend
from ..backends.base import Backend
from ..exceptions import ConfigError
from ..planning import load_thresholds
from ..settings import OPTIONS, Settings, resolve
from .distributed import XdistController, is_controller, is_worker
from .fixtures import fio_case, fio_env, fio_run, fio_session, fio_store
from .results import SessionReport
from .rootdir import check_rootdir
from .state import FioLoadgenPlugin, html_report_requested, state_key

__all__ = ["fio_case", "fio_env", "fio_run", "fio_session", "fio_store"]

PLUGIN_NAME = "fioloadgen-session"
CONTROLLER_PLUGIN_NAME = "fioloadgen-xdist-controller"
REPORT_PLUGIN_NAME = "fioloadgen-report"
HTML_PLUGIN_NAME = "fioloadgen-html"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fioloadgen", "storage benchmarking with fio (pytest-fioloadgen)")
    for option in OPTIONS:
        # argparse %-formats help texts: a literal % (a default such as 10%) is doubled.
        help_text = f"{option.full_help} [env {option.env}, ini {option.ini}]".replace("%", "%%")
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
        parser.addini(option.ini, help=option.full_help, type="string", default="")


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
        "fio(profile=None, workers=None, targets=None, thresholds=None, sweep=None, "
        "max_iops_under=None, **overrides): configure the fio cases of one test "
        "(max_iops_under={'p99_ms': 2}: fio_run() searches the highest IOPS under that p99)",
    )
    if config.option.help or getattr(config.option, "version", False):
        return
    check_rootdir(config)
    try:
        settings = resolve_settings(config)
        thresholds = load_thresholds(settings)
        plugin = FioLoadgenPlugin(config, settings, thresholds)
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from err
    config.stash[state_key] = plugin
    config.pluginmanager.register(plugin, PLUGIN_NAME)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Register who reports the session's results. Not in pytest_configure: pytest-xdist
    registers its DSession in its own pytest_configure (trylast), so only now is it known
    whether this process is the controller. Before DSession's sessionstart (trylast),
    which starts the workers and asks for their pytest_configure_node."""
    config = session.config
    plugin = config.stash.get(state_key, None)
    if plugin is None or is_worker(config):
        return
    if is_controller(config):
        controller = XdistController(plugin.session_id, plugin.settings, plugin.thresholds)
        config.pluginmanager.register(controller, CONTROLLER_PLUGIN_NAME)
        report = SessionReport(plugin.settings, controller.results)
    else:
        report = SessionReport(plugin.settings, plugin.results)
    config.pluginmanager.register(report, REPORT_PLUGIN_NAME)
    if html_report_requested(config):
        # pytest-html's hook names exist only when it is installed and active.
        config.pluginmanager.register(report.html_hooks(), HTML_PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(state_key, None)
    if plugin is not None:
        plugin.shutdown()


@pytest.hookimpl(trylast=True)
def pytest_fioloadgen_make_backend(
    config: pytest.Config, settings: Settings, session_id: str
) -> Backend:
    """The built-in backends, chosen by --fio-backend."""
    return make_backend(settings, session_id)
