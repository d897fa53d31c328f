"""Regression gating against history: a case's metrics compared with a baseline.

A Comparison is the outcome for one metric of one case: the baseline (recent history of
the same history key, or a pinned named baseline) with its centre and spread, the current
value, the relative change, the statistical test used and its p-value. A regression needs
both a practical effect (worse than the tolerance) and statistical evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
INSUFFICIENT = "insufficient-history"
STATUSES = (REGRESSION, IMPROVEMENT, UNCHANGED, INSUFFICIENT)


@dataclass(frozen=True)
class Comparison:
    """One metric of one case against its baseline."""

    metric: str
    status: str
    history_key: str
    #: How the baseline was chosen, e.g. "auto: last 10 runs" or "pinned 'release-1.2'".
    baseline: str
    baseline_center: float | None
    baseline_spread: float | None
    baseline_n: int
    current: float
    current_n: int
    delta_pct: float | None
    tolerance_pct: float
    #: "mann-whitney-u", "welch-t", "prediction-interval" or "none".
    test: str
    p_value: float | None

    @property
    def is_regression(self) -> bool:
        return self.status == REGRESSION

    def message(self) -> str:
        """One line with every number a reviewer needs."""
        if self.status == INSUFFICIENT:
            return (
                f"{self.metric}: {self.baseline_n} baseline run(s) for key {self.history_key} "
                f"({self.baseline}); not enough history to compare, current {self.current:.6g}"
            )
        delta = "n/a" if self.delta_pct is None else f"{self.delta_pct:+.1f}%"
        p_value = "n/a" if self.p_value is None else f"{self.p_value:.3g}"
        spread = "n/a" if self.baseline_spread is None else f"{self.baseline_spread:.4g}"
        return (
            f"{self.metric} {self.status}: current {self.current:.6g} (n={self.current_n}) vs "
            f"baseline {self.baseline_center:.6g} ± {spread} (n={self.baseline_n}, "
            f"{self.baseline}), delta {delta}, tolerance {self.tolerance_pct:g}%, "
            f"{self.test} p={p_value}, key {self.history_key}"
        )
