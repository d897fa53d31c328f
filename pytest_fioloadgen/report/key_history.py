"""A history key's page: the trend of one metric of one key (test, profile, workers,
backend, target) with what is drawn over it: thresholds, the baseline band and the
change points of the key's whole history (its cached summary,
pytest_fioloadgen.verdicts.summaries).

The results UI asks ``GET /api/v1/history/<key>?metric=M`` for one metric at a time
(``key_document``); the static site cannot fetch, so a key page embeds every metric of
the key (``site_key_document``). Both are drawn by one renderer, ``assets/keypage.js``.
No raw fio document is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from ..fio.results import METRIC_NAMES, higher_is_better
from ..store.base import RunRecord, Store
from ..store.history_index import SeriesPoint, SeriesRead, metric_series
from ..verdicts.summaries import SeriesSummary, series_summary
from ..verdicts.thresholds import Thresholds
from .overview import short_test

#: The newest runs whose metric names make a key's picker (a long history's first runs
#: may lack a metric added since; a picker offering it would draw nothing recent).
PICKER_RUNS = 50


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


def key_title(test_id: str, profile: str, workers: int, target: str) -> str:
    """A key as people name it: ``test · profile · w4 · target`` (the test's function
    with its parameters; server jobs are "job"; runs recorded without a test leave it
    out)."""
    parts = [short_test(test_id)] if test_id else []
    return " · ".join([*parts, profile, f"w{workers}", target])


def key_metrics(metrics: Iterable[Mapping[str, float]]) -> list[str]:
    """The metrics a picker offers for runs with these figures: every metric of the
    contract some run has a finite figure of, in the contract's order (throughput, then
    latency per direction...)."""
    present: set[str] = set()
    for figures in metrics:
        present.update(
            name
            for name, value in figures.items()
            if isinstance(value, int | float) and math.isfinite(value)
        )
    return [name for name in METRIC_NAMES if name in present]


def history_overlay(
    metric: str,
    points: Sequence[Mapping[str, Any]],
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


def series_points(read: SeriesRead) -> list[dict[str, Any]]:
    """A metric over time, oldest first; runs without the metric are left out."""
    points = []
    for point in reversed(read.points):
        if not math.isfinite(point.value):
            continue
        points.append(
            {
                "run_id": point.run_id,
                "started_at": point.started_at,
                "value": point.value,
                "status": point.status,
                "verdict": point.verdict,
                # Only what a chart tooltip or link needs: a series can be 5000 points.
                "title": point.labels.get("job_title") or point.test_id or point.run_id,
            }
        )
    return points


def case_of(run: RunRecord) -> dict[str, Any]:
    """What a key page names of its key (from the key's newest run)."""
    return {
        "test": run.test_id,
        "profile": run.profile_name,
        "workers": run.workers,
        "backend": run.backend,
        "target": run.target,
    }


def _head(history_key: str, newest: RunRecord, recent: Sequence[RunRecord]) -> dict[str, Any]:
    return {
        "history_key": history_key,
        "title": key_title(newest.test_id, newest.profile_name, newest.workers, newest.target),
        "case": case_of(newest),
        "metrics": key_metrics(run.metrics for run in recent),
    }


def key_document(
    store: Store,
    key: str,
    metric: str,
    *,
    limit: int,
    thresholds: Thresholds | None = None,
) -> dict[str, Any] | None:
    """The newest ``limit`` runs of a key as a series of ``metric`` with the overlay of
    its whole history, and what the page's title and picker need (None when the key has
    no runs). Change points and the baseline band come from the key's cached summary."""
    recent = store.query(history_key=key, limit=PICKER_RUNS)
    if not recent:
        return None
    newest = recent[0]
    read = metric_series(store, key, metric, limit=limit)
    points = series_points(read)
    summary = series_summary(store, key, metric, read=read)
    overlay = history_overlay(
        metric,
        points,
        summary,
        thresholds=thresholds,
        profile=newest.profile_name,
        workers=newest.workers,
    )
    return {**_head(key, newest, recent), "metric": metric, "points": points, **overlay}


def _finite(value: float | None) -> float | None:
    # NaN is not JSON: a run without a figure is a gap.
    return float(value) if value is not None and math.isfinite(value) else None


def site_key_document(
    store: Store,
    key: str,
    runs: Sequence[RunRecord],
    *,
    version: int | None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """Every metric of a key for a static key page (``runs`` its whole history, oldest
    first): the points of each metric once (run ids, times and verdicts are shared by
    all metrics) and each metric's overlay. Summaries come from the store's cache (the
    overview's metrics are there already), or are derived from ``runs`` and cached."""
    newest = runs[-1]
    head = _head(key, newest, runs[::-1][:PICKER_RUNS])
    complete = [run for run in runs if run.status == "complete"]
    # Every run is shown (a change point is only ever at a completed run with a figure).
    shown = [{"run_id": run.run_id} for run in complete]
    newest_first = runs[::-1]
    series: dict[str, Any] = {}
    for metric in head["metrics"]:
        # The whole series, in case the summary is not cached yet (labels shared, not
        # copied: a key page is 20 metrics of every run of the key).
        read = SeriesRead(
            [SeriesPoint.of(run, metric, copy_labels=False) for run in newest_first],
            version,
            True,
        )
        summary = series_summary(store, key, metric, read=read)
        overlay = history_overlay(
            metric,
            shown,
            summary,
            thresholds=thresholds,
            profile=newest.profile_name,
            workers=newest.workers,
        )
        series[metric] = {
            "values": [_finite(run.metrics.get(metric)) for run in complete],
            **overlay,
        }
    return {
        **head,
        "runs": [
            {
                "run_id": run.run_id,
                "started_at": run.started_at,
                "verdict": run.verdict,
                "title": run.labels.get("job_title") or run.test_id or run.run_id,
            }
            for run in complete
        ],
        "series": series,
    }
