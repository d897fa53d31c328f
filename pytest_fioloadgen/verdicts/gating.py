"""Regression gating: how a session compares its runs with history, and the one place a
run's status is decided.

``decide`` composes the threshold checks and the comparisons against the baseline into
one Verdict (a Status with its reason and evidence). The session calls it once per run
and stores the result with the run; the terminal, JSON exports, pytest-html, the static
site, the results server's UI and API and the CLI all render that stored verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..fio.results import higher_is_better
from .distribution import DistributionComparison, DistributionPolicy
from .regression import (
    DEFAULT_ALPHA,
    DEFAULT_GATED_METRICS,
    DEFAULT_MIN_BASELINE,
    DEFAULT_WINDOW,
    IMPROVEMENT,
    INCONCLUSIVE,
    INSUFFICIENT,
    REGRESSION,
    UNCHANGED,
    Comparison,
)
from .status import Status
from .thresholds import Check, LimitChecks
from .variation import Variation, unstable_reasons

#: A change this many tolerances worse than the baseline always gets a confirmation run,
#: significant or not (a noisy baseline must not wave a -68% run through).
LARGE_CHANGE_FACTOR = 3.0


@dataclass(frozen=True)
class GatingPolicy:
    """How a session compares its runs with history (from options and the thresholds file)."""

    baseline: str = "auto"
    window: int = DEFAULT_WINDOW
    baseline_labels: Mapping[str, str] = field(default_factory=dict)
    confirm: int = 0
    alpha: float = DEFAULT_ALPHA
    min_baseline: int = DEFAULT_MIN_BASELINE
    metrics: tuple[str, ...] = DEFAULT_GATED_METRICS
    #: The thresholds file's [gating] max_cv: one limit (percent) for every metric, or
    #: per metric; None: the family defaults (verdicts.variation).
    max_cv: float | Mapping[str, float] | None = None
    #: --fio-until-stable: re-runs an unstable case may get.
    until_stable: int = 0
    #: --fio-remeasure-skew: new measurements a run whose workers did not measure one
    #: window together (window skew only) may get.
    remeasure_skew: int = 0
    #: The gate on the whole latency distribution (verdicts/distribution.py).
    distribution: DistributionPolicy = field(default_factory=DistributionPolicy)

    @property
    def enabled(self) -> bool:
        return self.baseline != "none"

    def describe_baseline(self, count: int) -> str:
        if self.baseline == "auto":
            labels = ",".join(f"{k}={v}" for k, v in sorted(self.baseline_labels.items()))
            where = f" with {labels}" if labels else ""
            return f"auto: last {count} of up to {self.window} runs{where}"
        return f"pinned baseline {self.baseline!r}"


def large_change(comparison: Comparison) -> bool:
    """Worse than the baseline by more than LARGE_CHANGE_FACTOR tolerances."""
    delta = comparison.delta_pct
    if delta is None or comparison.status == INSUFFICIENT:
        return False
    worse = -delta if higher_is_better(comparison.metric) else delta
    return worse > LARGE_CHANGE_FACTOR * comparison.tolerance_pct


def needs_confirmation(comparisons: Sequence[Comparison]) -> bool:
    """A suspected regression, or a large change the statistics could not judge."""
    return any(c.is_regression or large_change(c) for c in comparisons)


@dataclass(frozen=True)
class Verdict:
    """A run's one status, why, and the evidence it was decided on."""

    status: Status
    reason: str
    checks: tuple[Check, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    #: The spread of each gated metric over the case's repeats (empty for one run).
    variations: tuple[Variation, ...] = ()
    #: The latency distribution against its baseline band, per direction.
    distribution: tuple[DistributionComparison, ...] = ()

    def evidence(self) -> dict[str, Any]:
        """What is stored with the run (RunRecord.evidence) for every view to render."""
        evidence: dict[str, Any] = {
            "reason": self.reason,
            "checks": [check.as_dict() for check in self.checks],
            "comparisons": [comparison.as_dict() for comparison in self.comparisons],
        }
        if self.variations:
            evidence["variation"] = [variation.as_dict() for variation in self.variations]
        if self.distribution:
            evidence["distribution"] = [item.as_dict() for item in self.distribution]
        return evidence


def _comparison_reason(comparison: Comparison) -> str:
    delta = "" if comparison.delta_pct is None else f" {comparison.delta_pct:+.1f}%"
    p_value = "" if comparison.p_value is None else f", p={comparison.p_value:.3g}"
    return (
        f"{comparison.metric}{delta} (tolerance {comparison.tolerance_pct:g}%,"
        f" {comparison.test}{p_value})"
    )


def decide(
    checks: LimitChecks,
    comparisons: Sequence[Comparison],
    *,
    confirmations_left: int = 0,
    unstable: Sequence[str] = (),
    variations: Sequence[Variation] = (),
    distribution: Sequence[DistributionComparison] = (),
) -> Verdict:
    """The status of a run (see verdicts.status for the order), decided once.

    ``confirmations_left``: how many confirmation runs may still follow this one; a
    regression with runs left is ``suspect``. ``unstable``: reasons the repeats were too
    noisy to trust (one per metric over its variation limit), joined by those of
    ``variations`` (stored as evidence either way).
    """
    verdict = _decide(
        checks,
        comparisons,
        confirmations_left,
        [*unstable_reasons(variations), *unstable],
        distribution,
    )
    return replace(verdict, variations=tuple(variations), distribution=tuple(distribution))


def _decide(
    checks: LimitChecks,
    comparisons: Sequence[Comparison],
    confirmations_left: int,
    unstable: Sequence[str],
    distribution: Sequence[DistributionComparison] = (),
) -> Verdict:
    compared = tuple(comparisons)
    all_checks = tuple(checks.checks)
    failures = checks.failures
    if failures:
        reason = "; ".join(check.message() for check in failures)
        return Verdict(Status.FAIL, f"threshold: {reason}", all_checks, compared)
    regressions = [c for c in compared if c.status == REGRESSION]
    shapes = [d for d in distribution if d.is_regression]
    if regressions or shapes:
        status = Status.SUSPECT if confirmations_left > 0 else Status.REGRESSION
        reason = "; ".join(
            [*(_comparison_reason(c) for c in regressions), *(d.message() for d in shapes)]
        )
        prefix = "looks worse, confirming" if status is Status.SUSPECT else "worse than baseline"
        return Verdict(status, f"{prefix}: {reason}", all_checks, compared)
    if unstable:
        reason = "; ".join(unstable)
        return Verdict(Status.UNSTABLE, reason, all_checks, compared)
    large = [c for c in compared if large_change(c)]
    if large and confirmations_left > 0:
        reason = "; ".join(_comparison_reason(c) for c in large)
        return Verdict(Status.SUSPECT, f"large change, confirming: {reason}", all_checks, compared)
    inconclusive = [c for c in compared if c.status == INCONCLUSIVE]
    if inconclusive:
        reason = "; ".join(f"{c.metric} {c.power_hint()}" for c in inconclusive)
        return Verdict(Status.INCONCLUSIVE, f"too little power: {reason}", all_checks, compared)
    improvements = [c for c in compared if c.status == IMPROVEMENT]
    if improvements:
        reason = "; ".join(_comparison_reason(c) for c in improvements)
        return Verdict(Status.IMPROVED, f"better than baseline: {reason}", all_checks, compared)
    unchanged = [c for c in compared if c.status == UNCHANGED]
    if checks.status == "pass" or unchanged:
        parts = []
        if checks.status == "pass":
            parts.append(f"{sum(1 for c in all_checks if c.applicable)} threshold(s) held")
        if unchanged:
            parts.append(f"{len(unchanged)} metric(s) unchanged against the baseline")
        return Verdict(Status.PASS, "; ".join(parts), all_checks, compared)
    waiting = [c for c in compared if c.status == INSUFFICIENT]
    if waiting:
        first = waiting[0]
        return Verdict(
            Status.NONE,
            f"no thresholds, and {first.baseline_n} baseline run(s) of the key: gating starts"
            " with enough history",
            all_checks,
            compared,
        )
    return Verdict(Status.NONE, "nothing was checked", all_checks, compared)


def error_verdict(message: str) -> Verdict:
    return Verdict(Status.ERROR, message)
