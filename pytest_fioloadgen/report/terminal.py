"""The session summary table printed at the end of a pytest run."""

from __future__ import annotations

from collections.abc import Sequence

from ..session import CaseOutcome

COLUMNS = ("case", "IOPS", "MiB/s", "read p99 ms", "write p99 ms", "verdict")


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def summary_rows(outcomes: Sequence[CaseOutcome]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        metrics = outcome.result.metrics
        rows.append(
            (
                outcome.case.id,
                _number(metrics.get("iops"), 0),
                _number(metrics.get("bw_mib_s"), 1),
                _number(metrics.get("read_lat_p99_ms"), 3),
                _number(metrics.get("write_lat_p99_ms"), 3),
                outcome.verdict.status,
            )
        )
    return rows


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers, as plain text lines."""
    widths = [len(title) for title in header]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def summary_lines(outcomes: Sequence[CaseOutcome]) -> list[str]:
    return format_table(COLUMNS, summary_rows(outcomes))
