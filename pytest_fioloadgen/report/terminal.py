"""The session summary table printed at the end of a pytest run."""

from __future__ import annotations

from collections.abc import Sequence

from ..session import CaseOutcome
from ..verdicts.regression import IMPROVEMENT, INCONCLUSIVE, INSUFFICIENT, REGRESSION
from ..verdicts.status import Status

COLUMNS = ("test", "case", "IOPS", "MiB/s", "read p99 ms", "write p99 ms", "verdict")


def short_test(test: str) -> str:
    """A test as the summary names it: the function (Class::function) without the path."""
    return test.split("::", 1)[1] if "::" in test else test or "-"


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _verdict(outcome: CaseOutcome) -> str:
    # The stored verdict, never recomputed here.
    status = str(outcome.record.verdict or Status.NONE)
    if outcome.cache_note:
        status += " (cache?)"
    return status


def summary_rows(outcomes: Sequence[CaseOutcome]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        metrics = outcome.result.metrics
        rows.append(
            (
                short_test(outcome.case.test),
                outcome.case.id,
                _number(metrics.get("iops"), 0),
                _number(metrics.get("bw_mib_s"), 1),
                _number(metrics.get("read_lat_p99_ms"), 3),
                _number(metrics.get("write_lat_p99_ms"), 3),
                _verdict(outcome),
            )
        )
    return rows


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1
) -> list[str]:
    """The first ``text_columns`` left-aligned, numbers right-aligned, as plain lines."""
    widths = [len(title) for title in header]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        aligned = [
            cell.ljust(width) if index < text_columns else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(aligned).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def summary_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    return format_table(COLUMNS, summary_rows(outcomes), text_columns=2)


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


def gating_lines(outcomes: Sequence[CaseOutcome], *, enabled: bool, reason: str = "") -> list[str]:
    """What regression gating concluded, including cases it could not judge."""
    if not enabled:
        return [f"regression gating off{': ' + reason if reason else ''}"]
    judged = [o for o in outcomes if o.comparisons]
    regressions = [o for o in judged if o.status is Status.REGRESSION]
    improved = [o for o in judged if o.status is Status.IMPROVED]
    inconclusive = [o for o in judged if o.status is Status.INCONCLUSIVE]
    short = [o for o in judged if all(c.status == INSUFFICIENT for c in o.comparisons)]
    lines = [
        f"regression gating: {len(judged)} case(s) compared with history, "
        f"{len(regressions)} regression(s), {len(improved)} improved, "
        f"{len(inconclusive)} inconclusive, {len(short)} with too little history"
    ]
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
    for outcome in short:
        first = outcome.comparisons[0]
        lines.append(
            f"  too little history {outcome.case.id}: {first.baseline_n} baseline run(s) "
            f"of key {first.history_key} ({first.baseline})"
        )
    return lines
