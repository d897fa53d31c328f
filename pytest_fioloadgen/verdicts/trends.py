"""A history key's series of one metric, with the level shifts found in it.

The pure part: series already read, in memory. Reading them from a store, and caching the
change points of a key's whole history, is ``pytest_fioloadgen.verdicts.summaries``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..store.base import RunRecord
from .changepoints import change_points
from .regression import DEFAULT_ALPHA, default_tolerance_pct


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


def level_shifts(
    values: Sequence[float],
    metric: str,
    *,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float | None = None,
) -> list[tuple[int, float, float]]:
    """(index where a new level starts, median before, median after) for a series of
    finite values.

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
    complete = [
        run
        for run in runs
        if run.status == "complete" and math.isfinite(run.metrics.get(metric, math.nan))
    ]
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
