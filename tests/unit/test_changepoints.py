"""Level-shift detection: what it finds, what it ignores, and how its cost grows."""

from __future__ import annotations

import math
import random
import time

import pytest

from pytest_fioloadgen.verdicts import changepoints, regression
from pytest_fioloadgen.verdicts.changepoints import change_points, confirmed
from pytest_fioloadgen.verdicts.trends import level_shifts


def noisy(center: float, spread: float, count: int, rng: random.Random) -> list[float]:
    return [rng.gauss(center, spread) for _ in range(count)]


def test_the_gate_and_the_detector_share_alpha():
    assert changepoints.DEFAULT_ALPHA == regression.DEFAULT_ALPHA


def test_a_short_dip_is_two_shifts():
    rng = random.Random(1)
    series = noisy(1000, 30, 60, rng) + noisy(700, 30, 8, rng) + noisy(1000, 30, 60, rng)
    assert change_points(series, tolerance_pct=5) == [60, 68]


def test_outlier_runs_do_not_hide_a_shift():
    """One run in ten far below its level: none is a shift, and the real one is found."""
    rng = random.Random(2)
    series = noisy(1000, 20, 150, rng) + noisy(850, 20, 150, rng)
    for index in range(5, len(series), 10):
        series[index] *= 0.5
    assert change_points(series, tolerance_pct=5) == [150]


def test_runs_without_the_figure_keep_their_place():
    rng = random.Random(3)
    series = noisy(1000, 10, 20, rng) + noisy(800, 10, 20, rng)
    series[5] = math.nan
    series[30] = math.nan
    assert change_points(series, tolerance_pct=5) == [20]


def test_a_failing_proposal_is_dropped_and_its_neighbours_tested_again():
    """Cut 5 does not hold (same level both sides); with it gone, 40 is tested on 0-60."""
    rng = random.Random(4)
    series = noisy(1000, 10, 40, rng) + noisy(700, 10, 20, rng)
    assert confirmed(_array(series), [5, 40], alpha=0.01, tolerance_pct=5) == [40]


def _array(values):
    import numpy

    return numpy.asarray(values, dtype=float)


def _best_time(values, repeats=5):
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        level_shifts(values, "iops")
        best = min(best, time.perf_counter() - started)
    return best


def test_cost_grows_about_linearly():
    """2,000 points may cost at most 8x 500 (linear is 4x, quadratic 16x).

    A ratio measured side by side, not a timing: a stable key (one shift in noise) is
    where PELT was quadratic. The fastest of several interleaved runs of each size.
    """
    rng = random.Random(5)

    def series(count):
        return noisy(10_000, 500, count // 2, rng) + noisy(8_000, 500, count - count // 2, rng)

    small, large = series(500), series(2000)
    level_shifts(small, "iops")  # imports and caches warmed before measuring
    ratios = []
    for _ in range(3):
        ratios.append(_best_time(large) / _best_time(small))
    assert min(ratios) <= 8.0, ratios


def test_mann_whitney_p_is_scipys():
    import numpy
    from scipy import stats

    from pytest_fioloadgen.verdicts.changepoints import mann_whitney_p

    rng = numpy.random.default_rng(6)
    for n1, n2, rounding in ((5, 7, None), (9, 30, None), (40, 12, 0), (200, 300, 1), (6, 20, 0)):
        for shift in (0.0, 0.5, 2.0):
            first = rng.normal(shift, 1.0, n1) * 3
            second = rng.normal(0.0, 1.0, n2) * 3
            if rounding is not None:  # ties
                first, second = first.round(rounding), second.round(rounding)
            expected = stats.mannwhitneyu(first, second, alternative="two-sided").pvalue
            assert mann_whitney_p(first, second) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert mann_whitney_p(numpy.ones(10), numpy.ones(12)) == 1.0
