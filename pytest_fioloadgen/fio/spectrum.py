"""A run's percentile spectrum: the latency at one fixed ladder of quantiles, per
direction, read from the run's merged json+ histogram (exact across workers).

This is the one ladder: the run's stored spectrum, the distribution gate
(verdicts/distribution.py), the report's latency-by-percentile chart and the percentile
distribution plots of the site and the UI all use it. A quantile with fewer than 10/(1-p)
I/Os behind it is left empty (None): p99.99 needs 100,000 I/Os.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .histlog import bins_to_counts
from .results import DIRECTIONS, RunResult
from .timeline import min_ios, percentiles_of


def quantile_name(percentile: float) -> str:
    """A quantile's name: its percentile's digits after 'p' (p5, p99, p999 for 99.9,
    p9995 for 99.95), as in the metric names; the views read the percentile back from it
    (assets/charts.js, percentileOf)."""
    return "p" + f"{percentile:g}".replace(".", "")


#: The spectrum's percentiles, from the body to the far tail.
#: p97 and p98 because a slow path on 2-5 % of the I/Os lies between p95 and p99: without
#: them its mass falls between two rungs and only p99, at its edge, moves.
PERCENTILES = (
    1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.0, 98.0, 99.0, 99.5, 99.9, 99.95, 99.99,
)  # fmt: skip
#: (name, percentile): the spectrum's ladder.
SPECTRUM: tuple[tuple[str, float], ...] = tuple((quantile_name(p), p) for p in PERCENTILES)
PERCENTILE_OF: Mapping[str, float] = dict(SPECTRUM)
#: Labels people read: p99.9, not p999.
LABELS: Mapping[str, str] = {name: "p" + f"{percentile:g}" for name, percentile in SPECTRUM} | {
    "max": "max"
}


def spectrum_of_bins(bins: Mapping[Any, Any]) -> dict[str, float | None]:
    """The ladder and the max (ms) of one json+ histogram (bucket value in ns -> count)."""
    counts = bins_to_counts(bins)
    return percentiles_of(counts, 0, SPECTRUM)


def ladder_complete(spectrum: Mapping[str, Any]) -> bool:
    """Whether a stored spectrum has every rung of today's ladder in each direction (a run
    stored before the ladder grew has not: its raw document gives it again)."""
    return bool(spectrum) and all(
        isinstance(ladder, Mapping) and all(name in ladder for name, _ in SPECTRUM)
        for ladder in spectrum.values()
    )


def run_spectrum(result: RunResult) -> dict[str, dict[str, float | None]]:
    """Per direction with I/O, the spectrum of the run's merged histogram."""
    spectra: dict[str, dict[str, float | None]] = {}
    for direction in DIRECTIONS:
        latency = getattr(result, direction).latency
        if latency is not None and latency.bins:
            spectra[direction] = spectrum_of_bins(latency.bins)
    return spectra


def spectrum_of_raw(raw: Mapping[str, Any] | None) -> dict[str, dict[str, float | None]]:
    """The spectrum of a stored raw fio document ({} when it has none to give)."""
    from ..exceptions import ResultError
    from .results import parse_result

    if not raw:
        return {}
    try:
        return run_spectrum(parse_result(raw))
    except ResultError:
        return {}


def needed_ios(name: str) -> int:
    """How many I/Os quantile ``name`` needs before it means anything."""
    return 1 if name == "max" else min_ios(PERCENTILE_OF[name])


def spectrum_measures(spectrum: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """A stored spectrum as flat measures for exports: ``read_spectrum_p9999_ms``...
    (quantiles left empty are left out)."""
    return {
        f"{direction}_spectrum_{name}_ms": float(value)
        for direction, ladder in spectrum.items()
        for name, value in ladder.items()
        if isinstance(value, int | float)
    }
