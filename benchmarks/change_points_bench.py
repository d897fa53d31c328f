"""Change-point detection: time over 1k / 10k / 100k points, precision and recall.

    .venv/bin/python benchmarks/change_points_bench.py [--with-pelt] [--seed 1]

1. Time of ``trend.level_shifts`` (what the server, ``fioloadgen history`` and the site
   run per key) on noisy IOPS series with known steps (benchmarks/series.py: a step every
   80 runs on average) and on flat noise, at 1k, 10k and 100k points, with the ratios
   between sizes (linear growth is 10x from one size to the next: the same time a point).
2. Precision and recall on synthetic series with known steps: 200 series of 300 points
   and 100 of 1,000; a detection within 3 runs of a true step finds it.
3. Real fio noise (benchmarks/data/gate-samples.json, recorded by gate_quality.py): the
   60 A runs in the order they ran (no true shift: detections are false), and 50 draws of
   30 A runs + 20 runs at 85% rate + 30 A runs (true shifts at 30 and 50).

``--with-pelt`` also runs the previous detector (ruptures' PELT, l2, jump=1) on parts 2
and 3 and times it on 500, 1k and 2k points (it is quadratic: 10k would take minutes).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from series import matched, stepped_series  # noqa: E402

from pytest_fioloadgen.verdicts.changepoints import (  # noqa: E402
    change_points,
    confirmed,
    noise_level,
)
from pytest_fioloadgen.verdicts.regression import default_tolerance_pct  # noqa: E402
from pytest_fioloadgen.verdicts.trends import level_shifts  # noqa: E402

Detector = Callable[[Sequence[float], float], list[int]]
SAMPLES = HERE / "data" / "gate-samples.json"


def current(values: Sequence[float], tolerance_pct: float) -> list[int]:
    return change_points(values, tolerance_pct=tolerance_pct)


def pelt(values: Sequence[float], tolerance_pct: float) -> list[int]:
    """The detector before issue 12: PELT proposals, each confirmed the same way."""
    import ruptures  # the test extra has it; the package no longer needs it

    series = numpy.asarray(values, dtype=float)
    if len(series) < 6:
        return []
    signal = series.reshape(-1, 1) / noise_level(series)
    algorithm = ruptures.Pelt(model="l2", min_size=3, jump=1).fit(signal)
    proposals = [i for i in algorithm.predict(pen=3.0 * math.log(len(series))) if i < len(series)]
    # The old confirmation tested each proposal once against its neighbours' segments.
    kept = []
    bounds = [0, *proposals, len(series)]
    for position, index in enumerate(proposals, start=1):
        if confirmed(
            series[bounds[position - 1] : bounds[position + 1]],
            [index - bounds[position - 1]],
            alpha=0.01,
            tolerance_pct=tolerance_pct,
        ):
            kept.append(index)
    return kept


def best_of(repeats: int, action: Callable[[], object]) -> float:
    """The fastest of several runs: the machine is shared, the minimum is the cost."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def timing(sizes: Sequence[int], seed: int, repeats: int) -> None:
    for shape in ("steps", "flat"):
        previous = None
        line = []
        for size in sizes:
            rng = random.Random(seed)
            if shape == "steps":
                values = stepped_series(size, rng).values
            else:
                values = [rng.gauss(10_000.0, 500.0) for _ in range(size)]
            run = functools.partial(level_shifts, values, "iops")
            seconds = best_of(repeats if size < 100_000 else 1, run)
            ratio = "" if previous is None else f", x{seconds / previous:.1f}"
            per_point = seconds / size * 1e6
            line.append(
                f"{size // 1000}k {seconds * 1000:.0f} ms ({per_point:.1f} us a point{ratio})"
            )
            previous = seconds
        print(f"level_shifts, {shape:5}: " + ", ".join(line))


def precision_recall(name: str, detect: Detector, seed: int) -> None:
    tolerance = default_tolerance_pct("iops") / 2  # what level_shifts asks of IOPS
    for size, count in ((300, 200), (1000, 100)):
        rng = random.Random(seed)
        hits = found = true = 0
        started = time.perf_counter()
        for _ in range(count):
            series = stepped_series(size, rng)
            detected = detect(series.values, tolerance)
            hits += matched(detected, series.steps)
            found += len(detected)
            true += len(series.steps)
        elapsed = (time.perf_counter() - started) / count
        print(
            f"{name}: {count} series of {size}: precision {hits / max(found, 1):.3f}, "
            f"recall {hits / true:.3f} ({hits} of {true} steps found, {found - hits} false), "
            f"{elapsed * 1000:.1f} ms a series"
        )


def real_noise(name: str, detect: Detector, seed: int) -> None:
    document = json.loads(SAMPLES.read_text())
    a_runs, slow_runs = document["samples"]["A"], document["samples"]["slow"]
    parts = []
    for metric in ("iops", "read_lat_mean_ms", "read_lat_p99_ms"):
        tolerance = default_tolerance_pct(metric) / 2
        a_values = [sample[metric] for sample in a_runs]
        slow = [sample[metric] for sample in slow_runs]
        shift = (statistics.median(slow) / statistics.median(a_values) - 1) * 100
        in_order = len(detect(a_values, tolerance))
        rng = random.Random(seed)
        hits = false = 0
        for _ in range(50):
            values = rng.sample(a_values, 30) + rng.sample(slow, 20) + rng.sample(a_values, 30)
            detected = detect(values, tolerance)
            found = matched(detected, [30, 50])
            hits += found
            false += len(detected) - found
        expected = "2 shifts" if abs(shift) > tolerance else "no shift (within tolerance)"
        parts.append(
            f"  {metric} (slow {shift:+.0f}%, half-tolerance {tolerance:g}%: {expected}): "
            f"A in order {in_order} detections; A+slow+A {hits}/100 shifts found, "
            f"{false} other detections"
        )
    print(f"{name}, real fio noise ({SAMPLES.name}):")
    print("\n".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-pelt", action="store_true", help="also the previous detector")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timing: best of N")
    args = parser.parse_args()
    timing((1_000, 10_000, 100_000), args.seed, args.repeats)
    detectors: list[tuple[str, Detector]] = [("binary segmentation", current)]
    if args.with_pelt:
        rng = random.Random(args.seed)
        line = []
        for size in (500, 1000, 2000):
            values = stepped_series(size, rng).values
            seconds = best_of(1, functools.partial(pelt, values, 5.0))
            line.append(f"{size} {seconds * 1000:.0f} ms")
        print("previous (PELT), steps: " + ", ".join(line))
        detectors.append(("previous (PELT)", pelt))
    for name, detect in detectors:
        precision_recall(name, detect, args.seed)
    for name, detect in detectors:
        real_noise(name, detect, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
