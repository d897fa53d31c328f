"""Kubernetes backend scale figures against the API emulator (run as root for netns pods).

    .venv/bin/python benchmarks/k8s_deploy.py [--sizes 1,8,32,128,256] [--run-workers 64]

1. Deploy time of 1 ... 256 workers with an emulated pod start of 1 s: pods start in
   parallel (podManagementPolicy Parallel, readiness by one watch), so the time must stay
   near one pod start (target: <= 3 s for 256), not grow with N.
2. One run across 64 workers (real fio servers in their own network namespaces); the merged
   result is checked against the per-worker outputs in fio's JSON, and its p99 must equal
   the nearest-rank p99 of the union of every worker's json+ latency bins (the I/Os of all
   workers as one population), not an average of per-worker p99s.
Prints one line per figure; exits 1 when a target is missed or a check fails.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402

from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend  # noqa: E402
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings  # noqa: E402
from tests.k8s_emulator.controllers import Config  # noqa: E402
from tests.k8s_emulator.harness import Emulator  # noqa: E402

POD_START_S = 1.0
TARGET_SIZE = 256
TARGET_S = 3.0
JOB = "[global]\nioengine=psync\nsize=1m\nruntime=2\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


def backend(kubeconfig: Path) -> KubernetesBackend:
    return KubernetesBackend(
        KubernetesSettings(
            namespace=f"bench-{uuid.uuid4().hex[:6]}",
            image="fio:emulated",
            kubeconfig=kubeconfig,
            ready_timeout=120,
        ),
        session_id=uuid.uuid4().hex,
    )


def check_merge(result) -> list[str]:  # type: ignore[no-untyped-def]
    """Merged figures against the sums and ranges of fio's per-client entries."""
    problems = []
    clients = [c for c in result.raw["client_stats"] if c.get("jobname") != "All clients"]
    for direction in ("read", "write"):
        per_worker = sum(float(c[direction]["iops"]) for c in clients)
        merged = getattr(result, direction).iops
        if abs(merged - per_worker) > max(1e-6, 1e-6 * per_worker):
            problems.append(f"{direction} iops merged {merged:.1f} != sum {per_worker:.1f}")
        io_bytes = sum(int(c[direction]["io_bytes"]) for c in clients)
        if direction == "read" and io_bytes <= 0:
            problems.append("no bytes read")
    merged_p99_ns = result.metrics["read_lat_p99_ms"] * 1e6
    union = union_p99_ns(clients)
    if merged_p99_ns != union:
        problems.append(f"merged p99 {merged_p99_ns:.0f} ns != p99 of the union {union:.0f} ns")
    return problems


def union_p99_ns(clients) -> float:  # type: ignore[no-untyped-def]
    """The nearest-rank p99 of every I/O of every worker: the bins expanded into one sorted
    population (numpy), independent of the plugin's own bin walk."""
    values: list[int] = []
    counts: list[int] = []
    for client in clients:
        for value, count in client["read"]["clat_ns"]["bins"].items():
            values.append(int(value))
            counts.append(int(count))
    population = numpy.sort(numpy.repeat(numpy.array(values), numpy.array(counts)))
    rank = math.ceil(0.99 * len(population))
    return float(population[rank - 1])


def mean_of_worker_p99s_ns(clients) -> float:  # type: ignore[no-untyped-def]
    """What FIOLoadGen reported: the mean of per-worker p99s (for comparison only)."""
    p99s = [float(c["read"]["clat_ns"]["percentile"]["99.000000"]) for c in clients]
    return sum(p99s) / len(p99s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,32,128,256")
    parser.add_argument("--run-workers", type=int, default=64)
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",")]
    failed = False
    with (
        tempfile.TemporaryDirectory() as tmp,
        # Network namespaces made ahead and reused (Runtime.prewarm): the figure is the
        # backend's deploy path against a 1 s pod start, not the kernel creating 256
        # namespaces one after another on this machine.
        Emulator(
            config=Config(ready_delay_s=POD_START_S),
            prewarm=max(max(sizes), args.run_workers),
        ) as emulator,
    ):
        kubeconfig = emulator.kubeconfig(Path(tmp) / "kubeconfig")
        mode = "netns" if emulator.runtime.use_netns else "loopback"
        print(f"emulated pod start {POD_START_S:.1f} s, pods in {mode}, real fio --server per pod")
        for size in sizes:
            deployer = backend(kubeconfig)
            # Importing the client and reading the kubeconfig is a constant, not a pod start.
            _ = deployer.api
            started = time.monotonic()
            env = deployer.deploy(["standard"], size)
            deployed = time.monotonic() - started
            started = time.monotonic()
            deployer.teardown(env)
            torn = time.monotonic() - started
            print(
                f"deploy {size:4d} workers: {deployed:5.2f} s "
                f"({deployed / POD_START_S:4.1f} pod starts)   teardown {torn:5.2f} s"
            )
            if size == TARGET_SIZE and deployed > TARGET_S:
                print(f"  MISSED: {size} workers took {deployed:.2f} s > {TARGET_S} s")
                failed = True
        if args.run_workers:
            runner = backend(kubeconfig)
            env = runner.deploy(["standard"], args.run_workers)
            try:
                started = time.monotonic()
                result = runner.run_job(
                    env,
                    JOB,
                    runner.resolve(env, "standard", args.run_workers),
                    expected_runtime_s=2,
                )
                took = time.monotonic() - started
            finally:
                runner.teardown(env)
            problems = check_merge(result)
            clients = [c for c in result.raw["client_stats"] if c.get("jobname") != "All clients"]
            if len(result.workers) != args.run_workers:
                problems.append(
                    f"{len(result.workers)} workers reported, expected {args.run_workers}"
                )
            print(
                f"run on {args.run_workers} workers: {took:.2f} s wall for 2 s of fio; merged "
                f"{result.metrics['iops']:.0f} IOPS, "
                f"read p99 {result.metrics['read_lat_p99_ms']:.3f} ms = p99 of the union of "
                f"{len(clients)} workers' bins {union_p99_ns(clients) / 1e6:.3f} ms (mean of "
                f"per-worker p99s would say {mean_of_worker_p99s_ns(clients) / 1e6:.3f} ms); "
                f"merge check: {'ok' if not problems else '; '.join(problems)}"
            )
            failed = failed or bool(problems)
    # After the emulator stopped: every namespace, link and loop device it made is gone.
    leftovers = emulator.runtime.leftovers()
    print(f"cleanup: {leftovers or 'ok'}")
    failed = failed or bool(leftovers)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
