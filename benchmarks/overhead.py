"""What the harness adds to fio's own wall time, per case.

    python benchmarks/overhead.py --pytest         # the plugin: the shipped suite, 3 s
    python benchmarks/overhead.py                  # BenchmarkSession.run, same cases
    python benchmarks/overhead.py --pairs 3 --runtime 3 --profile randread-4k

With --pytest the shipped suite (benchmarks/test_storage.py, profiles x {1,2,4} workers)
runs through pytest and the plugin in this process, and right after each test the same
job runs by hand on the same servers: the harness side is the whole test (setup, call,
report hooks, teardown), the raw side one fio client. Repeats (--pairs) interleave the
cases (A B C A B C).

For every case the same job runs in interleaved pairs on the same local fio servers:
"harness" is ``BenchmarkSession.run`` exactly as the plugin calls it (the profile prepared
and checked, workers resolved, fio client confined, time series, the result parsed,
verdicts and history comparison, the record written to an sqlite store); "raw" is what a
user types by hand, ``fio --client=<hostfile> job.fio --output-format=json+``, with the
profile as the harness renders it. The ratio of each pair is harness / raw; the script
prints the median per case and over all pairs, plus where the harness's extra time goes.
Servers are deployed once (as in a session) and are not part of either side. Prefill and
calibration runs are not part of a case: with --prefill the prefill time is printed
separately.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_fioloadgen.backend_factory import sandbox_of
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.plugin.state import outcomes_key, state_key
from pytest_fioloadgen.profiles import select_profiles, shipped_profiles_dir, validate
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.settings import resolve
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.gating import GatingPolicy
from pytest_fioloadgen.verdicts.thresholds import Thresholds


def raw_run(job_text: str, addresses: list[str], workdir: Path) -> float:
    """fio by hand: a host file, the job file, one client; seconds of wall time."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        hosts = Path(tmp) / "hosts"
        hosts.write_text("".join(address.replace(":", ",") + "\n" for address in addresses))
        job = Path(tmp) / "job.fio"
        job.write_text(job_text)
        started = time.perf_counter()
        subprocess.run(
            ["fio", f"--client={hosts}", str(job), "--output-format=json+"],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        return time.perf_counter() - started


class _Interleave:
    """A pytest plugin: after each fio test, the same job by hand on the same workers."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ratios: dict[str, list[float]] = {}
        self.extra: list[float] = []
        #: The first run of each case (deploy, file layout: not per-case costs).
        self.first: dict[str, tuple[float, float]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        started = time.perf_counter()
        result = yield
        harness = time.perf_counter() - started
        outcomes = item.stash.get(outcomes_key, [])
        if not outcomes:
            return result
        outcome = outcomes[-1]
        plugin = item.config.stash[state_key]
        session = plugin.benchmark_session()
        env = session.environment()
        workers = session.backend.resolve(env, outcome.case.target, outcome.case.workers)
        job_text = outcome.profile_as_run.render()
        raw = raw_run(job_text, [worker.address.name for worker in workers], self.workdir)
        key = outcome.case.id.rsplit("-r", 1)[0]
        first = key not in self.first
        if first:
            self.first[key] = (harness, raw)
        else:
            self.ratios.setdefault(key, []).append(harness / raw)
            self.extra.append(harness - raw)
        print(
            f"\n{outcome.case.id:28} harness {harness:6.3f} s  raw {raw:6.3f} s"
            f"  ratio {harness / raw:.3f}{'  (first run: not counted)' if first else ''}",
            flush=True,
        )
        return result


def _report(ratios: dict[str, list[float]], extra: list[float]) -> None:
    every = [ratio for values in ratios.values() for ratio in values]
    print()
    for case_id, values in ratios.items():
        print(f"{case_id:32} median ratio {statistics.median(values):.3f}")
    print(
        f"\nall {len(every)} pairs: median ratio {statistics.median(every):.3f}"
        f" (min {min(every):.3f}, max {max(every):.3f});"
        f" median extra {statistics.median(extra) * 1000:.0f} ms per case"
    )


def run_pytest(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fioloadgen-overhead-"))
    interleave = _Interleave(workdir)
    suite = Path(__file__).resolve().parent
    argv = [
        str(suite / "test_storage.py"),
        "-m",
        "benchmark",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--rootdir={suite.parent}",
        f"--fio-runtime={args.runtime}",
        f"--fio-size={args.size}",
        f"--fio-workers={args.workers}",
        f"--fio-repeat={args.pairs}",
        f"--fio-store={workdir / 'history.db'}",
        f"--fio-sandbox={args.sandbox}",
        f"--fio-target=bench={workdir}",
        "--fio-confirm=0",
        *(["--fio-profiles", args.profile] if args.profile else []),
        *([f"--html={workdir / 'report.html'}"] if args.html else []),
    ]
    exit_code = pytest.main(argv, plugins=[interleave])
    firsts = [harness - raw for harness, raw in interleave.first.values()]
    if firsts:
        print(
            f"\nfirst run of each case (deploy, file layout; not counted): median extra"
            f" {statistics.median(firsts):.2f} s, total {sum(firsts):.1f} s"
        )
    if interleave.ratios:
        _report(interleave.ratios, interleave.extra)
    return int(exit_code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=3)
    parser.add_argument("--size", default="64m")
    parser.add_argument(
        "--pairs", type=int, default=2, help="pairs per case (--pytest: the first not counted)"
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--profile", default=None, help="profile names or globs")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "none"))
    parser.add_argument("--profile-harness", action="store_true", help="cProfile the harness")
    parser.add_argument("--pytest", action="store_true", help="through pytest and the plugin")
    parser.add_argument("--html", action="store_true", help="with --pytest: also --html")
    args = parser.parse_args(argv)
    if args.pytest:
        return run_pytest(args)

    counts = [int(count) for count in args.workers.split(",")]
    profiles = [validate(p) for p in select_profiles(shipped_profiles_dir(), args.profile)]
    workdir = Path(tempfile.mkdtemp(prefix="fioloadgen-overhead-"))
    settings = resolve(rootdir=workdir, cli={"sandbox": args.sandbox}, env={}, ini={}, suite=None)
    sandbox = sandbox_of(settings)
    backend = LocalBackend(
        [LocalTarget("bench", workdir)], session_id=uuid.uuid4().hex, sandbox=sandbox
    )
    store = open_store(str(workdir / "history.db"))
    session = BenchmarkSession(
        backend=backend,
        targets=["bench"],
        max_workers=max(counts),
        store=store,
        thresholds=Thresholds.empty(),
        runtime=args.runtime,
        size=args.size,
        gating=GatingPolicy(),
    )
    profiler = cProfile.Profile() if args.profile_harness else None
    ratios: dict[str, list[float]] = {}
    extra: list[float] = []
    print(f"sandbox: {sandbox.describe()}; runtime {args.runtime} s; size {args.size}")
    try:
        env = session.environment()
        # One warm-up run per profile lays its files out (not measured).
        for profile in profiles:
            session.run(Case(profile, 1, "bench"))
        for pair in range(args.pairs):
            for profile in profiles:
                for count in counts:
                    case = Case(profile, count, "bench")
                    workers = backend.resolve(env, "bench", count)
                    addresses = [worker.address.name for worker in workers]
                    job_text = session.prepare(case).without_directory().render()
                    if profiler is not None:
                        profiler.enable()
                    started = time.perf_counter()
                    session.run(case)
                    harness = time.perf_counter() - started
                    if profiler is not None:
                        profiler.disable()
                    raw = raw_run(job_text, addresses, workdir)
                    ratios.setdefault(case.id, []).append(harness / raw)
                    extra.append(harness - raw)
                    print(
                        f"pair {pair + 1} {case.id:28} harness {harness:6.3f} s"
                        f"  raw {raw:6.3f} s  ratio {harness / raw:.3f}",
                        flush=True,
                    )
    finally:
        session.close()
        store.close()
    _report(ratios, extra)
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
