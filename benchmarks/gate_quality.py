"""Measure how good the regression gate is, on real fio runs of one case.

    python benchmarks/gate_quality.py --record samples.json     # real runs (about 4 min)
    python benchmarks/gate_quality.py --replay samples.json     # decisions only

Recording runs one case (shipped randread-4k, 1 local worker) many times, interleaving
two variants so drift over time hits both alike: "A" as shipped, and "slow", the same
profile with ``rate_iops`` capped at 85% of A's median IOPS (a 15% slowdown). Then:

* A/A false-positive rate: baseline = 20 A runs, current = other A runs (1 and 3 of
  them), 400 random draws each plus every time-ordered window; a false positive is any
  gated metric judged a regression.
* Detection rate: baseline = 20 A runs, current = 3 slow runs (repeat=3), 400 draws.
* repeat=1 with --fio-confirm 1 and 2, both ways: a run judged a regression is run again
  and the pooled samples decide.

The same decision code as the plugin is used (pytest_fioloadgen.verdicts.regression.compare, the
default gated metrics and tolerances). For contrast the script also prints what a naive
"5% below the baseline mean" gate would do on the same draws.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio.runner import run_fio
from pytest_fioloadgen.profiles import load_profile, shipped_profiles_dir
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS, REGRESSION, compare

BASELINE_RUNS = 20
DRAWS = 400


def record(path: Path, runtime: int, a_runs: int) -> None:
    profile = load_profile(shipped_profiles_dir() / "randread-4k.fio")
    shipped = profile.with_overrides(runtime=runtime, size="64m").without_directory()
    backend = LocalBackend([LocalTarget("gate")], session_id=uuid.uuid4().hex)
    env = backend.deploy(["gate"], 1)
    samples: dict[str, list[dict[str, float]]] = {"A": [], "slow": []}
    try:
        workers = backend.resolve(env, "gate", 1)
        addresses = [worker.address for worker in workers]

        def one(job: str) -> dict[str, float]:
            result, _ = run_fio(job, addresses, expected_runtime_s=runtime)
            return dict(result.metrics)

        # Warm up (first runs lay out files and fill caches), then calibrate the
        # slowdown on ten A runs.
        for _ in range(2):
            one(shipped.render())
        for _ in range(10):
            samples["A"].append(one(shipped.render()))
        median_iops = statistics.median(s["iops"] for s in samples["A"])
        rate = int(median_iops * 0.85 / int(shipped.sections[0].get("numjobs") or 1))
        slow_text = shipped.render().replace("[global]\n", f"[global]\nrate_iops={rate}\n", 1)
        started = time.monotonic()
        while len(samples["A"]) < a_runs:
            # A A slow A A slow ...: both variants see the same drift.
            samples["A"].append(one(shipped.render()))
            if len(samples["A"]) % 2 == 0:
                samples["slow"].append(one(slow_text))
            done = len(samples["A"]) + len(samples["slow"])
            print(f"\r  {done} runs, {time.monotonic() - started:.0f} s", end="", file=sys.stderr)
        print(file=sys.stderr)
    finally:
        backend.teardown(env)
    path.write_text(
        json.dumps(
            {"profile": "randread-4k", "runtime": runtime, "rate_iops": rate, "samples": samples}
        )
    )


def _regressed(current: Sequence[dict[str, float]], baseline: Sequence[dict[str, float]]) -> bool:
    for metric in DEFAULT_GATED_METRICS:
        if metric not in current[0]:
            continue
        comparison = compare(
            metric,
            [s[metric] for s in current],
            [s[metric] for s in baseline],
            history_key="bench",
            baseline_description="bench",
        )
        if comparison.status == REGRESSION:
            return True
    return False


def _confirmed(current: Sequence[dict[str, float]], baseline: Sequence[dict[str, float]]) -> bool:
    """What the session does with repeat=1 and --fio-confirm len(current)-1."""
    pooled = [current[0]]
    suspected = _regressed(pooled, baseline)
    for extra in current[1:]:
        if not suspected:
            break
        pooled.append(extra)
        suspected = _regressed(pooled, baseline)
    return suspected


def _naive(current: Sequence[dict[str, float]], baseline: Sequence[dict[str, float]]) -> bool:
    return statistics.fmean(s["iops"] for s in current) < 0.95 * statistics.fmean(
        s["iops"] for s in baseline
    )


def evaluate(path: Path, seed: int) -> None:
    document = json.loads(path.read_text())
    a_pool: list[dict[str, float]] = document["samples"]["A"]
    slow_pool: list[dict[str, float]] = document["samples"]["slow"]
    rng = random.Random(seed)
    iops = [s["iops"] for s in a_pool]
    print(
        f"samples: {len(a_pool)} A runs (median IOPS {statistics.median(iops):.0f}, "
        f"spread {statistics.stdev(iops) / statistics.fmean(iops) * 100:.1f}% CV), "
        f"{len(slow_pool)} slow runs (rate_iops={document['rate_iops']}, median IOPS "
        f"{statistics.median(s['iops'] for s in slow_pool):.0f}); runtime {document['runtime']} s"
    )

    def draws(current_pool: list[dict[str, float]], repeat: int) -> list[tuple[list, list]]:
        pairs = []
        for _ in range(DRAWS):
            baseline = rng.sample(a_pool, BASELINE_RUNS)
            others = [s for s in current_pool if s not in baseline] or current_pool
            pairs.append((rng.sample(others, repeat), baseline))
        return pairs

    for repeat in (1, 3):
        pairs = draws(a_pool, repeat)
        fp = sum(_regressed(c, b) for c, b in pairs)
        naive = sum(_naive(c, b) for c, b in pairs)
        print(
            f"A/A repeat={repeat}: {fp}/{len(pairs)} false positives "
            f"({fp / len(pairs) * 100:.2f}%; target <= 1%); naive 5% gate: "
            f"{naive / len(pairs) * 100:.1f}%"
        )
    ordered = [
        (a_pool[i + BASELINE_RUNS : i + BASELINE_RUNS + 3], a_pool[i : i + BASELINE_RUNS])
        for i in range(len(a_pool) - BASELINE_RUNS - 2)
    ]
    fp = sum(_regressed(c, b) for c, b in ordered)
    print(f"A/A time-ordered (20 previous runs vs next 3): {fp}/{len(ordered)} false positives")
    pairs = draws(slow_pool, 3)
    hits = sum(_regressed(c, b) for c, b in pairs)
    naive = sum(_naive(c, b) for c, b in pairs)
    print(
        f"15% slowdown repeat=3: {hits}/{len(pairs)} detected "
        f"({hits / len(pairs) * 100:.1f}%; target >= 95%); naive 5% gate: "
        f"{naive / len(pairs) * 100:.1f}%"
    )
    # repeat=1 with --fio-confirm K: a suspected regression is run again, samples pooled.
    for confirm in (1, 2):
        for name, pool in (("A/A", a_pool), ("15% slowdown", slow_pool)):
            flagged = sum(_confirmed(c, b) for c, b in draws(pool, 1 + confirm))
            print(
                f"{name} repeat=1 --fio-confirm {confirm}: {flagged}/{DRAWS} flagged "
                f"({flagged / DRAWS * 100:.2f}%)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, metavar="SAMPLES.json")
    mode.add_argument("--replay", type=Path, metavar="SAMPLES.json")
    parser.add_argument("--runtime", type=int, default=2, help="seconds per run (default 2)")
    parser.add_argument("--a-runs", type=int, default=60, help="A runs to record (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.record:
        record(args.record, args.runtime, args.a_runs)
        evaluate(args.record, args.seed)
    else:
        evaluate(args.replay, args.seed)


if __name__ == "__main__":
    main()
