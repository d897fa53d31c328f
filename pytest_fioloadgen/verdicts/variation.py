"""Repeatability: how much a case's repeats disagree, and when that is too much.

With ``--fio-repeat N`` every gated metric's coefficient of variation (sample standard
deviation over mean, in percent) across the case's repeats is computed at its last
repeat and stored with the verdict's evidence. Above its limit the case is ``unstable``:
its figures cannot be trusted, so it is not a pass (and ``--fio-until-stable K`` runs it
again, up to K more times, until the variation falls under the limit).

Limits are per metric family, from A/A runs recorded on the 2-core development machine
(``python benchmarks/variation_limits.py --replay benchmarks/data/aa-direct.json``): the
99th percentile of the CV of three repeats of the same case, rounded up
(FAMILY_MAX_CV_PCT). Tail latency is noisier than throughput. ``max_cv`` in the
thresholds file's [gating] table (a number for every metric, or a table metric ->
percent) overrides them.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Default CV limit (percent) per metric family, most specific suffix first. From A/A
#: runs on the shared 2-core development machine (benchmarks/data/aa-direct.json: 10
#: runs each of lat-qd1-4k, randread-4k and seqread-1m, 5 s, direct=1): the 99th
#: percentile of three repeats' CV, worst profile, rounded up: IOPS 29.8%, mean latency
#: 28.2%, p99 latency 113%. p95, p99.9 and max were not gated there: in between and
#: beyond. A quieter machine should tighten them with max_cv.
FAMILY_MAX_CV_PCT: tuple[tuple[str, float], ...] = (
    ("_lat_max_ms", 300.0),
    ("_lat_p999_ms", 150.0),
    ("_lat_p99_ms", 120.0),
    ("_lat_p95_ms", 60.0),
    ("_lat_p50_ms", 30.0),
    ("_lat_mean_ms", 30.0),
    ("scaling_efficiency", 30.0),
    ("iops", 30.0),
    ("bw_mib_s", 30.0),
)
FALLBACK_MAX_CV_PCT = 30.0


def default_max_cv_pct(metric: str) -> float:
    for suffix, limit in FAMILY_MAX_CV_PCT:
        if metric.endswith(suffix):
            return limit
    return FALLBACK_MAX_CV_PCT


def max_cv_pct(metric: str, configured: float | Mapping[str, float] | None) -> float:
    """The limit of ``metric``: the thresholds file's max_cv (one number, or per metric),
    else the family default."""
    if isinstance(configured, int | float):
        return float(configured)
    if configured and metric in configured:
        return float(configured[metric])
    return default_max_cv_pct(metric)


@dataclass(frozen=True)
class Variation:
    """The spread of one metric over a case's repeats."""

    metric: str
    cv_pct: float
    limit_pct: float
    samples: int
    mean: float

    @property
    def exceeds(self) -> bool:
        return self.cv_pct > self.limit_pct

    def message(self) -> str:
        return (
            f"{self.metric} CV {self.cv_pct:.1f}% over {self.samples} runs"
            f" (limit {self.limit_pct:g}%)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "cv_pct": round(self.cv_pct, 3),
            "limit_pct": self.limit_pct,
            "samples": self.samples,
            "mean": self.mean,
        }


def coefficient_of_variation_pct(values: Sequence[float]) -> float | None:
    """stdev / mean in percent; None for fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    if mean <= 0:
        return None
    return 100.0 * statistics.stdev(values) / mean


def variations(
    samples: Sequence[Mapping[str, float]],
    metrics: Sequence[str],
    configured: float | Mapping[str, float] | None = None,
) -> tuple[Variation, ...]:
    """The variation of each of ``metrics`` measured in every sample (repeats of a case)."""
    found = []
    for metric in metrics:
        values = [float(s[metric]) for s in samples if s.get(metric) is not None]
        cv = coefficient_of_variation_pct(values)
        if cv is None:
            continue
        found.append(
            Variation(
                metric, cv, max_cv_pct(metric, configured), len(values), statistics.fmean(values)
            )
        )
    return tuple(found)


def unstable_reasons(found: Sequence[Variation]) -> list[str]:
    """The reason the repeats are too noisy, if they are (what decide() calls
    ``unstable``)."""
    over = [variation.message() for variation in found if variation.exceeds]
    return ["repeats disagree: " + "; ".join(over)] if over else []
