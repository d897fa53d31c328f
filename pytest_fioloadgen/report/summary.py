"""The per-session summary section: the matrix of profiles x workers x targets and the
scaling chart, for the summary area of a pytest-html report."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..cases import CaseOutcome
from ..verdicts.status import worst
from . import charts
from .html import number, verdict_badge
from .terminal import short_test


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _cells(outcomes: Sequence[CaseOutcome]) -> dict[tuple[str, str, int], list[CaseOutcome]]:
    """Outcomes by (test and case name, target, workers): repeats of one measurement share
    a cell, different tests or overrides never do."""
    cells: dict[tuple[str, str, int], list[CaseOutcome]] = defaultdict(list)
    for outcome in outcomes:
        case = outcome.case
        row = f"{short_test(case.test)} {case.name}" if case.test else case.name
        cells[(row, case.target, case.workers)].append(outcome)
    return cells


def matrix_table(outcomes: Sequence[CaseOutcome]) -> str:
    """Rows profile on target, columns worker counts; each cell the median IOPS of its
    repeats with their range, and their worst verdict."""
    cells = _cells(outcomes)
    counts = sorted({workers for _p, _t, workers in cells})
    rows = sorted({(profile, target) for profile, target, _w in cells})
    parts = ['<table class="fio-matrix"><thead><tr><th>test / case</th><th>target</th>']
    parts += [f"<th>{n} worker{'s' if n > 1 else ''}</th>" for n in counts]
    parts.append("</tr></thead><tbody>")
    for profile, target in rows:
        parts.append(f"<tr><td>{escape(profile)}</td><td>{escape(target)}</td>")
        for n in counts:
            found = cells.get((profile, target, n))
            if not found:
                parts.append("<td>-</td>")
                continue
            values = [o.result.metrics.get("iops", 0.0) for o in found]
            status = worst(o.record.verdict for o in found)
            spread = (
                f" (x{len(values)}: {number(min(values))}-{number(max(values))})"
                if len(values) > 1
                else ""
            )
            parts.append(
                f"<td>{number(statistics.median(values))} IOPS{spread} "
                f"{verdict_badge(status.value)}</td>"
            )
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def scaling_curves(outcomes: Sequence[CaseOutcome]) -> dict[str, list[tuple[int, float]]]:
    """Mean IOPS per worker count for each profile on each target with 2+ worker counts."""
    by_curve: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (profile, target, workers), found in _cells(outcomes).items():
        for outcome in found:
            by_curve[f"{profile} on {target}"][workers].append(
                outcome.result.metrics.get("iops", 0.0)
            )
    return {
        name: [(n, _mean(values)) for n, values in sorted(points.items())]
        for name, points in by_curve.items()
        if len(points) > 1
    }


def session_section(outcomes: Sequence[CaseOutcome]) -> str:
    """The HTML of the summary section (empty when the session ran no fio case)."""
    if not outcomes:
        return ""
    parts = ['<div class="fioloadgen-summary"><h2>fio benchmarks</h2>', matrix_table(outcomes)]
    parts.append('<div class="fio-charts">')
    curves = scaling_curves(outcomes)
    for name, svg in zip(
        sorted(n for n in curves if curves[n]), charts.scaling(curves), strict=True
    ):
        # The summary's charts keep their own stylesheet, so the saved file is complete.
        parts.append(f"<div>{svg}<br>{charts.svg_download(svg, 'scaling ' + name)}</div>")
    parts.append("</div></div>")
    return "".join(parts)


def _fact(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_fact(item)}" for key, item in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(_fact(item) for item in value)
    return str(value)


def environment_facts(fingerprint: Mapping[str, Any]) -> dict[str, str]:
    """The fingerprint flattened for pytest-html's Environment table, HTML-escaped
    (pytest-html inserts environment values as HTML)."""
    return {escape(str(key)): escape(_fact(value)) for key, value in sorted(fingerprint.items())}
