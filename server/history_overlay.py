"""What the history API draws over a series: thresholds, a baseline band and change
points (the key's cached summary, pytest_fioloadgen.verdicts.summaries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from pytest_fioloadgen.fio.results import higher_is_better
from pytest_fioloadgen.verdicts.summaries import SeriesSummary
from pytest_fioloadgen.verdicts.thresholds import Thresholds


class ThresholdLine(TypedDict):
    label: str
    value: float
    #: "min" (higher is better: fail below) or "max" (fail above).
    bound: str


class BaselineBand(TypedDict):
    label: str
    low: float
    high: float
    center: float


class ChangePoint(TypedDict):
    run_id: str
    started_at: float
    #: "regression" or "improvement".
    direction: str
    delta_pct: float


class Overlay(TypedDict):
    thresholds: list[ThresholdLine]
    baseline_band: BaselineBand | None
    change_points: list[ChangePoint]


def empty_overlay() -> Overlay:
    return {"thresholds": [], "baseline_band": None, "change_points": []}


def history_overlay(
    metric: str,
    points: Sequence[dict[str, Any]],
    summary: SeriesSummary,
    *,
    thresholds: Thresholds | None = None,
    profile: str | None = None,
    workers: int | None = None,
) -> Overlay:
    """Threshold lines, the auto-baseline band and the change points of one series.

    ``points`` are the series shown, oldest first (dicts with run_id...); ``summary`` is
    the key's whole history (key_summary), so a change point is where it is whatever the
    window, and only those among the points shown are listed. The band is where the
    newest runs' baseline sits: its median within the metric's regression tolerance,
    over the window ``--fio-baseline auto`` uses.
    """
    overlay = empty_overlay()
    shown = {point["run_id"] for point in points}
    higher_better = higher_is_better(metric)
    for change in summary.change_points:
        if change.run_id not in shown:
            continue
        before, after = change.before, change.after
        delta = (after - before) / abs(before) * 100.0 if before else 0.0
        worse = delta < 0 if higher_better else delta > 0
        overlay["change_points"].append(
            {
                "run_id": change.run_id,
                "started_at": change.started_at,
                "direction": "regression" if worse else "improvement",
                "delta_pct": delta,
            }
        )
    band = summary.baseline_band
    if band is not None:
        overlay["baseline_band"] = {
            "label": f"baseline: median of last {band.runs} runs "
            f"± {band.tolerance_pct / 100.0:.0%} tolerance",
            "low": band.low,
            "high": band.high,
            "center": band.center,
        }
    if thresholds is not None and profile is not None and workers is not None:
        for limit in thresholds.limits_for(profile, workers):
            if limit.metric == metric and not limit.per_worker:
                overlay["thresholds"].append(
                    {"label": limit.source, "value": limit.value, "bound": limit.bound}
                )
    return overlay
