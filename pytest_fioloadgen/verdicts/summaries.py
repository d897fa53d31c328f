"""The summary of a history key's metric as of its newest run, computed once.

A ``SeriesSummary`` holds what is derived from a key's whole history of one metric: the
level shifts (trend.level_shifts over every completed run) and the auto-baseline band
(the median of the newest runs within the metric's tolerance). The results server's
history API, ``fioloadgen history`` and the static site all read it through
``series_summary``, which keeps it in the store's summary cache
(store.history_index): computed the first time it is asked for after the key changed,
served from the cache until a run of the key is recorded or deleted.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..store.base import Store
from ..store.history_index import SeriesPoint, SeriesRead, history_index, metric_series
from .regression import DEFAULT_ALPHA, DEFAULT_MIN_BASELINE, DEFAULT_WINDOW, default_tolerance_pct
from .trends import ChangePoint, Trend, TrendPoint, level_shifts

#: Part of every cache entry's name: a change of the document or of the detector makes
#: summaries cached by an older version be computed again.
SUMMARY_FORMAT = 2


@dataclass(frozen=True)
class BaselineBand:
    """Where the newest runs' baseline sits: its median within the metric's tolerance."""

    center: float
    low: float
    high: float
    #: How many of the newest runs it is the median of (up to the auto-baseline window).
    runs: int
    tolerance_pct: float


@dataclass(frozen=True)
class SeriesSummary:
    history_key: str
    metric: str
    #: Completed runs with a value of the metric (the series the summary was made from).
    runs: int
    newest_run_id: str
    newest_started_at: float
    #: Indices count completed runs with the metric, oldest first.
    change_points: tuple[ChangePoint, ...]
    baseline_band: BaselineBand | None

    def to_json(self) -> dict[str, Any]:
        return {
            "history_key": self.history_key,
            "metric": self.metric,
            "runs": self.runs,
            "newest_run_id": self.newest_run_id,
            "newest_started_at": self.newest_started_at,
            "change_points": [
                {
                    "index": c.index,
                    "run_id": c.run_id,
                    "started_at": c.started_at,
                    "labels": dict(c.labels),
                    "before": c.before,
                    "after": c.after,
                }
                for c in self.change_points
            ],
            "baseline_band": None
            if self.baseline_band is None
            else {
                "center": self.baseline_band.center,
                "low": self.baseline_band.low,
                "high": self.baseline_band.high,
                "runs": self.baseline_band.runs,
                "tolerance_pct": self.baseline_band.tolerance_pct,
            },
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SeriesSummary:
        band = document["baseline_band"]
        return cls(
            history_key=document["history_key"],
            metric=document["metric"],
            runs=int(document["runs"]),
            newest_run_id=document["newest_run_id"],
            newest_started_at=float(document["newest_started_at"]),
            change_points=tuple(
                ChangePoint(
                    index=int(c["index"]),
                    run_id=c["run_id"],
                    started_at=float(c["started_at"]),
                    labels=dict(c["labels"]),
                    before=float(c["before"]),
                    after=float(c["after"]),
                )
                for c in document["change_points"]
            ),
            baseline_band=None if band is None else BaselineBand(**band),
        )


def summarize(
    history_key: str,
    metric: str,
    points: Sequence[SeriesPoint],
    *,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
    window: int = DEFAULT_WINDOW,
) -> SeriesSummary:
    """The summary of a key's whole series (``points`` oldest first; unusable ones skipped)."""
    usable = [point for point in points if point.usable]
    values = [point.value for point in usable]
    shifts = tuple(
        ChangePoint(
            index=index,
            run_id=usable[index].run_id,
            started_at=usable[index].started_at,
            labels=dict(usable[index].labels),
            before=before,
            after=after,
        )
        for index, before, after in level_shifts(
            values, metric, alpha=alpha, tolerance_pct=tolerance_pct
        )
    )
    band = None
    newest = values[-window:]
    if len(newest) >= DEFAULT_MIN_BASELINE:
        center = float(statistics.median(newest))
        tolerance = default_tolerance_pct(metric) if tolerance_pct is None else tolerance_pct
        band = BaselineBand(
            center=center,
            low=center * (1 - tolerance / 100.0),
            high=center * (1 + tolerance / 100.0),
            runs=len(newest),
            tolerance_pct=tolerance,
        )
    last = usable[-1] if usable else None
    return SeriesSummary(
        history_key=history_key,
        metric=metric,
        runs=len(usable),
        newest_run_id=last.run_id if last else "",
        newest_started_at=last.started_at if last else 0.0,
        change_points=shifts,
        baseline_band=band,
    )


def summary_name(metric: str, *, alpha: float, tolerance_pct: float | None, window: int) -> str:
    """The cache entry of one way of summarising one metric."""
    return f"series/v{SUMMARY_FORMAT}/{metric}/alpha={alpha!r}/tol={tolerance_pct!r}/w={window}"


def series_summary(
    store: Store,
    history_key: str,
    metric: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
    window: int = DEFAULT_WINDOW,
    read: SeriesRead | None = None,
) -> SeriesSummary:
    """The summary of ``metric`` over the whole history of ``history_key``.

    From the store's cache when it holds one at the key's current version; otherwise
    computed (from ``read`` when it is the whole series at that version, which saves
    reading it twice) and cached. Stores without a cache compute it every time.
    """
    index = history_index(store)

    def compute(series: SeriesRead) -> SeriesSummary:
        return summarize(
            history_key,
            metric,
            series.points[::-1],
            alpha=alpha,
            tolerance_pct=tolerance_pct,
            window=window,
        )

    if index is None:
        if read is None or not read.whole:
            read = metric_series(store, history_key, metric)
        return compute(read)
    name = summary_name(metric, alpha=alpha, tolerance_pct=tolerance_pct, window=window)
    version, cached = index.cached_summary(history_key, name)
    if cached is not None:
        try:
            return SeriesSummary.from_json(cached)
        except (KeyError, TypeError, ValueError):
            pass  # a damaged or foreign entry: computed again and replaced
    if read is None or not read.whole or read.version != version:
        read = index.metric_series(history_key, metric)
    summary = compute(read)
    if read.version is not None:
        index.store_summary(history_key, name, read.version, summary.to_json())
    return summary


def key_trend(
    store: Store,
    history_key: str,
    metric: str,
    *,
    limit: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
) -> Trend:
    """The completed runs of a key (the newest ``limit``), oldest first, with the change
    points of the key's whole history that fall among them."""
    read = metric_series(store, history_key, metric)
    summary = series_summary(
        store, history_key, metric, alpha=alpha, tolerance_pct=tolerance_pct, read=read
    )
    usable = [point for point in reversed(read.points) if point.usable]
    skipped = 0 if limit is None else max(0, len(usable) - limit)
    shown = usable[skipped:]
    points = tuple(
        TrendPoint(p.run_id, p.started_at, p.value, p.session_id, dict(p.labels), p.verdict)
        for p in shown
    )
    # Indices into the shown points; a change among runs of the summary's series that are
    # newer than this read (a run recorded meanwhile) cannot be placed and is left out.
    positions = {point.run_id: number for number, point in enumerate(shown)}
    changes = tuple(
        ChangePoint(positions[c.run_id], c.run_id, c.started_at, c.labels, c.before, c.after)
        for c in summary.change_points
        if c.run_id in positions
    )
    newest = store.query(history_key=history_key, status="complete", limit=1)
    case = newest[0] if newest else None
    return Trend(
        history_key,
        metric,
        points,
        changes,
        profile_name=case.profile_name if case else "",
        workers=case.workers if case else 0,
        backend=case.backend if case else "",
        target=case.target if case else "",
    )
