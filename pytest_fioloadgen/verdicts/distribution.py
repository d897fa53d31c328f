"""A regression gate on the whole latency distribution, not on a few fixed percentiles.

Two kinds of regression slip past a per-metric gate: a slow path on a few per cent of the
I/Os (a degraded replica, a slow OSD among many) that moves p99.9 and the max while p99
stays inside its 25 % tolerance, and a small shift of every quantile that no single
metric's tolerance catches. Both show in the run's percentile spectrum (fio/spectrum.py),
judged against the run-to-run variation of the same key, never with a test over I/Os
(with millions of I/Os "the same distribution" is always rejected):

* the band: per quantile, the baseline runs' median and robust spread (1.4826 x MAD) of
  log latency; with fewer than ``SMALL_BASELINE`` runs the spread is at least the one
  measured on recorded A/A runs (``AA_LOG_SPREAD``), never three runs' luck;
* a **slow path**: a contiguous range of quantiles each beyond ``band_k`` spreads and the
  tolerance, holding at least ``min_mass_pct`` of the I/Os (the share between the
  quantile below the range and the one above it);
* a **shift**: the body's quantiles (p1-p99) agree in sign (a share ``shift_agree`` or more
  above their centre) and their median is beyond ``shift_k`` spreads and the shift
  tolerance.

Either is a distribution regression with its own reason ("latency distribution: read
p99.5-p99.99 up 3.1x, 1.0 % of I/Os"), going through the confirmation runs and the one
Status like any regression. The thresholds are calibrated on recorded runs
(benchmarks/distribution_gate.py; the README gives the table).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..fio.spectrum import LABELS, PERCENTILE_OF, SPECTRUM

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
INSUFFICIENT = "insufficient-history"
#: Below this many baseline runs the spread is widened from the A/A data.
SMALL_BASELINE = 5
#: The quantiles of the body (the shift test looks at these).
BODY = tuple(name for name, percentile in SPECTRUM if percentile <= 99.0)
#: Robust spread (1.4826 x MAD of log latency, run to run) per quantile, measured on
#: the 300 recorded A/A runs (``benchmarks/distribution_gate.py --spreads``): a floor for
#: small baselines. p99.99 is not defined in those runs (30,000 I/Os each): it takes
#: p99.95's. On a quieter machine these are wide, never too narrow.
AA_LOG_SPREAD: Mapping[str, float] = {
    "p1": 0.089,
    "p5": 0.093,
    "p10": 0.104,
    "p25": 0.127,
    "p50": 0.187,
    "p75": 0.567,
    "p90": 0.492,
    "p95": 0.564,
    "p97": 0.623,
    "p98": 0.877,
    "p99": 0.806,
    "p995": 0.399,
    "p999": 0.154,
    "p9995": 0.182,
    "p9999": 0.182,
}
#: A quantile's spread is never below its histogram bucket's width (fio's bins are 1/64
#: of their group wide: log(1 + 1/64)).
BIN_LOG_WIDTH = math.log1p(1 / 64)


@dataclass(frozen=True)
class DistributionPolicy:
    """The gate's settings (defaults calibrated; the thresholds file may override per
    profile, ``gate = true`` there included). The plugin turns it on only with
    ``--fio-distribution-gate on``; ``fioloadgen compare --spectrum`` always judges."""

    enabled: bool = True
    min_baseline: int = 3
    band_k: float = 4.0
    tolerance_pct: float = 15.0
    min_mass_pct: float = 1.0
    shift_k: float = 2.0
    shift_tolerance_pct: float = 4.0
    shift_agree: float = 0.85

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> DistributionPolicy:
        """The policy with a thresholds file's ``distribution`` table applied."""
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        if "gate" in overrides:
            changes["enabled"] = bool(overrides["gate"])
        for key in ("tolerance_pct", "min_mass_pct", "shift_tolerance_pct"):
            if key in overrides:
                changes[key] = float(overrides[key])
        return replace(self, **changes)


@dataclass(frozen=True)
class Band:
    """One quantile's baseline: centre and spread of log latency, and the runs behind."""

    centre: float
    spread: float
    runs: int


@dataclass(frozen=True)
class DistributionComparison:
    """The current spectrum of one direction against its baseline band."""

    direction: str
    status: str
    #: "slow-path", "shift" or "" (nothing found).
    kind: str = ""
    #: The quantiles of the finding (a range for a slow path, the body for a shift).
    quantiles: tuple[str, ...] = ()
    #: Current over baseline centre: the largest ratio of a slow path's range, the
    #: median ratio of a shift.
    ratio: float | None = None
    mass_pct: float | None = None
    baseline_n: int = 0
    #: Per quantile: current, centre, spread (log), z.
    detail: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.status == REGRESSION

    def message(self) -> str:
        if self.status == INSUFFICIENT:
            return (
                f"latency distribution: {self.direction}: {self.baseline_n} baseline run(s)"
                " with a spectrum, gating starts with enough history"
            )
        if not self.kind:
            return f"latency distribution: {self.direction} within its band"
        direction = "up" if self.status == REGRESSION else "down"
        ratio = self.ratio or 1.0
        if self.kind in ("slow-path", "fast-path"):
            span = LABELS[self.quantiles[0]]
            if len(self.quantiles) > 1:
                span += f"-{LABELS[self.quantiles[-1]]}"
            size = (
                f"{ratio:.1f}x"
                if ratio >= 1.5 or ratio <= 1 / 1.5
                else f"{(ratio - 1) * 100:+.0f}%"
            )
            return (
                f"latency distribution: {self.direction} {span} {direction} {size},"
                f" {self.mass_pct:.1f} % of I/Os"
            )
        return (
            f"latency distribution: {self.direction} every quantile {direction}"
            f" ({(ratio - 1) * 100:+.1f}% median over p1-p99)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "status": self.status,
            "kind": self.kind,
            "quantiles": list(self.quantiles),
            "ratio": self.ratio,
            "mass_pct": self.mass_pct,
            "baseline_n": self.baseline_n,
            "message": self.message(),
            "detail": {name: dict(values) for name, values in self.detail.items()},
        }


def _log(value: Any) -> float | None:
    return math.log(float(value)) if isinstance(value, int | float) and value > 0 else None


def bands(baseline: Sequence[Mapping[str, Any]], direction: str) -> dict[str, Band]:
    """Each quantile's band over the baseline runs' spectra of ``direction``."""
    found: dict[str, Band] = {}
    for name, _percentile in SPECTRUM:
        values = [
            logged
            for spectrum in baseline
            if (logged := _log((spectrum.get(direction) or {}).get(name))) is not None
        ]
        if not values:
            continue
        centre = statistics.median(values)
        mad = statistics.median([abs(value - centre) for value in values])
        spread = max(1.4826 * mad, BIN_LOG_WIDTH)
        if len(values) < SMALL_BASELINE:
            spread = max(spread, AA_LOG_SPREAD.get(name, 0.0))
        found[name] = Band(centre, spread, len(values))
    return found


def current_spectrum(samples: Sequence[Mapping[str, Any]], direction: str) -> dict[str, float]:
    """The spectrum the gate judges: with repeats, each quantile's median over them."""
    merged: dict[str, float] = {}
    for name, _percentile in SPECTRUM:
        values = [
            float(value)
            for spectrum in samples
            if isinstance(value := (spectrum.get(direction) or {}).get(name), int | float)
        ]
        if values:
            merged[name] = statistics.median(values)
    return merged


def _mass(names: Sequence[str], known: Mapping[str, float]) -> float:
    """The share (percent) of I/Os a contiguous range of quantiles covers: between the
    nearest quantile below it and the nearest above it that were measured (``known``);
    none above (too few I/Os for the far tail): up to the max, 100."""
    order = [name for name, _ in SPECTRUM]
    first, last = order.index(names[0]), order.index(names[-1])
    below = max((PERCENTILE_OF[n] for n in order[:first] if n in known), default=0.0)
    above = min((PERCENTILE_OF[n] for n in order[last + 1 :] if n in known), default=100.0)
    return above - below


def _runs(flags: Sequence[tuple[str, bool]]) -> list[list[str]]:
    runs: list[list[str]] = []
    current: list[str] = []
    for name, flag in flags:
        if flag:
            current.append(name)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def compare_spectrum(
    direction: str,
    samples: Sequence[Mapping[str, Any]],
    baseline: Sequence[Mapping[str, Any]],
    policy: DistributionPolicy,
) -> DistributionComparison:
    """The current spectra (the case's runs in this session, the last one included)
    against the baseline runs' spectra, for one direction."""
    band = bands(baseline, direction)
    runs = max((b.runs for b in band.values()), default=0)
    if runs < policy.min_baseline:
        return DistributionComparison(direction, INSUFFICIENT, baseline_n=runs)
    current = current_spectrum(samples, direction)
    detail: dict[str, dict[str, float | None]] = {}
    z: dict[str, float] = {}
    for name, _percentile in SPECTRUM:
        value, quantile = current.get(name), band.get(name)
        if value is None or quantile is None or value <= 0:
            continue
        z[name] = (math.log(value) - quantile.centre) / quantile.spread
        detail[name] = {
            "current": value,
            "baseline": math.exp(quantile.centre),
            "spread": quantile.spread,
            "z": round(z[name], 2),
            # The band the gate holds this quantile to (what the views shade).
            "low": math.exp(quantile.centre - policy.band_k * quantile.spread),
            "high": math.exp(quantile.centre + policy.band_k * quantile.spread),
        }
    for worse in (True, False):
        sign = 1.0 if worse else -1.0
        limit = math.log1p(policy.tolerance_pct / 100.0)
        flags = [
            (
                name,
                name in z
                and sign * z[name] > policy.band_k
                and sign * (math.log(current[name]) - band[name].centre) > limit,
            )
            for name, _ in SPECTRUM
        ]

        def mass(names: Sequence[str]) -> float:
            return _mass(names, z)

        ranges = [names for names in _runs(flags) if mass(names) >= policy.min_mass_pct]
        if ranges:
            names = max(ranges, key=mass)
            ratio = max(
                (current[n] / math.exp(band[n].centre) for n in names),
                key=lambda r: sign * math.log(r),
            )
            return DistributionComparison(
                direction,
                REGRESSION if worse else IMPROVEMENT,
                "slow-path" if worse else "fast-path",
                tuple(names),
                ratio,
                mass(names),
                runs,
                detail,
            )
        body = [name for name in BODY if name in z]
        if len(body) >= 3:
            agree = sum(1 for name in body if sign * z[name] > 0) / len(body)
            median_z = statistics.median(sign * z[name] for name in body)
            median_ratio = statistics.median(
                current[name] / math.exp(band[name].centre) for name in body
            )
            beyond = sign * math.log(median_ratio) > math.log1p(policy.shift_tolerance_pct / 100)
            if agree >= policy.shift_agree and median_z > policy.shift_k and beyond:
                return DistributionComparison(
                    direction,
                    REGRESSION if worse else IMPROVEMENT,
                    "shift",
                    tuple(body),
                    median_ratio,
                    None,
                    runs,
                    detail,
                )
    return DistributionComparison(direction, UNCHANGED, baseline_n=runs, detail=detail)
