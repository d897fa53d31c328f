"""How good the distribution gate is, on recorded real runs (benchmarks/distribution_data.py
records them; benchmarks/data/distribution-runs.json.gz holds them).

    .venv/bin/python benchmarks/distribution_gate.py            # the calibration table
    .venv/bin/python benchmarks/distribution_gate.py --spreads  # the A/A spreads per quantile

For each draw a baseline of BASELINE_RUNS undisturbed (A/A) runs is chosen at random and
the current run(s) from the rest:

* A/A false positives: the current runs are other A/A runs (repeat 1: one run; repeat 3:
  three, their spectra's median per quantile, as the session judges repeats);
* slow paths, real I/O: the current runs are runs with a slow path (every Nth read of
  every worker returned late: 1 %, 2.9 % or 10 % of the I/Os; distribution_data.py says
  how and why), outside the history key;
* uniform shifts: A/A runs with every quantile (and every latency metric) 5 % or 10 %
  slower (arithmetic: a uniform shift is what scaling does).

Each draw is judged as the session judges it, by the distribution gate
(verdicts/distribution.py, the policy the plugin uses) and by the per-metric gate on the
same data (verdicts/regression.compare over the default gated metrics, each with its
default tolerance): at repeat 1 a suspected regression is run once more and judged over
both runs (the session's default confirmation run; every row's "repeat 1" includes it),
at repeat 3 the three runs are judged once (no confirmation by default). A detection or a
false positive is a regression verdict after that. Rates come with Wilson 95 % intervals.

``--grid`` prints the distribution gate's false positives and detections over a grid of
its settings (the calibration that chose DistributionPolicy's defaults).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import random
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_fioloadgen.fio.spectrum import SPECTRUM, spectrum_of_bins
from pytest_fioloadgen.verdicts.distribution import (
    REGRESSION,
    DistributionPolicy,
    compare_spectrum,
)
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS, compare
from pytest_fioloadgen.verdicts.regression import REGRESSION as METRIC_REGRESSION

DATA = Path(__file__).parent / "data" / "distribution-runs.json.gz"
BASELINE_RUNS = 20
SMALL_BASELINE_RUNS = 3
DRAWS = 400


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(hits: int, n: int) -> str:
    low, high = wilson(hits, n)
    return f"{100 * hits / n:5.1f} % ({100 * low:.1f}-{100 * high:.1f})"


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt") as handle:
        document: dict[str, Any] = json.load(handle)
    for run in document["runs"]:
        run["spectrum"] = {
            direction: spectrum_of_bins(run[direction]["bins"])
            for direction in ("read", "write")
            if run.get(direction, {}).get("bins")
        }
    return document


def shifted(run: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """A run with every latency (spectrum and metrics) ``factor`` times longer."""
    spectrum = {
        direction: {n: (v * factor if v is not None else None) for n, v in ladder.items()}
        for direction, ladder in run["spectrum"].items()
    }
    metrics = {
        name: (value * factor if "_lat_" in name else value)
        for name, value in run["metrics"].items()
    }
    return {**run, "spectrum": spectrum, "metrics": metrics}


def distribution_flags(
    current: Sequence[Mapping[str, Any]],
    baseline: Sequence[Mapping[str, Any]],
    policy: DistributionPolicy,
) -> bool:
    directions = set().union(*(run["spectrum"] for run in current))
    return any(
        compare_spectrum(
            direction,
            [run["spectrum"] for run in current],
            [run["spectrum"] for run in baseline],
            policy,
        ).status
        == REGRESSION
        for direction in directions
    )


def metric_flags(
    current: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]]
) -> bool:
    for metric in DEFAULT_GATED_METRICS:
        now = [run["metrics"][metric] for run in current if metric in run["metrics"]]
        then = [run["metrics"][metric] for run in baseline if metric in run["metrics"]]
        if not now or not then:
            continue
        judged = compare(metric, now, then, history_key="aa", baseline_description="A/A")
        if judged.status == METRIC_REGRESSION:
            return True
    return False


Judge = Callable[[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]], bool]


def confirmed(
    judge: Judge,
    current: Sequence[Mapping[str, Any]],
    spare: Mapping[str, Any],
    baseline: Sequence[Mapping[str, Any]],
) -> bool:
    """A regression verdict as the session reaches it: one run that looks worse is run
    again (``spare``) and judged over both; repeats are judged once."""
    if not judge(current, baseline):
        return False
    return len(current) > 1 or judge([*current, spare], baseline)


def draws_of(
    aa: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    repeat: int,
    baseline_runs: int,
    transform: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    draws: int,
    seed: int = 1,
) -> list[tuple[list[Mapping[str, Any]], Mapping[str, Any], list[Mapping[str, Any]]]]:
    """The draws: (current runs, the confirmation run, baseline), the same for every
    policy judged (so a grid's rows differ by the policy alone)."""
    rng = random.Random(seed)
    found = []
    for _ in range(draws):
        baseline = rng.sample(list(aa), baseline_runs)
        chosen = {id(run) for run in baseline}
        rest = [run for run in pool if id(run) not in chosen]
        picked = [transform(run) for run in rng.sample(rest, repeat + 1)]
        found.append((picked[:repeat], picked[repeat], baseline))
    return found


def trial(
    aa: Sequence[Mapping[str, Any]],
    pool: Sequence[Mapping[str, Any]],
    repeat: int,
    baseline_runs: int,
    policy: DistributionPolicy,
    transform: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda run: run,
    draws: int = DRAWS,
    seed: int = 1,
    per_metric: bool = True,
) -> tuple[int, int, int]:
    """(distribution gate hits, per-metric gate hits, draws)."""
    hits_distribution = hits_metric = 0

    def by_distribution(
        current: Sequence[Mapping[str, Any]], base: Sequence[Mapping[str, Any]]
    ) -> bool:
        return distribution_flags(current, base, policy)

    for current, spare, baseline in draws_of(
        aa, pool, repeat, baseline_runs, transform, draws, seed
    ):
        hits_distribution += confirmed(by_distribution, current, spare, baseline)
        if per_metric:
            hits_metric += confirmed(metric_flags, current, spare, baseline)
    return hits_distribution, hits_metric, draws


def spreads(aa: Sequence[Mapping[str, Any]], direction: str) -> dict[str, float]:
    """The robust run-to-run spread (1.4826 x MAD of log latency) per quantile over the
    A/A runs: the floor small baselines are widened to."""
    found = {}
    for name, _percentile in SPECTRUM:
        values = [
            math.log(v)
            for run in aa
            if (v := (run["spectrum"].get(direction) or {}).get(name)) is not None and v > 0
        ]
        if len(values) >= 10:
            centre = statistics.median(values)
            found[name] = round(1.4826 * statistics.median(abs(v - centre) for v in values), 3)
    return found


GRID = {
    "band_k": (3.0, 4.0, 5.0, 6.0),
    "tolerance_pct": (15.0, 30.0, 60.0),
    "shift_k": (2.0, 3.0),
}


def grid(aa: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]], draws: int) -> None:
    """False positives (repeat 1 with its confirmation, repeat 3) and detections (repeat 1)
    of the distribution gate for each combination of GRID's settings."""
    kinds = sorted({run["kind"] for run in runs if run["kind"] != "aa"})
    pools = [("A/A r1", aa, 1), ("A/A r3", aa, 3)]
    pools += [(f"{kind} r1", [r for r in runs if r["kind"] == kind], 1) for kind in kinds]
    prepared = [
        (label, draws_of(aa, pool, repeat, BASELINE_RUNS, lambda run: run, draws))
        for label, pool, repeat in pools
    ]
    names = list(GRID)
    print(
        " ".join(f"{name:>13}" for name in names) + "".join(f"{label:>14}" for label, _ in prepared)
    )
    for values in itertools.product(*GRID.values()):
        settings: dict[str, Any] = dict(zip(names, values, strict=True))
        policy = replace(DistributionPolicy(), **settings)

        def judge(
            current: Sequence[Mapping[str, Any]],
            base: Sequence[Mapping[str, Any]],
            policy: DistributionPolicy = policy,
        ) -> bool:
            return distribution_flags(current, base, policy)

        cells = []
        for _label, drawn in prepared:
            hits = sum(confirmed(judge, current, spare, base) for current, spare, base in drawn)
            cells.append(f"{100 * hits / len(drawn):13.1f}%")
        print(" ".join(f"{value:>13g}" for value in values) + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--spreads", action="store_true", help="print the A/A spreads only")
    parser.add_argument(
        "--grid", action="store_true", help="the distribution gate over a grid of its settings"
    )
    args = parser.parse_args(argv)
    document = load(args.data)
    runs = document["runs"]
    aa = [run for run in runs if run["kind"] == "aa"]
    kinds = sorted({run["kind"] for run in runs if run["kind"] != "aa"})
    if args.spreads:
        for direction in ("read", "write"):
            found = spreads(aa, direction)
            if found:
                print(f"{direction}: {json.dumps(found)}")
        return 0
    if args.grid:
        grid(aa, runs, args.draws)
        return 0
    policy = DistributionPolicy()
    print(
        f"{len(aa)} A/A runs, {sum(1 for r in runs if r['kind'] != 'aa')} slow-path runs"
        f" ({document.get('workers')} workers, fio {document.get('fio_version')}); baseline"
        f" {BASELINE_RUNS} A/A runs ({SMALL_BASELINE_RUNS} for the small-baseline row),"
        f" {args.draws} draws per row; rates with Wilson 95 % intervals"
    )
    header = (
        f"{'current runs':34} {'repeat':>6}  {'distribution gate':>24}  {'per-metric gate':>24}"
    )
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, Sequence[Mapping[str, Any]], Callable[..., Any], int]] = [
        ("A/A (false positives)", aa, lambda run: run, BASELINE_RUNS),
        ("A/A, small baseline", aa, lambda run: run, SMALL_BASELINE_RUNS),
    ]
    for kind in kinds:
        slowed = [run for run in runs if run["kind"] == kind]
        fractions = [run.get("slow_fraction") or 0 for run in slowed]
        label = f"{kind} (slow path on {100 * statistics.median(fractions):.1f} % of I/Os)"
        rows.append((label, slowed, lambda run: run, BASELINE_RUNS))
    for factor in (1.05, 1.10):
        rows.append(
            (
                f"uniform +{(factor - 1) * 100:.0f} % shift",
                aa,
                lambda run, f=factor: shifted(run, f),
                BASELINE_RUNS,
            )
        )
    for label, pool, transform, baseline_runs in rows:
        for repeat in (1, 3):
            if len(pool) < repeat or len(aa) < baseline_runs + 1:
                continue
            source = pool if pool is not aa else aa
            dist, metric, n = trial(
                aa, source, repeat, baseline_runs, policy, transform, args.draws
            )
            print(f"{label:34} {repeat:>6}  {rate(dist, n):>24}  {rate(metric, n):>24}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
