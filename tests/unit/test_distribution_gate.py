"""The gate on the whole latency distribution, on spectra (verdicts/distribution.py), and
the spectrum read from real json+ (fio/spectrum.py)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from pytest_fioloadgen.fio.results import parse_result, percentile_from_bins
from pytest_fioloadgen.fio.spectrum import SPECTRUM, run_spectrum
from pytest_fioloadgen.verdicts.distribution import (
    AA_LOG_SPREAD,
    INSUFFICIENT,
    REGRESSION,
    UNCHANGED,
    DistributionPolicy,
    bands,
    compare_spectrum,
)
from pytest_fioloadgen.verdicts.gating import decide
from pytest_fioloadgen.verdicts.status import Status
from pytest_fioloadgen.verdicts.thresholds import LimitChecks

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
#: A plausible SSD read spectrum (ms).
BASE = {
    "p1": 0.060, "p5": 0.065, "p10": 0.070, "p25": 0.080, "p50": 0.095, "p75": 0.12,
    "p90": 0.15, "p95": 0.18, "p97": 0.21, "p98": 0.24, "p99": 0.30, "p995": 0.40, "p999": 0.80, "p9995": 1.1,
    "p9999": 2.0, "max": 5.0,
}  # fmt: skip
POLICY = DistributionPolicy()


def noisy(scale: float = 1.0, seed: int = 0, tail: dict[str, float] | None = None) -> dict:
    """A run's spectrum: the base with run-to-run noise growing into the tail."""
    rng = random.Random(seed)
    spectrum = {}
    for name, percentile in SPECTRUM:
        spread = 0.02 if percentile <= 90 else 0.05 if percentile <= 99 else 0.12
        value = BASE[name] * scale * (1 + rng.gauss(0, spread))
        spectrum[name] = value * (tail or {}).get(name, 1.0)
    return {"read": spectrum}


BASELINE = [noisy(seed=seed) for seed in range(1, 21)]


def test_the_spectrum_is_the_merged_histograms_ladder():
    result = parse_result(json.loads((GOLDEN / "randrw-w4.json").read_text()))
    spectrum = run_spectrum(result)
    assert set(spectrum) == {"read", "write"}
    for name, percentile in SPECTRUM:
        expected = percentile_from_bins(result.read.latency.bins, percentile)
        if result.read.latency.samples < 10 / (1 - percentile / 100):
            assert spectrum["read"][name] is None
        else:
            assert spectrum["read"][name] == pytest.approx(expected / 1e6)
    assert spectrum["read"]["max"] == pytest.approx(max(result.read.latency.bins) / 1e6)


def test_an_undisturbed_run_is_within_its_band():
    judged = compare_spectrum("read", [noisy(seed=99)], BASELINE, POLICY)
    assert judged.status == UNCHANGED and not judged.kind


def test_a_slow_path_on_one_percent_of_the_ios_is_a_regression_naming_its_range():
    # Everything above p99 three times slower: a slow replica behind 1 % of the I/Os.
    tail = {"p995": 3.0, "p999": 3.0, "p9995": 3.0, "p9999": 3.0}
    judged = compare_spectrum("read", [noisy(seed=99, tail=tail)], BASELINE, POLICY)
    assert judged.status == REGRESSION and judged.kind == "slow-path"
    assert judged.quantiles == ("p995", "p999", "p9995", "p9999")
    assert judged.mass_pct == pytest.approx(1.0)
    assert re.fullmatch(
        r"latency distribution: read p99\.5-p99\.99 up [23]\.\dx, 1\.0 % of I/Os",
        judged.message(),
    ), judged.message()


def test_a_tail_below_the_minimum_mass_is_not_a_regression():
    tail = {"p999": 3.0, "p9995": 3.0, "p9999": 3.0}  # 0.5 % of the I/Os
    judged = compare_spectrum("read", [noisy(seed=99, tail=tail)], BASELINE, POLICY)
    assert judged.status == UNCHANGED


def test_a_small_shift_of_every_quantile_is_a_regression_no_metric_sees():
    judged = compare_spectrum("read", [noisy(scale=1.08, seed=99)], BASELINE, POLICY)
    assert judged.status == REGRESSION and judged.kind == "shift"
    assert judged.ratio == pytest.approx(1.08, abs=0.02)
    assert "every quantile up" in judged.message()
    # 2 % is inside the shift tolerance.
    assert compare_spectrum("read", [noisy(scale=1.02, seed=99)], BASELINE, POLICY).status == (
        UNCHANGED
    )


def test_too_little_history_waits():
    judged = compare_spectrum("read", [noisy(seed=99)], BASELINE[:2], POLICY)
    assert judged.status == INSUFFICIENT and judged.baseline_n == 2


def test_a_small_baseline_is_widened_from_the_aa_data():
    three = bands(BASELINE[:3], "read")
    twenty = bands(BASELINE, "read")
    assert three["p9999"].spread >= AA_LOG_SPREAD["p9999"] > twenty["p9999"].spread


def test_the_thresholds_file_can_turn_it_off_or_widen_it():
    assert not POLICY.with_overrides({"gate": False}).enabled
    wider = POLICY.with_overrides({"tolerance_pct": 250})
    tail = {"p995": 3.0, "p999": 3.0, "p9995": 3.0, "p9999": 3.0}
    judged = compare_spectrum("read", [noisy(seed=99, tail=tail)], BASELINE, wider)
    assert judged.status == UNCHANGED


def test_a_distribution_regression_is_confirmed_then_decided_like_any():
    tail = {"p995": 3.0, "p999": 3.0, "p9995": 3.0, "p9999": 3.0}
    found = (compare_spectrum("read", [noisy(seed=99, tail=tail)], BASELINE, POLICY),)
    suspect = decide(LimitChecks(), (), confirmations_left=1, distribution=found)
    assert suspect.status is Status.SUSPECT
    final = decide(LimitChecks(), (), confirmations_left=0, distribution=found)
    assert final.status is Status.REGRESSION
    assert final.reason.startswith("worse than baseline: latency distribution: read p99.5-p99.99")
    assert final.evidence()["distribution"][0]["kind"] == "slow-path"
