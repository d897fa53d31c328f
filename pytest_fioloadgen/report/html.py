"""Results as HTML fragments: pytest-html extras, and the run pages of the static site.

Every fragment is self-contained HTML with inline SVG charts (pytest-html runs no scripts
inside extras). Charts share one stylesheet per page (``charts.chart_stylesheet``), which
the page adds once. All user text (case ids, worker names, labels, notes) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .. import numbers
from ..cases import CaseOutcome
from ..fio.results import RunResult, worker_metrics
from ..fio.spectrum import run_spectrum
from ..fio.timeline import timeline_of
from ..fio.timeseries import timeseries_of
from ..store.base import RunRecord
from ..verdicts.phases import phase_line
from ..verdicts.regression import INCONCLUSIVE, REGRESSION, Comparison
from ..verdicts.status import Status
from . import charts
from .timeline_view import PHASE_COLUMNS, phase_rows, timeline_view

#: Headline metrics of the summary table: (title, metric name); values carry their unit.
SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("IOPS", "iops"),
    ("MiB/s", "bw_mib_s"),
    ("read p99", "read_lat_p99_ms"),
    ("write p99", "write_lat_p99_ms"),
    ("read mean", "read_lat_mean_ms"),
    ("write mean", "write_lat_mean_ms"),
    ("scaling efficiency", "scaling_efficiency"),
)
#: How many past runs of the history key the sparkline shows.
SPARKLINE_RUNS = 30


def number(value: float | None, metric: str = "") -> str:
    """A figure in the one number format (pytest_fioloadgen.numbers): 3 significant digits,
    with ``metric``'s unit (1.20 ms, 114 MiB/s), else an SI count (29.1k)."""
    if value is None:
        return "-"
    return numbers.metric(metric, value) if metric else numbers.si(value)


def delta_text(delta_pct: float | None) -> str:
    return numbers.percent(delta_pct)


@dataclass(frozen=True)
class RunView:
    """What a run fragment shows: the stored record (its verdict and the evidence it was
    decided on) and its parsed result. Built the same way from a live outcome and from a
    stored run, so a view can only show what the session decided."""

    title: str
    result: RunResult
    record: RunRecord

    @classmethod
    def of(cls, outcome: CaseOutcome) -> RunView:
        return cls(title=outcome.case.id, result=outcome.result, record=outcome.record)

    @property
    def status(self) -> Status:
        return Status.parse(self.record.verdict)

    @property
    def reason(self) -> str:
        return str(self.record.evidence.get("reason", ""))

    @property
    def comparisons(self) -> list[Comparison]:
        return stored_comparisons(self.record)

    @property
    def checks(self) -> list[Mapping[str, Any]]:
        return list(self.record.evidence.get("checks", []))


def stored_comparisons(record: RunRecord) -> list[Comparison]:
    """The comparisons stored with a run (for display: their verdicts are stored too)."""
    found = []
    for item in record.evidence.get("comparisons", []):
        try:
            found.append(Comparison(**item))
        except TypeError:
            continue  # written by another version of the schema: shown through the reason
    return found


#: Badge colours: good, bad, unsure, nothing judged; per run status and per comparison.
_BADGE = {
    Status.PASS: "ok",
    Status.IMPROVED: "ok",
    "unchanged": "ok",
    "improvement": "ok",
    Status.FAIL: "bad",
    Status.REGRESSION: "bad",
    Status.ERROR: "bad",
    Status.UNSTABLE: "bad",
    "regression": "bad",
    Status.SUSPECT: "warn",
    Status.INCONCLUSIVE: "warn",
    "inconclusive": "warn",
}


def verdict_badge(status: str) -> str:
    if not status or status == "-":
        return "-"
    css = _BADGE.get(status, "none")
    return (
        f'<span class="fio-verdict fio-{css}" data-status="{escape(status)}">'
        f"{escape(status)}</span>"
    )


def _metric_rows(view: RunView) -> list[tuple[str, str]]:
    """Headline metrics first, then every other metric that was compared or checked."""
    rows = [row for row in SUMMARY_METRICS if row[1] in view.result.metrics]
    known = {name for _title, name in rows}
    extra = [c.metric for c in view.comparisons] + [str(c["metric"]) for c in view.checks]
    for name in extra:
        if name not in known:
            known.add(name)
            rows.append((name, name))
    return rows


def summary_table(view: RunView) -> str:
    """Each metric with its baseline, delta % and the stored per-metric outcome."""
    comparisons = {c.metric: c for c in view.comparisons}
    checks: dict[str, list[Mapping[str, Any]]] = {}
    for check in view.checks:
        checks.setdefault(str(check["metric"]), []).append(check)
    parts = [
        '<table class="fio-summary"><thead><tr><th>metric</th><th>current</th>'
        "<th>baseline</th><th>delta</th><th>threshold</th><th>verdict</th></tr></thead><tbody>"
    ]
    for title, name in _metric_rows(view):
        current = view.result.metrics.get(name)
        comparison = comparisons.get(name)
        baseline = "-"
        delta = "-"
        status = ""
        if comparison is not None:
            if comparison.baseline_center is not None:
                spread = comparison.baseline_spread
                baseline = number(comparison.baseline_center, name)
                if spread is not None:
                    baseline += f" ± {number(spread, name)}"
                baseline += f" (n={comparison.baseline_n})"
            delta = delta_text(comparison.delta_pct)
            status = comparison.status
        metric_checks = checks.get(name, [])
        limits = "; ".join(
            f"{c['bound']} {float(c['limit']):g}" + (f" ({c['worker']})" if c.get("worker") else "")
            for c in metric_checks
        )
        if metric_checks and any(not c.get("passed") for c in metric_checks):
            status = "fail"
        elif metric_checks and not status:
            status = "pass"
        row_title = escape(comparison.message()) if comparison is not None else ""
        parts.append(
            f'<tr title="{row_title}"><td>{escape(title)}</td><td>{number(current, name)}</td>'
            f"<td>{escape(baseline)}</td><td>{escape(delta)}</td><td>{escape(limits or '-')}</td>"
            f"<td>{verdict_badge(status)}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def workers_table(result: RunResult) -> str:
    parts = [
        '<table class="fio-workers"><thead><tr><th>worker</th><th>IOPS</th><th>MiB/s</th>'
        "<th>read p99</th><th>write p99</th></tr></thead><tbody>"
    ]
    for worker in result.workers:
        figures = worker_metrics(worker)
        parts.append(
            f"<tr><td>{escape(worker.name)}</td><td>{number(figures.get('iops'))}</td>"
            f"<td>{number(figures.get('bw_mib_s'), 'bw_mib_s')}</td>"
            f"<td>{number(figures.get('read_lat_p99_ms'), 'read_lat_p99_ms')}</td>"
            f"<td>{number(figures.get('write_lat_p99_ms'), 'write_lat_p99_ms')}</td></tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def phases_table(evidence: Mapping[str, Any]) -> str:
    """The stored phases around the run's fault, one row each ("" without a fault)."""
    rows = phase_rows(evidence)
    if not rows:
        return ""
    stored = evidence.get("phases") or {}
    heads = "".join(f"<th>{escape(name)}</th>" for name in ("phase", "seconds", *PHASE_COLUMNS))
    parts = [f'<table class="fio-phases"><thead><tr>{heads}</tr></thead><tbody>']
    for row in rows:
        span = f"{row['from_s']:.2f}-{row['to_s']:.2f}" if row["from_s"] is not None else "-"
        cells = "".join(f"<td>{number(row[name], name)}</td>" for name in PHASE_COLUMNS)
        parts.append(f"<tr><td>{escape(row['phase'])}</td><td>{span}</td>{cells}</tr>")
    parts.append("</tbody></table>")
    parts.append(f'<p class="fio-phase-line">{escape(phase_line(stored))}</p>')
    return "".join(parts)


def history_sparkline(history: Sequence[RunRecord], current_run_id: str) -> str | None:
    """IOPS of the key's recent runs (``history`` newest first), this run marked."""
    runs = [run for run in history if run.status == "complete" and "iops" in run.metrics]
    runs = list(reversed(runs[:SPARKLINE_RUNS]))
    if not runs:
        return None
    index = next((i for i, run in enumerate(runs) if run.run_id == current_run_id), None)
    values = [run.metrics["iops"] for run in runs]
    svg = charts.sparkline(values, index)
    if svg is None:
        return None
    # The figures a sparkline alone cannot give: the last value and the range.
    last, low, high = numbers.si(values[-1]), numbers.si(min(values)), numbers.si(max(values))
    return (
        f'<div class="fio-sparkline"><span>IOPS history of this key ({len(runs)} runs, '
        f'this run marked)</span>{svg}<span class="fio-spark-figures">last {last} · range '
        f"{low} to {high}</span></div>"
    )


def run_charts(
    result: RunResult,
    series: Mapping[str, object] | None,
    evidence: Mapping[str, Any] | None = None,
    spectrum: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    distribution = list((evidence or {}).get("distribution") or [])
    svgs = [
        charts.percentile_distribution(spectrum or run_spectrum(result), distribution),
        charts.worker_iops(result),
    ]
    stored = timeline_of(result.raw)
    if stored is not None:
        view = timeline_view(stored, evidence)
        svgs += [charts.timeline(view, "iops"), charts.timeline(view, "lat")]
    elif series:
        svgs += [charts.timeseries(series, "iops"), charts.timeseries(series, "lat")]
    return [svg for svg in svgs if svg]


def run_fragment(view: RunView, history: Sequence[RunRecord] = ()) -> str:
    """The whole per-run block: summary, per-worker table, charts, checks, notes."""
    record = view.record
    parts = [
        f'<div class="fioloadgen-result" data-run-id="{escape(record.run_id)}">'
        f"<h4>fio {escape(view.title)} {verdict_badge(view.status)}</h4>"
    ]
    if view.reason:
        parts.append(f'<p class="fio-reason">{escape(view.reason)}</p>')
    sparkline = history_sparkline(history, record.run_id)
    if sparkline:
        parts.append(sparkline)
    parts.append(summary_table(view))
    parts.append(workers_table(view.result))
    parts.append(phases_table(record.evidence))
    parts.append('<div class="fio-charts">')
    parts += run_charts(
        view.result, timeseries_of(view.result.raw), record.evidence, record.spectrum
    )
    parts.append("</div>")
    failed = [check for check in view.checks if not check.get("passed")]
    if failed:
        parts.append('<ul class="fio-checks">')
        parts += [f"<li>FAIL: {escape(str(check.get('message', '')))}</li>" for check in failed]
        parts.append("</ul>")
    regressions = [c for c in view.comparisons if c.status in (REGRESSION, INCONCLUSIVE)]
    if regressions:
        parts.append('<ul class="fio-checks">')
        parts += [f"<li>{escape(c.message())}</li>" for c in regressions]
        parts.append("</ul>")
    if record.notes:
        parts.append("<p>profile changes: " + escape("; ".join(record.notes)) + "</p>")
    parts.append(
        f'<p class="fio-meta">run {escape(record.run_id)} · key '
        f"{escape(record.history_key or '-')}</p></div>"
    )
    return "".join(parts)


def outcome_html(outcome: CaseOutcome, history: Sequence[RunRecord] = ()) -> str:
    """The pytest-html extra of one case."""
    return run_fragment(RunView.of(outcome), history)


#: Styles of the fragments, added once per page next to the chart stylesheet.
FRAGMENT_CSS = """
.fioloadgen-result table{border-collapse:collapse;margin:4px 0 8px}
.fioloadgen-result th,.fioloadgen-result td,.fio-matrix th,.fio-matrix td{
border:1px solid #ddd;padding:2px 8px;text-align:right;font-size:12px}
.fioloadgen-result td:first-child,.fio-matrix td:first-child{text-align:left}
.fio-charts{display:flex;flex-wrap:wrap;gap:8px}
.fio-verdict{padding:0 6px;border-radius:3px;font-size:11px;color:#fff;background:#757575}
.fio-ok{background:#2e7d32}.fio-bad{background:#c62828}.fio-none{background:#757575}
.fio-warn{background:#b45309}.fio-reason{font-size:12px;margin:2px 0}
.fio-sparkline{display:flex;align-items:center;gap:8px;font-size:12px}
.fio-meta{color:#777;font-size:11px}
.fio-matrix{border-collapse:collapse;margin:8px 0}
"""


def page_styles() -> str:
    """The one <style> element a page with fragments and charts needs."""
    return f"<style>{charts.chart_stylesheet()}{FRAGMENT_CSS}</style>"
