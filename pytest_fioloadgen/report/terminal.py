"""The session summary table printed at the end of a pytest run."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import numbers
from ..cases import Case, CaseOutcome
from ..settings import DEFAULT_SUMMARY_COLUMNS, SUMMARY_COLUMNS
from ..verdicts.phases import phase_line
from ..verdicts.regression import (
    DEFAULT_MIN_BASELINE,
    IMPROVEMENT,
    INCONCLUSIVE,
    INSUFFICIENT,
    REGRESSION,
    Comparison,
)
from ..verdicts.status import Status, worst


def short_test(test: str) -> str:
    """A test as the summary names it: the function (Class::function) without the path."""
    return test.split("::", 1)[1] if "::" in test else test or "-"


@dataclass(frozen=True)
class SummaryRow:
    """One measurement of the session: the repeats (and confirmation runs) of one case key,
    shown as one row with their median and spread."""

    outcomes: tuple[CaseOutcome, ...]

    @property
    def case(self) -> Case:
        return self.outcomes[-1].case

    def values(self, metric: str) -> list[float]:
        found = (o.result.metrics.get(metric) for o in self.outcomes)
        return [value for value in found if value is not None and math.isfinite(value)]

    def median(self, metric: str) -> float | None:
        values = self.values(metric)
        return float(statistics.median(values)) if values else None

    def cv_pct(self, metric: str) -> float | None:
        """Coefficient of variation of the repeats (percent; None for one run)."""
        values = self.values(metric)
        if len(values) < 2 or not statistics.fmean(values):
            return None
        return statistics.stdev(values) / abs(statistics.fmean(values)) * 100.0

    def comparison(self, metric: str) -> Comparison | None:
        """The stored comparison of ``metric`` (made once, at the key's last repeat)."""
        for outcome in reversed(self.outcomes):
            for comparison in outcome.comparisons:
                if comparison.metric == metric:
                    return comparison
        return None

    @property
    def verdict(self) -> Status:
        """The verdict of the measurement: its last run's (decided after every repeat and
        confirmation), or worse when an earlier repeat errored or broke a limit."""
        last = Status.parse(self.outcomes[-1].record.verdict)
        earlier = (Status.parse(o.record.verdict) for o in self.outcomes[:-1])
        return worst([last, *(s for s in earlier if s in (Status.ERROR, Status.FAIL))])

    def cell(self, column: str) -> str:
        return _CELLS[column](self)


def _spread_cell(row: SummaryRow, metric: str) -> str:
    """The median, and the min-max range of the repeats when there are several (the
    header names the unit)."""
    values = row.values(metric)
    if not values:
        return "-"
    median = numbers.plain(metric, statistics.median(values))
    if len(values) < 2:
        return median
    return f"{median} ({numbers.plain(metric, min(values))}-{numbers.plain(metric, max(values))})"


def _verdict_cell(row: SummaryRow) -> str:
    # The stored verdict, never recomputed here.
    text = row.verdict.value
    if any(o.cache_note for o in row.outcomes):
        text += " (cache?)"
    return text


def _baseline_cell(row: SummaryRow) -> str:
    comparison = row.comparison("iops")
    if comparison is None or comparison.baseline_center is None:
        return "-"
    return f"{numbers.si(comparison.baseline_center)} (n={comparison.baseline_n})"


def _delta_cell(row: SummaryRow) -> str:
    comparison = row.comparison("iops")
    return numbers.percent(comparison.delta_pct if comparison else None)


_CELLS: dict[str, Callable[[SummaryRow], str]] = {
    "test": lambda row: short_test(row.case.test),
    "profile": lambda row: row.case.name,
    "target": lambda row: row.case.target,
    "workers": lambda row: str(row.case.workers),
    "runs": lambda row: str(len(row.outcomes)),
    "baseline": _baseline_cell,
    "iops": lambda row: _spread_cell(row, "iops"),
    "delta": _delta_cell,
    "cv": lambda row: numbers.percent(row.cv_pct("iops")).lstrip("+"),
    "bw": lambda row: _spread_cell(row, "bw_mib_s"),
    "read_mean": lambda row: numbers.metric("read_lat_mean_ms", row.median("read_lat_mean_ms")),
    "read_p99": lambda row: numbers.metric("read_lat_p99_ms", row.median("read_lat_p99_ms")),
    "write_mean": lambda row: numbers.metric("write_lat_mean_ms", row.median("write_lat_mean_ms")),
    "write_p99": lambda row: numbers.metric("write_lat_p99_ms", row.median("write_lat_p99_ms")),
    "verdict": _verdict_cell,
}
HEADERS = {
    "test": "test",
    "case": "case",
    "profile": "profile",
    "target": "target",
    "workers": "workers",
    "runs": "runs",
    "baseline": "baseline IOPS",
    "iops": "IOPS (min-max)",
    "delta": "delta",
    "cv": "CV",
    "bw": "MiB/s (min-max)",
    "read_mean": "read mean",
    "read_p99": "read p99",
    "write_mean": "write mean",
    "write_p99": "write p99",
    "verdict": "verdict",
}
#: Columns shown as text (left-aligned); the rest are numbers.
_TEXT_COLUMNS = frozenset({"test", "case", "profile", "target", "verdict"})
assert set(_CELLS) == set(SUMMARY_COLUMNS) == set(HEADERS) - {"case"}


#: Sorts by a metric: throughput highest first, latency lowest first (best first, as
#: pytest-benchmark sorts), rows without the value last.
_SORT_METRICS = {
    "iops": ("iops", -1.0),
    "bw": ("bw_mib_s", -1.0),
    "read_p99": ("read_lat_p99_ms", 1.0),
    "write_p99": ("write_lat_p99_ms", 1.0),
}


def _sort_key(sort: str) -> Callable[[SummaryRow], Any]:
    if sort == "verdict":
        return lambda row: -row.verdict.severity
    if sort == "delta":

        def delta(row: SummaryRow) -> float:
            comparison = row.comparison("iops")
            if comparison is None or comparison.delta_pct is None:
                return math.inf
            return comparison.delta_pct  # the worst drop first

        return delta
    if sort == "cv":
        return lambda row: -(row.cv_pct("iops") or 0.0)
    if sort in _SORT_METRICS:
        metric, sign = _SORT_METRICS[sort]

        def by_metric(row: SummaryRow) -> float:
            value = row.median(metric)
            return math.inf if value is None else sign * value

        return by_metric
    if sort in ("workers",):
        return lambda row: row.case.workers
    if sort in ("profile", "target", "test"):
        return lambda row: row.cell(sort)
    return lambda _row: 0  # name: the run order (sorted() is stable)


def summary_rows(outcomes: Sequence[CaseOutcome]) -> list[SummaryRow]:
    """One row per case key, in the order the keys first ran."""
    by_key: dict[tuple[str, str, int, str], list[CaseOutcome]] = {}
    for outcome in outcomes:
        by_key.setdefault(outcome.case.key, []).append(outcome)
    return [SummaryRow(tuple(found)) for found in by_key.values()]


def _case_cell(row: SummaryRow) -> str:
    return f"{row.case.name}-w{row.case.workers}-{row.case.target}"


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    text_columns: int = 1,
    text: Sequence[bool] | None = None,
) -> list[str]:
    """Text columns left-aligned (the first ``text_columns``, or where ``text`` is true),
    numbers right-aligned, as plain lines."""
    is_text = list(text) if text is not None else [i < text_columns for i in range(len(header))]
    widths = [len(title) for title in header]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        aligned = [
            cell.ljust(width) if is_text[index] else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(aligned).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def _group_order(group: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """Groups in natural order: worker counts as numbers (2 before 16)."""
    return tuple((int(value), "") if value.isdigit() else (0, value) for value in group)


def summary_lines(
    outcomes: Sequence[CaseOutcome],
    *,
    columns: Sequence[str] = DEFAULT_SUMMARY_COLUMNS,
    sort: str = "name",
    group_by: Sequence[str] = (),
) -> list[str]:
    """The session summary: one row per measurement (repeats folded into median and
    range), the chosen columns, sorted, one table per group."""
    rows = sorted(summary_rows(outcomes), key=_sort_key(sort))
    # The case is always shown, after the test that names it; a grouped key is in the
    # group's heading instead of a column.
    shown = [column for column in columns if column not in group_by and column != "test"]
    order = [*(["test"] if "test" in columns and "test" not in group_by else []), "case", *shown]
    header = [HEADERS.get(column, column) for column in order]
    text = [column in _TEXT_COLUMNS for column in order]
    groups: dict[tuple[str, ...], list[SummaryRow]] = {}
    for row in rows:
        groups.setdefault(tuple(row.cell(key) for key in group_by), []).append(row)
    lines: list[str] = []
    for group, members in sorted(groups.items(), key=lambda item: _group_order(item[0])):
        if group_by:
            named = zip(group_by, group, strict=True)
            lines.append("group " + ", ".join(f"{key}={value}" for key, value in named))
        cells = [
            [_case_cell(row) if column == "case" else row.cell(column) for column in order]
            for row in members
        ]
        lines += format_table(header, cells, text=text)
    return lines


def scaling_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """One row per profile/target: scaling efficiency by worker count (mean of repeats)."""
    series: dict[tuple[str, str, str], dict[int, list[float]]] = {}
    for outcome in outcomes:
        efficiency = outcome.result.metrics.get("scaling_efficiency")
        if efficiency is None:
            continue
        test, name, workers, target = outcome.case.key
        series.setdefault((test, name, target), {}).setdefault(workers, []).append(efficiency)
    lines = []
    for (_test, profile, target), by_workers in series.items():
        if len(by_workers) < 2:
            continue
        cells = "  ".join(
            f"w{workers} {sum(values) / len(values):.2f}"
            for workers, values in sorted(by_workers.items())
        )
        lines.append(f"scaling {profile}/{target}: {cells}")
    return lines


def gating_lines(
    outcomes: Sequence[CaseOutcome],
    *,
    enabled: bool,
    reason: str = "",
    min_baseline: int = DEFAULT_MIN_BASELINE,
) -> list[str]:
    """What regression gating concluded. Keys with too little history get one line for
    all of them: when gating starts and how to seed a baseline now."""
    if not enabled:
        return [f"regression gating off{': ' + reason if reason else ''}"]
    judged = [o for o in outcomes if o.comparisons]
    regressions = [o for o in judged if o.status is Status.REGRESSION]
    improved = [o for o in judged if o.status is Status.IMPROVED]
    inconclusive = [o for o in judged if o.status is Status.INCONCLUSIVE]
    short = [o for o in judged if all(c.status == INSUFFICIENT for c in o.comparisons)]
    lines = []
    if len(short) < len(judged):
        lines.append(
            f"regression gating: {len(judged) - len(short)} case(s) compared with history, "
            f"{len(regressions)} regression(s), {len(improved)} improved, "
            f"{len(inconclusive)} inconclusive"
        )
    for outcome in regressions:
        for comparison in outcome.comparisons:
            if comparison.status == REGRESSION:
                lines.append(f"  REGRESSION {outcome.case.id}: {comparison.message()}")
    for outcome in improved:
        for comparison in outcome.comparisons:
            if comparison.status == IMPROVEMENT:
                lines.append(f"  improved {outcome.case.id}: {comparison.message()}")
    for outcome in inconclusive:
        for comparison in outcome.comparisons:
            if comparison.status == INCONCLUSIVE:
                lines.append(
                    f"  inconclusive {outcome.case.id}: {comparison.metric}"
                    f" {comparison.power_hint()}"
                )
    if short:
        counts = sorted({o.comparisons[0].baseline_n for o in short})
        had = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        which = "every case" if len(short) == len(judged) else f"{len(short)} case(s)"
        line = (
            f"regression gating starts after {min_baseline} recorded runs of each case's key "
            f"({which}: {had} baseline run(s), {short[0].comparisons[0].baseline}); "
        )
        # Runs this session recorded of each key still short of history (repeats count).
        recorded = Counter(o.case.key for o in outcomes)
        if all(counts[0] + recorded[o.case.key] >= min_baseline for o in short):
            line += "this session recorded enough: the next one is gated"
        else:
            line += (
                f"to gate from the next session, seed now with --fio-repeat {min_baseline}, "
                "or pin runs of several sessions: fioloadgen baseline set NAME --sessions "
                "A,B,C, then --fio-baseline NAME"
            )
        lines.append(line)
    return lines


def timeline_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """One line per run whose timeline said something (window skew, a straggler,
    imbalance, a stall): the stored findings, never judged again here."""
    lines = []
    for outcome in outcomes:
        stored = outcome.record.evidence.get("timeline") or {}
        findings = [f"{f['code']} {f['name']}: {f['message']}" for f in stored.get("findings", [])]
        if findings:
            lines.append(f"timeline {outcome.case.id}: " + "; ".join(findings))
    return lines


def fault_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """One line per run under a fault: its phases as stored (verdicts/phases.py)."""
    lines = []
    for outcome in outcomes:
        phases = outcome.record.evidence.get("phases")
        if phases:
            lines.append(f"fault {outcome.case.id}: {phase_line(phases)}")
        for event in outcome.record.evidence.get("faults") or []:
            if event.get("error"):
                lines.append(f"fault {outcome.case.id}: {event['describe']}: {event['error']}")
    return lines
