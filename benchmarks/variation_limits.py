"""Where the repeatability limits (verdicts/variation.py) come from: A/A runs of shipped
profiles with direct I/O, and the CV that N repeats of one unchanged case show.

    python benchmarks/variation_limits.py --record benchmarks/data/aa-direct.json
    python benchmarks/variation_limits.py --replay benchmarks/data/aa-direct.json

Recording runs each profile (one local worker, on .fioloadgen/ in the current directory)
``--runs`` times, interleaved so drift hits every profile alike. Replaying draws
``--repeat`` runs of a profile at random, 2,000 times, and prints per gated metric the
median, 95th and 99th percentile of their CV next to the limit the plugin uses: a limit
below the 99th percentile would call about 1 in 100 unchanged cases unstable.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import uuid
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio.runner import run_fio
from pytest_fioloadgen.profiles import load_profile, shipped_profiles_dir
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS
from pytest_fioloadgen.verdicts.variation import coefficient_of_variation_pct, default_max_cv_pct

PROFILES = ("lat-qd1-4k", "randread-4k", "seqread-1m")
DRAWS = 2000


def record(path: Path, runs: int, runtime: int) -> None:
    profiles = {
        name: load_profile(shipped_profiles_dir() / f"{name}.fio")
        .with_overrides(runtime=runtime, size="128m")
        .without_directory()
        for name in PROFILES
    }
    base = Path(".fioloadgen")
    base.mkdir(exist_ok=True)
    backend = LocalBackend([LocalTarget("aa", base)], session_id=uuid.uuid4().hex)
    env = backend.deploy(["aa"], 1)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in PROFILES}
    try:
        addresses = [worker.address for worker in backend.resolve(env, "aa", 1)]
        for profile in profiles.values():  # lay the files out once, not measured
            run_fio(profile.render(), addresses, expected_runtime_s=runtime + 2)
        for index in range(runs):
            for name, profile in profiles.items():
                result, _ = run_fio(profile.render(), addresses, expected_runtime_s=runtime + 2)
                samples[name].append(dict(result.metrics))
            print(f"round {index + 1}/{runs}", flush=True)
    finally:
        backend.teardown(env)
    document = {"runtime": runtime, "ramp_time": 2, "direct": 1, "samples": samples}
    path.write_text(json.dumps(document, indent=1) + "\n")
    print(f"recorded {runs} runs of {', '.join(PROFILES)} in {path}")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def replay(path: Path, repeat: int, seed: int) -> None:
    document = json.loads(path.read_text())
    rng = random.Random(seed)
    print(
        f"CV of {repeat} repeats of one unchanged case ({document['runtime']} s runs, direct=1),"
        f" {DRAWS} draws per profile"
    )
    print(f"{'profile':14} {'metric':18} {'median':>7} {'p95':>7} {'p99':>7} {'limit':>7}")
    for name, runs in document["samples"].items():
        for metric in DEFAULT_GATED_METRICS:
            values = [run[metric] for run in runs if run.get(metric)]
            if len(values) < repeat:
                continue
            cvs = [
                coefficient_of_variation_pct(rng.sample(values, repeat)) or 0.0
                for _ in range(DRAWS)
            ]
            print(
                f"{name:14} {metric:18} {statistics.median(cvs):6.1f}% {_quantile(cvs, 0.95):6.1f}%"
                f" {_quantile(cvs, 0.99):6.1f}% {default_max_cv_pct(metric):6.0f}%"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, metavar="SAMPLES.json")
    mode.add_argument("--replay", type=Path, metavar="SAMPLES.json")
    parser.add_argument("--runs", type=int, default=10, help="runs per profile (default 10)")
    parser.add_argument("--runtime", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats per draw (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.record:
        record(args.record, args.runs, args.runtime)
        replay(args.record, args.repeat, args.seed)
    else:
        replay(args.replay, args.repeat, args.seed)


if __name__ == "__main__":
    main()
