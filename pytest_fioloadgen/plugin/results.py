"""The session's results at the end of a run, and the views of them: the terminal
summary, the exports (--fio-json, --fio-bmf, --fio-github-benchmark) and the pytest-html
hooks.

The results are assembled in one place: in a single pytest process they are its
BenchmarkSession's (plugin.state), under pytest-xdist what the controller collected from
its workers (plugin.distributed). Either hands a SessionResults to one SessionReport,
which is registered only where the results are assembled: an xdist worker records its
runs and sends them on, it reports nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..backends.medium import OPT_IN
from ..cases import CaseOutcome
from ..report import html_hooks as html_report
from ..report.export import (
    bencher_metric_format,
    session_document,
    write_github_action_benchmark,
    write_json,
)
from ..report.repeatability import repeatability_lines
from ..report.response_curve import curves
from ..report.terminal import (
    fault_lines,
    gating_lines,
    scaling_lines,
    summary_lines,
    timeline_lines,
)
from ..settings import Settings


@dataclass(frozen=True)
class SessionResults:
    """What the end-of-session views need, wherever the runs were assembled."""

    #: Every run's outcome, in the order they started.
    outcomes: list[CaseOutcome]
    #: The session id (one, unless runs came from elsewhere: then comma separated).
    session_ids: str
    labels: Mapping[str, str]
    fingerprint: dict[str, Any] | None
    #: The history store the runs were recorded in; None: no store (--fio-store none).
    store_uri: str | None
    #: How many runs of history gating needs before it compares (the [gating] table).
    min_baseline: int
    #: Buffered reads flagged as likely cache hits, each with its note.
    cache_suspects: list[tuple[CaseOutcome, str]]


#: The results so far; None while there are none to report.
ResultsSource = Callable[[], SessionResults | None]


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


class SessionReport:
    """The summary and exports of one session's results (a pytest plugin object)."""

    def __init__(self, settings: Settings, results: ResultsSource):
        self.settings = settings
        self._results = results
        self._written: list[Path] = []

    def html_hooks(self) -> html_report.HtmlHooks:
        """pytest-html's hooks over the same results."""

        def outcomes() -> list[CaseOutcome]:
            results = self._results()
            return results.outcomes if results is not None else []

        def fingerprint() -> dict[str, Any] | None:
            results = self._results()
            return results.fingerprint if results is not None else None

        return html_report.HtmlHooks(outcomes, fingerprint)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        results = self._results()
        if results is None or not results.outcomes:
            return
        settings, outcomes = self.settings, results.outcomes
        if settings.json is not None:
            write_json(
                settings.json,
                session_document(
                    results.session_ids,
                    outcomes,
                    labels=results.labels,
                    fingerprint=results.fingerprint,
                ),
            )
            self._written.append(settings.json)
        if settings.bmf is not None:
            write_json(settings.bmf, bencher_metric_format(outcomes))
            self._written.append(settings.bmf)
        if settings.github_benchmark is not None:
            self._written += write_github_action_benchmark(settings.github_benchmark, outcomes)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self._results()
        if results is None or not results.outcomes:
            return
        settings, outcomes = self.settings, results.outcomes
        has_store = results.store_uri is not None
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
        lines += gating_lines(
            outcomes,
            enabled=has_store and settings.baseline != "none",
            reason=reason,
            min_baseline=results.min_baseline,
        )
        lines += [f"cache? {outcome.case.id}: {note}" for outcome, note in results.cache_suspects]
        lines += repeatability_lines(outcomes)
        lines += timeline_lines(outcomes)
        lines += fault_lines(outcomes)
        lines += [curve.describe() for curve in curves(outcomes)]
        lines += _memory_target_lines(outcomes)
        for line in lines:
            terminalreporter.write_line(line)
        if has_store:
            terminalreporter.write_line(
                f"{len(outcomes)} runs recorded in {results.store_uri} "
                f"(session {results.session_ids})"
            )
        for path in self._written:
            terminalreporter.write_line(f"session results written to {path}")
