"""Decision rules of regression gating, on synthetic samples."""

from __future__ import annotations

import random
import statistics

import pytest

from pytest_fioloadgen.verdicts.changepoints import change_points
from pytest_fioloadgen.verdicts.regression import (
    IMPROVEMENT,
    INCONCLUSIVE,
    INSUFFICIENT,
    REGRESSION,
    UNCHANGED,
    compare,
    default_tolerance_pct,
    minimum_detectable_effect_pct,
    repeats_needed,
    robust_spread,
)


def noisy(center: float, spread: float, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(center, spread) for _ in range(count)]


def cmp(metric, current, baseline, **kwargs):
    return compare(
        metric, current, baseline, history_key="k", baseline_description="auto", **kwargs
    )


def test_clear_throughput_drop_is_a_regression_with_numbers():
    baseline = noisy(1000, 10, 20, 1)
    comparison = cmp("iops", noisy(800, 10, 3, 2), baseline)
    assert comparison.status == REGRESSION
    assert comparison.test == "mann-whitney-u"
    assert comparison.p_value < 0.01
    assert comparison.delta_pct == pytest.approx(-20, abs=2)
    assert comparison.baseline_n == 20
    assert comparison.current_n == 3
    message = comparison.message()
    for part in (
        "iops regression",
        "current 8",
        "baseline 1",
        "n=20",
        "delta -",
        "mann-whitney-u p=",
        "key k",
    ):
        assert part in message


def test_latency_rise_is_a_regression_and_drop_an_improvement():
    baseline = noisy(2.0, 0.05, 15, 3)
    assert cmp("read_lat_p99_ms", noisy(3.0, 0.05, 3, 4), baseline).status == REGRESSION
    assert cmp("read_lat_p99_ms", noisy(1.0, 0.05, 3, 5), baseline).status == IMPROVEMENT


def test_throughput_rise_is_an_improvement():
    assert cmp("iops", noisy(1300, 10, 3, 6), noisy(1000, 10, 12, 7)).status == IMPROVEMENT


def test_significant_but_small_change_is_not_a_regression():
    """Statistically real (tiny noise) but inside the 10% tolerance: no red build."""
    comparison = cmp("iops", noisy(950, 1, 5, 8), noisy(1000, 1, 20, 9))
    assert comparison.p_value < 0.001
    assert comparison.status == UNCHANGED


def test_large_change_without_evidence_is_inconclusive_not_unchanged():
    """Median 25% lower but the baseline is so noisy that one run proves nothing: the
    comparison could not have seen the tolerance, so it says so instead of 'unchanged'."""
    baseline = [400.0, 1600.0, 700.0, 1300.0, 1000.0, 500.0, 1500.0, 900.0]
    comparison = cmp("iops", [720.0], baseline)
    assert comparison.delta_pct < -10
    assert comparison.test == "prediction-interval"
    assert comparison.p_value > 0.01
    assert comparison.status == INCONCLUSIVE
    assert comparison.mde_pct > 100
    # Even 50 repeats cannot get a 10% effect out of a baseline this noisy and small.
    assert comparison.repeats_needed is None
    assert "record more (or quieter) baseline runs" in comparison.power_hint()


def test_minimum_detectable_effect_follows_the_t_quantiles():
    """20 baseline runs with a 5% spread: one run detects about 18%, and the repeats
    that reach a 10% tolerance are the first count whose effect is below it."""
    from scipy import stats

    baseline = noisy(1000, 50, 20, 3)
    spread = statistics.stdev(baseline) / statistics.median(baseline)
    one = minimum_detectable_effect_pct(baseline, 1, alpha=0.01)
    expected = (stats.t.ppf(0.99, 19) + stats.t.ppf(0.8, 19)) * spread * (1 + 1 / 20) ** 0.5
    assert one == pytest.approx(expected * 100, rel=1e-9)
    needed = repeats_needed(baseline, 10.0, alpha=0.01)
    assert needed is not None and needed > 1
    assert minimum_detectable_effect_pct(baseline, needed, alpha=0.01) <= 10.0
    assert minimum_detectable_effect_pct(baseline, needed - 1, alpha=0.01) > 10.0


def test_a_quiet_baseline_calls_no_change_unchanged():
    baseline = noisy(1000, 5, 20, 4)
    comparison = cmp("iops", [1001.0], baseline)
    assert comparison.status == UNCHANGED
    assert comparison.mde_pct < comparison.tolerance_pct


def test_single_current_sample_uses_the_prediction_interval():
    baseline = noisy(1000, 10, 20, 10)
    comparison = cmp("iops", [850.0], baseline)
    assert comparison.test == "prediction-interval"
    assert comparison.status == REGRESSION
    inside = cmp("iops", [990.0], baseline)
    assert inside.status == UNCHANGED


def test_zero_variance_baseline():
    flat = [1000.0] * 10
    assert cmp("iops", [1000.0], flat).status == UNCHANGED
    assert cmp("iops", [1000.0, 1000.0, 1000.0], flat).p_value == 1.0
    assert cmp("iops", [850.0], flat).status == REGRESSION
    assert cmp("iops", [950.0], flat).status == UNCHANGED  # inside the tolerance


def test_an_outlier_in_the_baseline_does_not_hide_a_regression():
    baseline = [*noisy(1000, 10, 14, 11), 100.0]
    comparison = cmp("iops", noisy(800, 10, 3, 12), baseline)
    assert comparison.status == REGRESSION
    assert comparison.baseline_center == pytest.approx(1000, abs=10)
    assert comparison.baseline_spread < 30  # robust: the outlier does not inflate it


def test_one_outlier_run_in_the_current_samples_is_not_a_regression():
    baseline = noisy(1000, 10, 20, 13)
    assert cmp("iops", [1001.0, 995.0, 200.0], baseline).status == UNCHANGED


@pytest.mark.parametrize("count", [0, 1, 2])
def test_tiny_history_is_reported_as_insufficient(count):
    comparison = cmp("iops", [500.0], [1000.0] * count)
    assert comparison.status == INSUFFICIENT
    assert comparison.baseline_n == count
    assert f"{count} baseline run(s)" in comparison.message()
    assert "not enough history" in comparison.message()


def test_min_baseline_is_configurable():
    assert cmp("iops", [500.0], [1000.0, 1001.0, 999.0], min_baseline=5).status == INSUFFICIENT


def test_tolerance_override():
    baseline = noisy(1000, 1, 20, 14)
    current = noisy(950, 1, 5, 15)
    assert cmp("iops", current, baseline).status == UNCHANGED
    tight = cmp("iops", current, baseline, tolerance_pct=2)
    assert tight.status == REGRESSION
    assert tight.tolerance_pct == 2


def test_family_tolerances():
    assert default_tolerance_pct("iops") == 10
    assert default_tolerance_pct("read_bw_mib_s") == 10
    assert default_tolerance_pct("write_lat_mean_ms") == 15
    assert default_tolerance_pct("read_lat_p99_ms") == 25
    assert default_tolerance_pct("read_lat_p999_ms") == 50
    assert default_tolerance_pct("scaling_efficiency") == 10


def test_robust_spread():
    assert robust_spread([5.0]) == 0.0
    assert robust_spread([1.0, 2.0, 3.0, 4.0, 1000.0]) == pytest.approx(1.4826)


def test_change_point_at_a_level_shift():
    series = noisy(1000, 15, 25, 16) + noisy(820, 15, 20, 17)
    assert change_points(series, tolerance_pct=5) == [25]


def test_two_shifts():
    series = noisy(1000, 10, 15, 18) + noisy(700, 10, 15, 19) + noisy(1000, 10, 15, 20)
    assert change_points(series) == [15, 30]


def test_no_change_point_in_noise_or_for_one_outlier():
    series = noisy(1000, 20, 40, 21)
    series[20] = 300.0
    assert change_points(series) == []


def test_shift_within_tolerance_is_not_reported():
    series = noisy(1000, 2, 20, 22) + noisy(980, 2, 20, 23)
    assert change_points(series) == [20]
    assert change_points(series, tolerance_pct=5) == []


def test_short_or_flat_series():
    assert change_points([1.0, 2.0, 3.0]) == []
    assert change_points([5.0] * 30) == []


def test_few_samples_on_both_sides_use_welch():
    """2 vs 5 runs: Mann-Whitney cannot go below p = 1/21, Welch's t can."""
    comparison = cmp("iops", [800.0, 805.0], [1000.0, 1003.0, 998.0, 1001.0, 999.0])
    assert comparison.test == "welch-t"
    assert comparison.status == REGRESSION
    roomy = cmp("iops", [800.0, 805.0, 802.0], noisy(1000, 5, 20, 30))
    assert roomy.test == "mann-whitney-u"
    assert roomy.status == REGRESSION
