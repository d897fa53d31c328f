"""Two sets of runs side by side: per history key and metric, medians, delta and the
statistical verdict of verdicts.regression (the same test the gate uses).

Runs are paired by history key, so only runs that may be compared are (same test, profile
as run, overrides, workers, backend and target). The first set is the baseline.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..fio.spectrum import SPECTRUM
from ..store.base import RunRecord
from .distribution import DistributionPolicy, compare_spectrum, current_spectrum
from .regression import (
    DEFAULT_ALPHA,
    DEFAULT_GATED_METRICS,
    DEFAULT_MIN_BASELINE,
    INSUFFICIENT,
    REGRESSION,
    compare,
)

#: What ``fioloadgen compare`` shows unless asked for other metrics: the gated ones and
#: bandwidth.
DEFAULT_METRICS = ("iops", "bw_mib_s", *(m for m in DEFAULT_GATED_METRICS if m != "iops"))
_REPEAT_PARAM = re.compile(r"-r\d+(?=\]$)")


@dataclass(frozen=True)
class MetricDelta:
    """One metric of one key: both sides' medians and what the test concluded."""

    case: str
    history_key: str
    metric: str
    baseline: float
    baseline_n: int
    current: float
    current_n: int
    delta_pct: float | None
    #: regression, improvement, unchanged, inconclusive or insufficient-history.
    verdict: str
    test: str
    p_value: float | None
    tolerance_pct: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def case_label(run: RunRecord) -> str:
    """A run's case as the summary names it: the test and its parameters without the repeat
    suffix (``test_storage[randread-4k-w1-local]``), or the profile for server jobs."""
    if not run.test_id or run.test_id == "job":
        return f"job {run.profile_name}-w{run.workers}-{run.target}"
    name = run.test_id.split("::", 1)[1] if "::" in run.test_id else run.test_id
    return _REPEAT_PARAM.sub("", name)


def by_key(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    grouped: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.status == "complete" and run.history_key:
            grouped.setdefault(run.history_key, []).append(run)
    return grouped


def _values(runs: Sequence[RunRecord], metric: str) -> list[float]:
    found = (run.metrics.get(metric) for run in runs)
    return [float(v) for v in found if v is not None and math.isfinite(v)]


def compare_sets(
    baseline: Sequence[RunRecord],
    current: Sequence[RunRecord],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    tolerances: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_baseline: int = DEFAULT_MIN_BASELINE,
    baseline_description: str = "baseline",
) -> list[MetricDelta]:
    """Every metric of every key both sets measured, in the current set's order."""
    before = by_key(baseline)
    rows: list[MetricDelta] = []
    for key, runs in by_key(current).items():
        if key not in before:
            continue
        for metric in metrics:
            then, now = _values(before[key], metric), _values(runs, metric)
            if not then or not now:
                continue
            comparison = compare(
                metric,
                now,
                then,
                history_key=key,
                baseline_description=baseline_description,
                tolerance_pct=(tolerances or {}).get(metric),
                alpha=alpha,
                min_baseline=min_baseline,
            )
            center = float(statistics.median(then))
            delta = comparison.delta_pct
            if delta is None and center:
                # Too few runs for a verdict: the change itself is still worth seeing.
                delta = (comparison.current - center) / abs(center) * 100.0
            rows.append(
                MetricDelta(
                    case=case_label(runs[0]),
                    history_key=key,
                    metric=metric,
                    baseline=center,
                    baseline_n=len(then),
                    current=comparison.current,
                    current_n=len(now),
                    delta_pct=delta,
                    verdict=comparison.status,
                    test=comparison.test,
                    p_value=comparison.p_value,
                    tolerance_pct=comparison.tolerance_pct,
                )
            )
    return rows


def unpaired(baseline: Sequence[RunRecord], current: Sequence[RunRecord]) -> tuple[int, int]:
    """How many keys only the baseline, and only the current set, measured."""
    before, after = set(by_key(baseline)), set(by_key(current))
    return len(before - after), len(after - before)


def any_regression(rows: Sequence[MetricDelta]) -> bool:
    return any(row.verdict == REGRESSION for row in rows)


def judged(rows: Sequence[MetricDelta]) -> bool:
    """Whether any row had enough runs on both sides for a statistical verdict."""
    return any(row.verdict != INSUFFICIENT for row in rows)


@dataclass(frozen=True)
class SpectrumDelta:
    """One key and direction: both sides' median spectra, quantile by quantile, and the
    distribution gate's verdict on B against A."""

    case: str
    history_key: str
    direction: str
    #: (quantile, A median, B median, change in percent) for quantiles both sides have.
    rows: tuple[tuple[str, float, float, float], ...]
    verdict: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "history_key": self.history_key,
            "direction": self.direction,
            "quantiles": [
                {"quantile": name, "a": a, "b": b, "delta_pct": delta}
                for name, a, b, delta in self.rows
            ],
            "verdict": self.verdict,
            "message": self.message,
        }


def spectrum_deltas(
    baseline: Sequence[RunRecord], current: Sequence[RunRecord]
) -> list[SpectrumDelta]:
    """Every key both sets measured: their spectra side by side (medians over each side's
    runs) and the distribution gate's verdict with A as the baseline."""
    before = by_key(baseline)
    found: list[SpectrumDelta] = []
    for key, runs in by_key(current).items():
        if key not in before:
            continue
        then = [run.spectrum for run in before[key]]
        now = [run.spectrum for run in runs]
        for direction in ("read", "write"):
            a = current_spectrum(then, direction)
            b = current_spectrum(now, direction)
            rows = tuple(
                (name, a[name], b[name], 100.0 * (b[name] - a[name]) / a[name])
                for name, _percentile in SPECTRUM
                if name in a and name in b and a[name] > 0
            )
            if not rows:
                continue
            judged = compare_spectrum(direction, now, then, DistributionPolicy(min_baseline=1))
            found.append(
                SpectrumDelta(
                    case_label(runs[-1]), key, direction, rows, judged.status, judged.message()
                )
            )
    return found
