"""Results as HTML tables for pytest-html extras (charts come with the reports issue)."""

from __future__ import annotations

from html import escape

from ..fio.results import worker_metrics
from ..session import CaseOutcome

_SUMMARY_METRICS = (
    ("IOPS", "iops", 0),
    ("MiB/s", "bw_mib_s", 1),
    ("read p99 ms", "read_lat_p99_ms", 3),
    ("write p99 ms", "write_lat_p99_ms", 3),
    ("read mean ms", "read_lat_mean_ms", 3),
    ("write mean ms", "write_lat_mean_ms", 3),
    ("scaling efficiency", "scaling_efficiency", 2),
)


def _cell(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def outcome_table(outcome: CaseOutcome) -> str:
    """One self-contained HTML fragment: headline metrics, per-worker rows, checks, notes."""
    metrics = outcome.result.metrics
    parts = [f'<div class="fioloadgen-result"><h4>fio {escape(outcome.case.id)}</h4>']
    parts.append('<table class="fioloadgen-metrics"><tr>')
    parts += [f"<th>{escape(title)}</th>" for title, _name, _digits in _SUMMARY_METRICS]
    parts.append("<th>verdict</th></tr><tr>")
    parts += [
        f"<td>{_cell(metrics.get(name), digits)}</td>" for _title, name, digits in _SUMMARY_METRICS
    ]
    parts.append(f"<td>{escape(outcome.verdict.status)}</td></tr></table>")
    parts.append(
        '<table class="fioloadgen-workers"><tr><th>worker</th><th>IOPS</th><th>MiB/s</th>'
        "<th>read p99 ms</th><th>write p99 ms</th></tr>"
    )
    for worker in outcome.result.workers:
        figures = worker_metrics(worker)
        parts.append(
            f"<tr><td>{escape(worker.name)}</td><td>{_cell(figures.get('iops'), 0)}</td>"
            f"<td>{_cell(figures.get('bw_mib_s'), 1)}</td>"
            f"<td>{_cell(figures.get('read_lat_p99_ms'), 3)}</td>"
            f"<td>{_cell(figures.get('write_lat_p99_ms'), 3)}</td></tr>"
        )
    parts.append("</table>")
    if outcome.verdict.checks:
        parts.append('<ul class="fioloadgen-checks">')
        parts += [
            f"<li>{'ok' if check.passed else 'FAIL'}: {escape(check.message())}</li>"
            for check in outcome.verdict.checks
        ]
        parts.append("</ul>")
    if outcome.record.notes:
        parts.append("<p>profile changes: " + escape("; ".join(outcome.record.notes)) + "</p>")
    parts.append(f"<p>run id {escape(outcome.record.run_id)}</p></div>")
    return "".join(parts)
