"""What the history API draws over a series: thresholds, a baseline band and change
points, from the same gating code the plugin uses."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any, TypedDict

from pytest_fioloadgen.fio.results import higher_is_better
from pytest_fioloadgen.gating import Thresholds
from pytest_fioloadgen.regression import (
    DEFAULT_MIN_BASELINE,
    DEFAULT_WINDOW,
    default_tolerance_pct,
)
from pytest_fioloadgen.trend import level_shifts


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
    store: Any,
    history_key: str,
    metric: str,
    points: Sequence[dict[str, Any]],
    *,
    thresholds: Thresholds | None = None,
    profile: str | None = None,
    workers: int | None = None,
) -> Overlay:
    """Threshold lines, the auto-baseline band and the change points of one series.

    ``points`` are the series oldest first: dicts with run_id, started_at, value, status.
    The band is where the newest runs' baseline sits: its median within the metric's
    regression tolerance, over the window ``--fio-baseline auto`` uses.
    """
    overlay = empty_overlay()
    complete = [p for p in points if p.get("status", "complete") == "complete"]
    values = [float(p["value"]) for p in complete]
    higher_better = higher_is_better(metric)
    for index, before, after in level_shifts(values, metric):
        delta = (after - before) / abs(before) * 100.0 if before else 0.0
        worse = delta < 0 if higher_better else delta > 0
        overlay["change_points"].append(
            {
                "run_id": complete[index]["run_id"],
                "started_at": float(complete[index]["started_at"]),
                "direction": "regression" if worse else "improvement",
                "delta_pct": delta,
            }
        )
    window = values[-DEFAULT_WINDOW:]
    if len(window) >= DEFAULT_MIN_BASELINE:
        center = statistics.median(window)
        tolerance = default_tolerance_pct(metric) / 100.0
        overlay["baseline_band"] = {
            "label": f"baseline: median of last {len(window)} runs ± {tolerance:.0%} tolerance",
            "low": center * (1 - tolerance),
            "high": center * (1 + tolerance),
            "center": center,
        }
    if thresholds is not None and profile is not None and workers is not None:
        for limit in thresholds.limits_for(profile, workers):
            if limit.metric == metric and not limit.per_worker:
                overlay["thresholds"].append(
                    {"label": limit.source, "value": limit.value, "bound": limit.bound}
                )
    return overlay
