"""pytest-html 4 integration: results-table columns, the session summary section and the
environment fingerprint. Registered by the plugin only when pytest-html is active (its
hook names are unknown to pytest otherwise).

The per-test extras themselves are attached in the plugin's ``pytest_runtest_makereport``;
this module only adds what pytest-html asks for through its own hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from ..cases import CaseOutcome
from ..store.base import RunRecord
from ..verdicts.status import worst
from .html import delta_text, number, outcome_html, page_styles, verdict_badge
from .response_curve import curves_section
from .summary import environment_facts, session_section

#: Columns added after pytest-html's "Test" column: (key, title). pytest-html takes a
#: column's sort value from ``td.col-<key>`` with ``\w+``, so keys have no hyphens.
COLUMNS = (
    ("fioiops", "IOPS"),
    ("fiop99", "p99 latency (the slower direction)"),
    ("fiodelta", "delta vs baseline"),
    ("fioverdict", "fio verdict"),
)
ROW_ATTRIBUTE = "fioloadgen_cells"
ENVIRONMENT_KEY = "fioloadgen fingerprint"
#: Added to a delta before padding, so that negative deltas sort as numbers too.
_DELTA_OFFSET = 1_000_000.0


def _sort_key(value: float | None) -> str:
    """A hidden, zero-padded prefix: pytest-html sorts a column by comparing the cell's
    HTML as text, which would put "9,000" after "10,000"."""
    padded = "" if value is None else f"{value:020.6f}"
    return f"<span hidden>{padded}</span>"


def row_cells(outcomes: Sequence[CaseOutcome]) -> dict[str, str]:
    """The table cells of a test that ran one or more cases (several: one line each,
    sorted by the first)."""
    iops: list[float | None] = []
    p99: list[float | None] = []
    p99_text: list[str] = []
    delta: list[float | None] = []
    verdicts = []
    for outcome in outcomes:
        metrics = outcome.result.metrics
        iops.append(metrics.get("iops"))
        latencies = [
            (value, direction)
            for direction in ("read", "write")
            if (value := metrics.get(f"{direction}_lat_p99_ms")) is not None
        ]
        # The slower direction's p99, named: a latency never stands without read or write.
        slower = max(latencies) if latencies else None
        p99.append(slower[0] if slower else None)
        p99_text.append(f"{slower[1]} {number(slower[0], 'read_lat_p99_ms')}" if slower else "-")
        compared = next((c for c in outcome.comparisons if c.metric == "iops"), None)
        delta.append(compared.delta_pct if compared else None)
        verdicts.append(outcome.record.verdict)
    if not outcomes:
        return {}
    first_delta = delta[0] + _DELTA_OFFSET if delta[0] is not None else None
    return {
        "fioiops": _sort_key(iops[0]) + "<br>".join(number(v) for v in iops),
        "fiop99": _sort_key(p99[0]) + "<br>".join(p99_text),
        "fiodelta": _sort_key(first_delta) + "<br>".join(delta_text(v) for v in delta),
        # The stored verdicts (the worst of a test's runs in the one cell).
        "fioverdict": verdict_badge(worst(verdicts).value),
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
            f'<th class="sortable" data-column-type="{key}">{title}</th>' for key, title in COLUMNS
        ]
        cells[2:2] = added

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        values = getattr(report, ROW_ATTRIBUTE, None) or {}
        added = [f'<td class="col-{key}">{values.get(key, "")}</td>' for key, _title in COLUMNS]
        cells[2:2] = added

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        outcomes = self._outcomes()
        if not outcomes:
            return
        prefix.append(page_styles())
        postfix.append(session_section(outcomes))
        postfix.append(curves_section(outcomes))

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
