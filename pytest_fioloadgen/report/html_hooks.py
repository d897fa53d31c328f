"""pytest-html 4 integration: results-table columns, the session summary section and the
environment fingerprint. Registered by the plugin only when pytest-html is active (its
hook names are unknown to pytest otherwise).

The per-test extras themselves are attached in the plugin's ``pytest_runtest_makereport``;
this module only adds what pytest-html asks for through its own hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import pytest

from ..session import CaseOutcome
from ..store.base import RunRecord
from .html import delta_text, number, outcome_html, overall_verdict, page_styles
from .summary import environment_facts, session_section

#: Columns added after pytest-html's "Test" column: (sort key, title).
COLUMNS = (("fio-iops", "IOPS"), ("fio-p99", "p99 ms"), ("fio-delta", "delta vs baseline"))
VERDICT_COLUMN = ("fio-verdict", "fio verdict")
ROW_ATTRIBUTE = "fioloadgen_cells"
ENVIRONMENT_KEY = "fioloadgen fingerprint"
_SEVERITY = {"fail": 3, "error": 3, "regression": 2, "pass": 1, "none": 0}


def row_cells(outcomes: Sequence[CaseOutcome]) -> dict[str, str]:
    """The table cells of a test that ran one or more cases (several: one line each)."""
    iops, p99, delta, verdicts = [], [], [], []
    for outcome in outcomes:
        metrics = outcome.result.metrics
        iops.append(number(metrics.get("iops"), 0))
        latencies = [
            value
            for value in (metrics.get("read_lat_p99_ms"), metrics.get("write_lat_p99_ms"))
            if value is not None
        ]
        p99.append(number(max(latencies) if latencies else None, 3))
        compared = next((c for c in outcome.comparisons if c.metric == "iops"), None)
        delta.append(delta_text(compared.delta_pct if compared else None))
        verdicts.append(overall_verdict(outcome.verdict.status, outcome.comparisons))
    worst = max(verdicts, key=lambda v: _SEVERITY.get(v, 0)) if verdicts else ""
    return {
        "fio-iops": "<br>".join(iops),
        "fio-p99": "<br>".join(p99),
        "fio-delta": "<br>".join(delta),
        "fio-verdict": escape(worst),
    }


def attach(
    report: pytest.TestReport,
    outcomes: Sequence[CaseOutcome],
    history_of: Callable[[RunRecord], Sequence[RunRecord]],
) -> None:
    """Add one extra per case and remember the table cells on the report."""
    from pytest_html import extras  # imported only when pytest-html is active

    attached = list(getattr(report, "extras", []))
    attached += [extras.html(outcome_html(o, history_of(o.record))) for o in outcomes]
    report.extras = attached  # type: ignore[attr-defined]
    setattr(report, ROW_ATTRIBUTE, row_cells(outcomes))


class HtmlHooks:
    """pytest-html hooks; ``outcomes`` and ``fingerprint`` read the session's state."""

    def __init__(
        self,
        outcomes: Callable[[], Sequence[CaseOutcome]],
        fingerprint: Callable[[], Mapping[str, Any] | None],
    ):
        self._outcomes = outcomes
        self._fingerprint = fingerprint

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        # pytest-html sorts a column by the text of the td whose class is col-<key>.
        added = [
            f'<th class="sortable" data-column-type="{key}">{title}</th>'
            for key, title in (*COLUMNS, VERDICT_COLUMN)
        ]
        cells[2:2] = added

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        values = getattr(report, ROW_ATTRIBUTE, None) or {}
        added = [
            f'<td class="col-{key}">{values.get(key, "")}</td>'
            for key, _title in (*COLUMNS, VERDICT_COLUMN)
        ]
        cells[2:2] = added

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        outcomes = self._outcomes()
        if not outcomes:
            return
        prefix.append(page_styles())
        postfix.append(session_section(outcomes))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # pytest-html renders the Environment table from pytest-metadata's dict when it
        # writes the report (its own sessionfinish, trylast); the fingerprint is only known
        # once a case has run, so it is added here.
        fingerprint = self._fingerprint()
        if not fingerprint:
            return
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover - pytest-html 4 requires pytest-metadata 3
            return
        metadata = session.config.stash.get(metadata_key, None)
        if metadata is not None:
            metadata[ENVIRONMENT_KEY] = environment_facts(fingerprint)
