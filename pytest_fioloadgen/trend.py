"""A history key's series of one metric, with the level shifts found in it.

Change points are computed on demand over the whole stored history of a key (no extra
table): the results server's history API and ``fioloadgen history`` both read them here.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .regression import DEFAULT_ALPHA, change_points, default_tolerance_pct
from .store.base import RunRecord, Store


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    started_at: float
    value: float
    session_id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    verdict: str | None = None


@dataclass(frozen=True)
class ChangePoint:
    """The first run of a new level, with the levels before and after (medians)."""

    index: int
    run_id: str
    started_at: float
    labels: Mapping[str, str]
    before: float
    after: float

    @property
    def shift_pct(self) -> float | None:
        return (self.after - self.before) / abs(self.before) * 100.0 if self.before else None


@dataclass(frozen=True)
class Trend:
    history_key: str
    metric: str
    points: tuple[TrendPoint, ...]
    change_points: tuple[ChangePoint, ...]
    #: profile, workers, backend, target of the key (from its newest run), for display.
    profile_name: str = ""
    workers: int = 0
    backend: str = ""
    target: str = ""


def key_trend(
    store: Store,
    history_key: str,
    metric: str,
    *,
    limit: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
) -> Trend:
    """The completed runs of a key, oldest first, and the change points of ``metric``."""
    runs = store.query(history_key=history_key, status="complete", limit=limit)
    runs.reverse()
    return trend_of(history_key, runs, metric, alpha=alpha, tolerance_pct=tolerance_pct)


def level_shifts(
    values: Sequence[float],
    metric: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
) -> list[tuple[int, float, float]]:
    """(index where a new level starts, median before, median after) for a series.

    A shift must exceed half the metric's regression tolerance: smaller level changes are
    real but not worth pointing at.
    """
    tolerance = default_tolerance_pct(metric) if tolerance_pct is None else tolerance_pct
    shifts = change_points(values, alpha=alpha, tolerance_pct=tolerance / 2)
    bounds = [0, *shifts, len(values)]
    return [
        (
            index,
            statistics.median(values[bounds[position - 1] : index]),
            statistics.median(values[index : bounds[position + 1]]),
        )
        for position, index in enumerate(shifts, start=1)
    ]


def trend_of(
    history_key: str,
    runs: Sequence[RunRecord],
    metric: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
) -> Trend:
    """The trend of runs already read (oldest first); failed runs are left out."""
    complete = [run for run in runs if run.status == "complete" and metric in run.metrics]
    points = tuple(
        TrendPoint(
            run.run_id,
            run.started_at,
            run.metrics[metric],
            run.session_id,
            dict(run.labels),
            run.verdict,
        )
        for run in complete
    )
    values = [point.value for point in points]
    found = [
        ChangePoint(
            index=index,
            run_id=points[index].run_id,
            started_at=points[index].started_at,
            labels=points[index].labels,
            before=before,
            after=after,
        )
        for index, before, after in level_shifts(
            values, metric, alpha=alpha, tolerance_pct=tolerance_pct
        )
    ]
    newest = complete[-1] if complete else None
    return Trend(
        history_key,
        metric,
        points,
        tuple(found),
        profile_name=newest.profile_name if newest else "",
        workers=newest.workers if newest else 0,
        backend=newest.backend if newest else "",
        target=newest.target if newest else "",
    )


@dataclass(frozen=True)
class KeySummary:
    history_key: str
    profile_name: str
    workers: int
    backend: str
    target: str
    runs: int
    newest: RunRecord


def keys_of(store: Store, *, profile_name: str | None = None) -> list[KeySummary]:
    """Every history key (of one profile, or all), newest first, with its run count."""
    summaries: dict[str, KeySummary] = {}
    for run in store.query(profile_name=profile_name, status="complete"):
        known = summaries.get(run.history_key)
        if known is None:
            summaries[run.history_key] = KeySummary(
                run.history_key,
                run.profile_name,
                run.workers,
                run.backend,
                run.target,
                1,
                run,
            )
        else:
            summaries[run.history_key] = KeySummary(
                known.history_key,
                known.profile_name,
                known.workers,
                known.backend,
                known.target,
                known.runs + 1,
                known.newest,
            )
    return list(summaries.values())
