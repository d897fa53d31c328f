"""Gate quality against slowdowns that keep the noise of a real regression.

    python benchmarks/gate_thinktime.py --record benchmarks/data/gate-thinktime.json
    python benchmarks/gate_thinktime.py --replay benchmarks/data/gate-thinktime.json

gate_quality.py's "slow" variant is a ``rate_iops`` cap: its runs have almost no
variance, which flatters detection. Here the slowdowns are ``thinktime`` per I/O (spun,
so it is exact at microseconds), calibrated to 5%, 10% and 15% of A's median IOPS: the
storage still does the work, with its own noise. Recording interleaves A and the three
variants (randread-4k with direct=1, one local worker, 2 s runs, no ramp). Replaying
prints, per repeat count, the A/A false positives, the detection of each slowdown (the
same decision code as the plugin: gate_quality's helpers over verdicts.regression), and
what ``fioloadgen power`` predicts for the same noise: the slowdown it says the gate
flags 80% of the time (verdicts.regression.detectable_slowdown_pct).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

from gate_quality import BASELINE_RUNS, _confirmed, _regressed

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio.runner import run_fio
from pytest_fioloadgen.profiles import load_profile, shipped_profiles_dir
from pytest_fioloadgen.verdicts.regression import default_tolerance_pct, detectable_slowdown_pct

SLOWDOWNS = (5, 10, 15)
DRAWS = 300
#: I/Os between two pauses: the shipped randread-4k's queue depth.
BLOCKS = 4


def _with_thinktime(job: str, pause_us: int) -> str:
    return job.replace(
        "[global]\n", f"[global]\nthinktime={pause_us}\nthinktime_blocks={BLOCKS}\n", 1
    )


def record(path: Path, runtime: int, a_runs: int, slow_runs: int) -> None:
    profile = load_profile(shipped_profiles_dir() / "randread-4k.fio")
    shipped = profile.with_overrides(runtime=runtime, size="128m").without_directory()
    job = shipped.render().replace("ramp_time=2\n", "")
    base = Path(".fioloadgen")
    base.mkdir(exist_ok=True)
    backend = LocalBackend([LocalTarget("gate", base)], session_id=uuid.uuid4().hex)
    env = backend.deploy(["gate"], 1)
    samples: dict[str, list[dict[str, float]]] = {"A": [], **{f"t{s}": [] for s in SLOWDOWNS}}
    thinktime: dict[str, int] = {}
    try:
        addresses = [worker.address for worker in backend.resolve(env, "gate", 1)]

        def one(text: str) -> dict[str, float]:
            result, _ = run_fio(text, addresses, expected_runtime_s=runtime)
            return dict(result.metrics)

        one(job)  # lays the file out
        for _ in range(6):
            samples["A"].append(one(job))
        # To lose s of the throughput each I/O must take s/(1-s)/IOPS longer. fio pauses
        # for `thinktime` microseconds after every `thinktime_blocks` I/Os (one queue's
        # worth), sleeping (fio 3.33 hangs with thinktime_spin on libaio); the pause is
        # then calibrated on real runs, since sleeps overshoot at microseconds.
        median = statistics.median(s["iops"] for s in samples["A"])
        variants = {}
        for slowdown in SLOWDOWNS:
            share = slowdown / 100
            pause_us = max(1, round(BLOCKS * share / (1 - share) / median * 1e6))
            for _attempt in range(3):
                text = _with_thinktime(job, pause_us)
                measured = statistics.median(one(text)["iops"] for _ in range(2))
                lost = max(0.001, 1 - measured / median)
                if abs(lost - share) < 0.01:
                    break
                pause_us = max(1, round(pause_us * share / lost))
            thinktime[f"t{slowdown}"] = pause_us
            variants[f"t{slowdown}"] = _with_thinktime(job, pause_us)
        started = time.monotonic()
        while len(samples["A"]) < a_runs or any(
            len(samples[name]) < slow_runs for name in variants
        ):
            samples["A"].append(one(job))
            for name, text in variants.items():
                if len(samples[name]) < slow_runs:
                    samples[name].append(one(text))
            done = sum(len(v) for v in samples.values())
            print(f"\r  {done} runs, {time.monotonic() - started:.0f} s", end="", file=sys.stderr)
        print(file=sys.stderr)
    finally:
        backend.teardown(env)
    document = {
        "profile": "randread-4k",
        "runtime": runtime,
        "thinktime_us": thinktime,
        "samples": samples,
    }
    path.write_text(json.dumps(document) + "\n")


def evaluate(path: Path, seed: int) -> None:
    document = json.loads(path.read_text())
    pools: dict[str, list[dict[str, float]]] = document["samples"]
    a_pool = pools["A"]
    rng = random.Random(seed)
    a_median = statistics.median(s["iops"] for s in a_pool)
    a_cv = statistics.stdev(s["iops"] for s in a_pool) / statistics.fmean(s["iops"] for s in a_pool)
    print(
        f"A: {len(a_pool)} runs, median IOPS {a_median:.0f}, CV {a_cv * 100:.1f}%;"
        f" {document['runtime']} s runs of {document['profile']}, direct=1"
    )
    for name, pool in pools.items():
        if name == "A":
            continue
        iops = [s["iops"] for s in pool]
        cv = statistics.stdev(iops) / statistics.fmean(iops) * 100
        slowdown = (1 - statistics.median(iops) / a_median) * 100
        print(
            f"{name}: {len(pool)} runs, thinktime {document['thinktime_us'][name]} us per"
            f" {BLOCKS} I/Os, median IOPS {statistics.median(iops):.0f} ({slowdown:.1f}% slower),"
            f" CV {cv:.1f}%"
        )

    def draws(current_pool: list[dict[str, float]], count: int) -> list[tuple[list, list]]:
        pairs = []
        for _ in range(DRAWS):
            baseline = rng.sample(a_pool, BASELINE_RUNS)
            others = [s for s in current_pool if s not in baseline] or current_pool
            pairs.append((rng.sample(others, count), baseline))
        return pairs

    tolerance = default_tolerance_pct("iops")
    print(f"\nflagged as a regression, {DRAWS} draws each, baseline {BASELINE_RUNS} A runs:")
    # Columns by the slowdown measured (calibration aims at SLOWDOWNS, drift moves it).
    measured = {
        name: (1 - statistics.median(s["iops"] for s in pools[name]) / a_median) * 100
        for name in pools
        if name != "A"
    }
    header = ["A/A", *(f"{measured[f't{s}']:.1f}% slower" for s in SLOWDOWNS)]
    header.append("power: flags 80% at")
    print(f"{'':26}" + "".join(f"{title:>14}" for title in header[:-1]) + f"{header[-1]:>24}")
    for label, count, decide in (
        ("repeat 1 + 1 confirmation", 2, _confirmed),
        ("repeat 3", 3, _regressed),
        ("repeat 5", 5, _regressed),
    ):
        cells = []
        for name in ("A", *(f"t{s}" for s in SLOWDOWNS)):
            flagged = sum(decide(c, b) for c, b in draws(pools[name], count))
            cells.append(f"{flagged / DRAWS * 100:.1f}%")
        repeat = 1 if count == 2 else count
        predicted = [
            detectable_slowdown_pct(
                [s["iops"] for s in rng.sample(a_pool, BASELINE_RUNS)],
                repeat,
                tolerance,
                alpha=0.01,
            )
            for _ in range(50)
        ]
        cells.append(f"{statistics.median(p for p in predicted if p is not None):.1f}% slower")
        print(f"{label:26}" + "".join(f"{cell:>14}" for cell in cells[:-1]) + f"{cells[-1]:>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, metavar="SAMPLES.json")
    mode.add_argument("--replay", type=Path, metavar="SAMPLES.json")
    parser.add_argument("--runtime", type=int, default=2, help="seconds per run (default 2)")
    parser.add_argument("--a-runs", type=int, default=40, help="A runs (default 40)")
    parser.add_argument("--slow-runs", type=int, default=15, help="runs per slowdown (15)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.record:
        record(args.record, args.runtime, args.a_runs, args.slow_runs)
    evaluate(args.record or args.replay, args.seed)


if __name__ == "__main__":
    main()
