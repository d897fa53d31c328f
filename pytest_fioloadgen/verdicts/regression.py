"""Regression gating against history: a case's metrics compared with a baseline.

A Comparison is the outcome for one metric of one case: the baseline (recent history of
the same history key, or a pinned named baseline) with its centre and spread, the current
value, the relative change, the statistical test used and its p-value. A regression needs
both a practical effect (worse than the tolerance) and statistical evidence.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from .. import numbers
from ..fio.results import higher_is_better

REGRESSION = "regression"
IMPROVEMENT = "improvement"
UNCHANGED = "unchanged"
#: No significant change, but the comparison could not have detected the tolerance.
INCONCLUSIVE = "inconclusive"
INSUFFICIENT = "insufficient-history"
STATUSES = (REGRESSION, IMPROVEMENT, UNCHANGED, INCONCLUSIVE, INSUFFICIENT)
#: The power a comparison must have to call a metric unchanged: the chance of flagging a
#: change as large as the tolerance (the conventional 80%).
POWER = 0.8
#: Repeats beyond which "how many would be needed" is answered "more than this".
MAX_REPEATS = 50


def _stats() -> ModuleType:
    """scipy.stats, imported when a two-sample test needs it: importing it takes about 2 s
    of CPU, which every pytest start would pay (the plugin is loaded by every pytest run,
    and most sessions compare nothing: no history yet, or one run per case)."""
    return importlib.import_module("scipy.stats")


def _t_cdf(value: float, df: float) -> float:
    """Student's t CDF: scipy.stats.t.cdf is special.stdtr (a third of the import)."""
    from scipy import special

    return float(special.stdtr(df, value))


def _t_ppf(quantile: float, df: float) -> float:
    """Student's t quantile function: scipy.stats.t.ppf is special.stdtrit."""
    from scipy import special

    return float(special.stdtrit(df, quantile))


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
    #: The smallest change (percent of the baseline centre) this comparison detects with
    #: POWER at its alpha, given the baseline's spread and both sample counts.
    mde_pct: float | None = None
    #: Current samples needed for mde_pct to reach the tolerance (None: more than
    #: MAX_REPEATS, or the baseline itself is too small or too noisy).
    repeats_needed: int | None = None

    @property
    def is_regression(self) -> bool:
        return self.status == REGRESSION

    def power_hint(self) -> str:
        """What an inconclusive comparison lacked, and what would fix it."""
        if self.mde_pct is None:
            return ""
        detect = f"could detect only changes of {self.mde_pct:.0f}% or more"
        if self.repeats_needed is not None:
            fix = f"--fio-repeat {self.repeats_needed} would detect {self.tolerance_pct:g}%"
        else:
            fix = (
                f"no repeat count up to {MAX_REPEATS} detects {self.tolerance_pct:g}% against"
                " this baseline: record more (or quieter) baseline runs"
            )
        return f"{detect} (tolerance {self.tolerance_pct:g}%); {fix}"

    def as_dict(self) -> dict[str, object]:
        """The comparison as it is stored with the run (RunRecord.evidence)."""
        return dataclasses.asdict(self)

    def message(self) -> str:
        """One line with every number a reviewer needs, in the one number format (3
        significant digits and the metric's unit, never scientific notation)."""
        if self.status == INSUFFICIENT:
            return (
                f"{self.metric}: {self.baseline_n} baseline run(s) for key {self.history_key} "
                f"({self.baseline}); not enough history to compare, current "
                f"{numbers.metric(self.metric, self.current)}"
            )
        delta = "n/a" if self.delta_pct is None else numbers.percent(self.delta_pct)
        p_value = "n/a" if self.p_value is None else numbers.p_value(self.p_value)
        spread = (
            "n/a"
            if self.baseline_spread is None
            else numbers.metric(self.metric, self.baseline_spread)
        )
        center = numbers.metric(self.metric, self.baseline_center)
        line = (
            f"{self.metric} {self.status}: current {numbers.metric(self.metric, self.current)} "
            f"(n={self.current_n}) vs "
            f"baseline {center} ± {spread} (n={self.baseline_n}, "
            f"{self.baseline}), delta {delta}, tolerance {self.tolerance_pct:g}%, "
            f"{self.test} p={p_value}, key {self.history_key}"
        )
        if self.status == INCONCLUSIVE:
            line += f"; {self.power_hint()}"
        return line


#: Default tolerance (percent) per metric family: tails are noisier than means, and a
#: change smaller than these is not worth a red build even when it is statistically real.
FAMILY_TOLERANCE_PCT: tuple[tuple[str, float], ...] = (
    ("_lat_p999_ms", 50.0),
    ("_lat_max_ms", 100.0),
    ("_lat_p99_ms", 25.0),
    ("_lat_p95_ms", 20.0),
    ("_lat_p50_ms", 15.0),
    ("_lat_mean_ms", 15.0),
    ("scaling_efficiency", 10.0),
    ("iops", 10.0),
    ("bw_mib_s", 10.0),
    # A recovery is a handful of intervals: it moves by one interval from run to run.
    ("recovery_s", 40.0),
    ("dip_pct", 20.0),
    ("stall_s", 50.0),
)
#: Metrics gated unless the thresholds file names others: one throughput figure (bandwidth
#: is IOPS times block size) and the mean and p99 latency of each direction.
DEFAULT_GATED_METRICS = (
    "iops",
    "read_lat_mean_ms",
    "write_lat_mean_ms",
    "read_lat_p99_ms",
    "write_lat_p99_ms",
)
#: What a case under a fault adds to its gated metrics: how deep, how slow to recover, and
#: the latency while it lasted.
FAULT_GATED_METRICS = (
    "recovery_s",
    "dip_pct",
    "during_iops",
    "during_read_lat_p99_ms",
    "during_write_lat_p99_ms",
)
DEFAULT_ALPHA = 0.01
DEFAULT_MIN_BASELINE = 3
DEFAULT_WINDOW = 20


def default_tolerance_pct(metric: str) -> float:
    for suffix, tolerance in FAMILY_TOLERANCE_PCT:
        if metric.endswith(suffix):
            return tolerance
    return 10.0


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def robust_spread(values: Sequence[float]) -> float:
    """1.4826 x median absolute deviation: a standard deviation that ignores outliers."""
    if len(values) < 2:
        return 0.0
    center = _median(values)
    return 1.4826 * _median([abs(value - center) for value in values])


def _one_sided_p(
    current: Sequence[float], baseline: Sequence[float], *, current_lower: bool, alpha: float
) -> tuple[str, float]:
    """p-value for "current is lower (or higher) than the baseline", and the test used.

    Both sides with samples: Mann-Whitney U (no normality assumption, robust to the odd
    outlier run), or Welch's t when there are too few samples for a rank test to reach
    alpha at all. One current sample: where it falls in the t prediction interval of the
    baseline (median and standard deviation), i.e. how unlikely a new baseline run would
    be that far off.
    """
    alternative = "less" if current_lower else "greater"
    if len(current) >= 2:
        if len(set(current) | set(baseline)) == 1:
            return "mann-whitney-u", 1.0
        if 1.0 / math.comb(len(current) + len(baseline), len(current)) < alpha:
            result = _stats().mannwhitneyu(current, baseline, alternative=alternative)
            return "mann-whitney-u", float(result.pvalue)
        # Too few samples for a rank test to ever reach alpha (2 vs 5 runs: p >= 1/21):
        # Welch's t uses the values, not just their order.
        welch = _stats().ttest_ind(current, baseline, equal_var=False, alternative=alternative)
        p_value = float(welch.pvalue)
        return "welch-t", 1.0 if math.isnan(p_value) else p_value
    value = current[0]
    count = len(baseline)
    # The median keeps the centre where most runs are; the scale is the plain standard
    # deviation, which heavy tails (a busy neighbour, a slow run) widen. One run is weak
    # evidence, so this side errs towards "unchanged": measured A/A false positives with
    # a MAD scale were several times alpha (benchmarks/gate_quality.py).
    center = _median(baseline)
    scale = statistics.stdev(baseline)
    if scale == 0.0:
        # A baseline that never varied: any difference in the asked direction is certain
        # (the tolerance still decides whether it matters).
        differs = value < center if current_lower else value > center
        return "prediction-interval", 0.0 if differs else 1.0
    t_value = (value - center) / (scale * math.sqrt(1.0 + 1.0 / count))
    # The survival function by symmetry, as scipy.stats.t computes it.
    p_value = _t_cdf(t_value if current_lower else -t_value, count - 1)
    return "prediction-interval", p_value


def minimum_detectable_effect_pct(
    baseline: Sequence[float], current_n: int, *, alpha: float, power: float = POWER
) -> float | None:
    """The smallest relative change a one-sided test at ``alpha`` flags with ``power``,
    given the baseline's standard deviation (percent of its median; None: no baseline).

    One current sample is judged against the baseline's prediction interval (its spread
    counts with the factor sqrt(1 + 1/n)); several are compared as two samples
    (sqrt(1/n_current + 1/n_baseline)). Student's t quantiles with the degrees of freedom
    of those tests. A rank test that can never reach ``alpha`` with these counts detects
    nothing (infinite effect).
    """
    count = len(baseline)
    if count < 2 or current_n < 1:
        return None
    center = _median(baseline)
    scale = statistics.stdev(baseline)
    if not center:
        return None
    if scale == 0.0:
        return 0.0
    if current_n == 1:
        df = count - 1
        factor = math.sqrt(1.0 + 1.0 / count)
    else:
        df = current_n + count - 2
        factor = math.sqrt(1.0 / current_n + 1.0 / count)
    quantiles = _t_ppf(1.0 - alpha, df) + _t_ppf(power, df)
    return float(quantiles * scale * factor / abs(center) * 100.0)


def detectable_slowdown_pct(
    baseline: Sequence[float],
    current_n: int,
    tolerance_pct: float,
    *,
    alpha: float,
    power: float = POWER,
) -> float | None:
    """The slowdown the gate flags with ``power``: it must be significant (the minimum
    detectable effect) *and* the median of the current samples must land beyond the
    tolerance, which a true change exactly at the tolerance does only half the time. The
    second part uses the standard error of the two medians (sqrt(pi/2) times that of a
    mean) and the power quantile of Student's t."""
    effect = minimum_detectable_effect_pct(baseline, current_n, alpha=alpha, power=power)
    if effect is None:
        return None
    count = len(baseline)
    center = _median(baseline)
    spread_pct = statistics.stdev(baseline) / abs(center) * 100.0
    error = spread_pct * math.sqrt(math.pi / 2.0 * (1.0 / current_n + 1.0 / count))
    margin = _t_ppf(power, max(1, count - 1)) * error
    return max(effect, tolerance_pct + margin)


def repeats_needed(
    baseline: Sequence[float], tolerance_pct: float, *, alpha: float, power: float = POWER
) -> int | None:
    """The fewest current samples whose comparison detects ``tolerance_pct``."""
    for current_n in range(1, MAX_REPEATS + 1):
        effect = minimum_detectable_effect_pct(baseline, current_n, alpha=alpha, power=power)
        if effect is not None and effect <= tolerance_pct:
            return current_n
    return None


def compare(
    metric: str,
    current: Sequence[float],
    baseline: Sequence[float],
    *,
    history_key: str,
    baseline_description: str,
    tolerance_pct: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    min_baseline: int = DEFAULT_MIN_BASELINE,
) -> Comparison:
    """Compare current samples of one metric with baseline samples of the same key."""
    current = [float(v) for v in current if math.isfinite(v)]
    baseline = [float(v) for v in baseline if math.isfinite(v)]
    if not current:
        raise ValueError(f"no current sample of {metric}")
    tolerance = default_tolerance_pct(metric) if tolerance_pct is None else tolerance_pct
    current_center = _median(current)
    if len(baseline) < max(min_baseline, 2):
        return Comparison(
            metric=metric,
            status=INSUFFICIENT,
            history_key=history_key,
            baseline=baseline_description,
            baseline_center=_median(baseline) if baseline else None,
            baseline_spread=robust_spread(baseline) if baseline else None,
            baseline_n=len(baseline),
            current=current_center,
            current_n=len(current),
            delta_pct=None,
            tolerance_pct=tolerance,
            test="none",
            p_value=None,
        )
    center = _median(baseline)
    delta_pct = (current_center - center) / abs(center) * 100.0 if center else None
    higher_better = higher_is_better(metric)
    worse = delta_pct is not None and (
        delta_pct < -tolerance if higher_better else delta_pct > tolerance
    )
    better = delta_pct is not None and (
        delta_pct > tolerance if higher_better else delta_pct < -tolerance
    )
    # Test in the direction the centre moved: "worse" means lower for throughput.
    moved_lower = delta_pct is not None and delta_pct < 0
    with warnings.catch_warnings():
        # Nearly identical samples make scipy warn about precision; the p-value is still
        # right (about 1 or about 0) and a benchmark run must not end with a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        test, p_value = _one_sided_p(current, baseline, current_lower=moved_lower, alpha=alpha)
    status = UNCHANGED
    mde = minimum_detectable_effect_pct(baseline, len(current), alpha=alpha)
    needed = None
    if worse and p_value < alpha:
        status = REGRESSION
    elif better and p_value < alpha:
        status = IMPROVEMENT
    elif mde is not None and mde > tolerance:
        # "No significant change" from a test that could not have seen the tolerance is
        # not evidence of no change.
        status = INCONCLUSIVE
        needed = repeats_needed(baseline, tolerance, alpha=alpha)
    return Comparison(
        metric=metric,
        status=status,
        history_key=history_key,
        baseline=baseline_description,
        baseline_center=center,
        baseline_spread=robust_spread(baseline),
        baseline_n=len(baseline),
        current=current_center,
        current_n=len(current),
        delta_pct=delta_pct,
        tolerance_pct=tolerance,
        test=test,
        p_value=p_value,
        mde_pct=mde,
        repeats_needed=needed,
    )
