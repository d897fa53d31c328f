"""Where a pytest session of the plugin spends its time, phase by phase.

A pytest plugin for ``benchmarks/overhead.py --session --profile-phases``: loaded with
``-p phase_timer`` (benchmarks/ on PYTHONPATH), it wraps the harness's steps in timers
and writes a JSON document to the file named by ``FIOLOADGEN_PHASES_OUT`` when the session
ends. Timers nest: a step's time is its own (exclusive) time, a step inside another is
reported under ``outer > inner``, so the rows add up to the session's wall time with
``other`` (pytest itself, the interpreter) as the rest. Wrapping costs microseconds per
call; nothing here changes what the harness does.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

from pytest_fioloadgen import session as session_module
from pytest_fioloadgen.backends import local
from pytest_fioloadgen.fio import runner, timeseries
from pytest_fioloadgen.layout import DataLayout
from pytest_fioloadgen.planning import Planner
from pytest_fioloadgen.plugin import state
from pytest_fioloadgen.profiles import validation
from pytest_fioloadgen.read_ceiling import ReadCeilings
from pytest_fioloadgen.store import sqlite

OUT_VARIABLE = "FIOLOADGEN_PHASES_OUT"
#: Epoch seconds at which the parent started this pytest process (its start-up counts).
STARTED_VARIABLE = "FIOLOADGEN_PHASES_STARTED"

#: phase path -> [exclusive seconds, calls]
_totals: dict[str, list[float]] = {}
_lock = threading.Lock()
_local = threading.local()


def _frames() -> tuple[list[str], list[float]]:
    """This thread's stack of open phases and their nested time. A phase run in another
    thread (the concurrent layout rounds) overlaps the main thread's: it is reported
    with a "(thread)" prefix and not added to the session's sum."""
    if not hasattr(_local, "stack"):
        main = threading.current_thread() is threading.main_thread()
        _local.stack = [] if main else ["(thread)"]
        _local.nested = [] if main else [0.0]
    return _local.stack, _local.nested


def _enter(name: str) -> None:
    stack, nested = _frames()
    stack.append(name)
    nested.append(0.0)


def _leave(elapsed: float) -> None:
    stack, nested = _frames()
    path = " > ".join(stack)
    inner = nested.pop()
    stack.pop()
    with _lock:
        row = _totals.setdefault(path, [0.0, 0.0])
        row[0] += elapsed - inner
        row[1] += 1
    if nested:
        nested[-1] += elapsed


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _enter(name)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _leave(time.perf_counter() - started)

    return wrapper


#: (owner, attribute, phase): what is timed. The fio client's own wall time is _wait
#: (the process from start to exit); everything else around it is the harness.
_PHASES: list[tuple[Any, str, str]] = [
    (Planner, "cases", "collection: planning (parse, lint, --parse-only)"),
    (validation, "check_with_fio", "--parse-only"),
    (state.FioLoadgenPlugin, "preflight", "preflight"),
    (local.LocalBackend, "deploy", "deploy"),
    (local.LocalBackend, "teardown", "teardown"),
    (local.LocalBackend, "resolve", "resolve workers"),
    (session_module.BenchmarkSession, "fingerprint", "fingerprint"),
    (session_module.BenchmarkSession, "prepare", "prepare profile"),
    (session_module.BenchmarkSession, "check_space", "check space"),
    (session_module.BenchmarkSession, "lint_notes", "lint"),
    (session_module.BenchmarkSession, "measurement_lock", "lock"),
    (DataLayout, "ensure", "layout round"),
    (ReadCeilings, "probe_before", "read probe"),
    (session_module.BenchmarkSession, "_judge", "judge (verdicts, history)"),
    (sqlite.SQLiteStore, "record", "record (sqlite)"),
    (runner, "_wait", "fio client"),
    (timeseries, "collect", "time series parse"),
    (runner, "build_timeline", "timeline parse"),
    (runner, "check_invocation", "json+ parse"),
]


def _install() -> None:
    for owner, attribute, phase in _PHASES:
        if not hasattr(owner, attribute):
            continue
        setattr(owner, attribute, timed(phase, getattr(owner, attribute)))


_install()


_marks: dict[str, float] = {}


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # Every plugin's configure has run: the time since the parent started this process
    # is the interpreter, the imports (the plugin's included) and configuration.
    _marks["configured"] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, Any, Any]:
    _enter("collection")
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        _leave(time.perf_counter() - started)


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, Any, Any]:
    _enter("reporting (terminal summary)")
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        _leave(time.perf_counter() - started)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Runs after the plugin's own unconfigure? Not guaranteed: teardown is timed by its
    # wrapper either way, and the document is written at exit so it sees it.
    import atexit

    atexit.register(_write)


def _write() -> None:
    out = os.environ.get(OUT_VARIABLE)
    if not out:
        return
    started = float(os.environ.get(STARTED_VARIABLE, "0") or 0)
    phases = {path: {"s": row[0], "calls": int(row[1])} for path, row in _totals.items()}
    ended = time.time()
    if started and "configured" in _marks:
        phases["start-up (interpreter, imports, configure)"] = {
            "s": _marks["configured"] - started,
            "calls": 1,
        }
    document = {
        "phases": phases,
        "ended": ended,
        "started": started,
    }
    with open(out, "w") as handle:
        json.dump(document, handle)
