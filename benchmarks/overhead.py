"""What the harness adds to fio's own wall time: per case, and per session.

    python benchmarks/overhead.py --session --pairs 5   # a whole pytest session vs raw fio
    python benchmarks/overhead.py --session --pairs 3 --profile 'randread*' --workers 1,2
    python benchmarks/overhead.py --session --pairs 1 --profile-phases   # where time goes
    python benchmarks/overhead.py --pytest         # the plugin: the shipped suite, 3 s
    python benchmarks/overhead.py                  # BenchmarkSession.run, same cases
    python benchmarks/overhead.py --pairs 3 --runtime 3 --profile randread-4k

--session (the figure the README quotes) compares two whole sessions over one matrix (the
shipped profiles x --workers, --size, --runtime), alternating raw, harness, raw, harness
for --pairs pairs, and prints the wall-time ratio harness / raw with a 95 % confidence
interval:

- harness: ``python -m pytest benchmarks/test_storage.py -m benchmark`` in a new process,
  as a user runs it, with the plugin's defaults (the sandbox, the read probe and the
  timeline on, profiles checked with ``fio --parse-only``, every run recorded in an sqlite
  history store that persists across the pairs, as a user's does). Its wall time is the
  whole process: interpreter start, collection, deploy, every case, report, teardown.
  pytest loads this plugin only (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p
  pytest_fioloadgen.plugin``: the development venv's hypothesis and schemathesis plugins
  cost seconds of start-up that are not this harness's) and Python's bytecode cache is on,
  as Python has it by default (this machine sets PYTHONDONTWRITEBYTECODE, with which
  every pytest start compiles and rewrites the plugin's modules again).
- raw: what a user does by hand for the same measurements, driven from this script's
  process (no interpreter start-up on this side): start one
  ``fio --server`` per worker in a fresh directory each (as the harness's workers), wait
  until they accept connections, then for every case in the harness's order write a host
  file with the case's workers and run ``fio --client=<hostfile> job.fio
  --output-format=json+ > out.json``, then stop the servers. The job file is the
  profile exactly as the harness renders it (runtime, size, ``direct=1``, ``ramp_time``),
  plus the same logging [global] section the harness adds (``write_iops_log``,
  ``write_lat_log``, ``log_avg_msec`` and the timeline's ``write_hist_log``,
  ``log_hist_msec``, ``log_unix_epoch``, ``log_hist_coarseness``): fio's own cost of
  writing and shipping those logs is the measurement both sides pay for, so it is in both;
  reading them, judging and recording are the harness's and count as its overhead. Raw
  fio lays out a read's files inside its first run on each worker, as fio does; raw runs
  unconfined (no bubblewrap: the sandbox is harness overhead). Deleting the data
  afterwards is not counted on the raw side (the harness's teardown is).

The ratio is per pair (neighbours in time share the machine's load); the interval is a
Student t interval on the log ratios, exponentiated (a geometric mean ratio). Why t and
not the bootstrap: with 3 to 10 pairs a bootstrap has a handful of distinct resamples and
its percentile interval is too narrow; each side's wall time is a sum of many cases, so
the log ratio is close to normal, which is what the t interval assumes.
--profile-phases adds a per-phase breakdown of the harness sessions (benchmarks/
phase_timer.py, loaded into them with -p).

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
import json
import math
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from pytest_fioloadgen.backend_factory import sandbox_of
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.fio import timeseries
from pytest_fioloadgen.fio.runner import UNKNOWN_RUNTIME_S
from pytest_fioloadgen.fio.timeline import hist_coarseness, hist_logging
from pytest_fioloadgen.plugin.state import outcomes_key, state_key
from pytest_fioloadgen.profiles import Profile, select_profiles, shipped_profiles_dir, validate
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


def suite_argv(args: argparse.Namespace, store: Path, target: Path) -> list[str]:
    """The benchmark suite's pytest arguments both modes share: the matrix, the store
    and the target."""
    suite = Path(__file__).resolve().parent
    return [
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
        f"--fio-store={store}",
        f"--fio-target=bench={target}",
        # The same runs on both sides: a confirmation re-run (a suspected regression run
        # again, the gate's default) is one more measurement, not overhead. The history
        # comparisons themselves still run: the store persists across the pairs. A run
        # measured again because its workers' windows were skewed is the same: the raw side
        # would have to run it again too.
        "--fio-confirm=0",
        "--fio-remeasure-skew=0",
        *(["--fio-profiles", args.profile] if args.profile else []),
    ]


def run_pytest(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fioloadgen-overhead-"))
    interleave = _Interleave(workdir)
    argv = [
        *suite_argv(args, workdir / "history.db", workdir),
        f"--fio-repeat={args.pairs}",
        f"--fio-sandbox={args.sandbox}",
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


# -- --session: a whole pytest session against raw fio client/server ----------------------

#: Where the session mode's data goes: the disk the project lives on (as the plugin's
#: default target, .fioloadgen/local), never a memory-backed /tmp.
SESSION_DIR = Path(__file__).resolve().parent.parent / ".fioloadgen"


def session_matrix(args: argparse.Namespace) -> list[tuple[Profile, int]]:
    """(profile as the harness runs it, workers) in the order the plugin runs the cases."""
    counts = [int(count) for count in args.workers.split(",")]
    profiles = select_profiles(shipped_profiles_dir(), args.profile)
    return [
        (profile.with_overrides(runtime=args.runtime, size=args.size).without_directory(), count)
        for profile in profiles
        for count in counts
    ]


def raw_job_text(profile: Profile, workers: int) -> str:
    """The job file a user writes by hand for the measurement the harness makes: the
    profile as rendered, with the same logging section the harness's runner adds."""
    interval_ms = timeseries.log_interval_ms(profile.expected_runtime_s or UNKNOWN_RUNTIME_S)
    extra = hist_logging(interval_ms, hist_coarseness(workers))
    return timeseries.with_logging(profile.render(), interval_ms, extra)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def raw_session(matrix: list[tuple[Profile, int]], workdir: Path) -> float:
    """Servers by hand, every case with ``fio --client=<hostfile>``, servers stopped;
    seconds of wall time."""
    base = Path(tempfile.mkdtemp(prefix="raw-", dir=workdir))
    servers: list[tuple[subprocess.Popen[bytes], str, int]] = []
    started = time.perf_counter()
    try:
        for number in range(max(count for _profile, count in matrix)):
            host = f"127.0.0.{2 + number}"
            port = _free_port(host)
            directory = base / f"w{number}"
            directory.mkdir()
            process = subprocess.Popen(
                ["fio", f"--server=ip:{host},{port}"],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            servers.append((process, host, port))
        for _process, host, port in servers:
            while not _accepts(host, port):
                time.sleep(0.05)
        for index, (profile, count) in enumerate(matrix):
            case_dir = base / f"case{index}"
            case_dir.mkdir()
            hosts = case_dir / "hosts"
            hosts.write_text("".join(f"{host},{port}\n" for _p, host, port in servers[:count]))
            job = case_dir / "job.fio"
            job.write_text(raw_job_text(profile, count))
            with (case_dir / "out.json").open("wb") as out:
                subprocess.run(
                    ["fio", f"--client={hosts}", str(job), "--output-format=json+"],
                    cwd=case_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
        for process, _host, _port in servers:
            process.terminate()
        for process, _host, _port in servers:
            process.wait()
        return time.perf_counter() - started
    finally:
        for process, _host, _port in servers:
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(base, ignore_errors=True)


def harness_session(
    args: argparse.Namespace, workdir: Path, phases_out: Path | None
) -> tuple[float, int, int]:
    """``pytest -m benchmark`` over the shipped suite in a new process with the plugin's
    defaults; (seconds of wall time, exit status, runs it recorded)."""
    suite = Path(__file__).resolve().parent
    target = workdir / "harness"
    target.mkdir(exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "pytest",
        *suite_argv(args, workdir / "history.db", target),
        "-p",
        "pytest_fioloadgen.plugin",
        *(["-p", "phase_timer"] if phases_out is not None else []),
    ]
    # pytest with this plugin only (-p), not every plugin the environment has installed
    # (a development venv loads hypothesis and schemathesis: seconds of start-up that are
    # not this harness's), and with Python's bytecode cache as Python sets it by default
    # (this machine sets PYTHONDONTWRITEBYTECODE: then pytest compiles and rewrites every
    # module of the plugin again at each start, ~2 s of CPU; the first session of a run
    # still does).
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONDONTWRITEBYTECODE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")
    }
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    started_epoch = time.time()
    if phases_out is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(suite), env.get("PYTHONPATH")]))
        env["FIOLOADGEN_PHASES_OUT"] = str(phases_out)
        env["FIOLOADGEN_PHASES_STARTED"] = repr(started_epoch)
    log = workdir / "harness.log"
    started = time.perf_counter()
    with log.open("ab") as out:
        completed = subprocess.run(
            argv, cwd=suite.parent, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    wall = time.perf_counter() - started
    recorded = re.findall(r"(\d+) runs? recorded in", log.read_text(errors="replace"))
    return wall, completed.returncode, int(recorded[-1]) if recorded else 0


def ratio_interval(ratios: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean of the per-pair ratios and its t interval (on the log ratios)."""
    logs = [math.log(ratio) for ratio in ratios]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(logs) - 1) * statistics.stdev(logs)
    half /= math.sqrt(len(logs))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def _print_phases(documents: list[dict[str, Any]], walls: list[float], cases: int) -> None:
    """Per-phase seconds per session (mean over the harness sessions) and per case."""
    totals: dict[str, list[float]] = {}
    for document in documents:
        for path, row in document["phases"].items():
            totals.setdefault(path, []).append(row["s"])
    sessions = len(documents)
    wall = statistics.fmean(walls)
    print(f"\nwhere a harness session's {wall:.2f} s go (mean of {sessions}; {cases} cases):")
    accounted = 0.0
    for path, values in sorted(totals.items(), key=lambda item: -sum(item[1])):
        seconds = sum(values) / sessions
        if not path.startswith("(thread)"):
            accounted += seconds  # a thread's time overlaps the main thread's
        print(f"  {path:58} {seconds:8.3f} s  {seconds / cases * 1000:8.1f} ms/case")
    rest = wall - accounted
    print(
        f"  {'other (interpreter, pytest, unwrapped steps)':58} {rest:8.3f} s"
        f"  {rest / cases * 1000:8.1f} ms/case"
    )


def run_session(args: argparse.Namespace) -> int:
    matrix = session_matrix(args)
    SESSION_DIR.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="overhead-", dir=SESSION_DIR))
    print(
        f"{len(matrix)} cases ({args.profile or 'all shipped profiles'}; workers"
        f" {args.workers}; {args.runtime} s; size {args.size}); {args.pairs} pairs,"
        f" raw then harness; data in {workdir}",
        flush=True,
    )
    ratios: list[float] = []
    raws: list[float] = []
    harnesses: list[float] = []
    documents: list[dict[str, Any]] = []
    try:
        for pair in range(args.pairs):
            raw = raw_session(matrix, workdir)
            phases_out = workdir / f"phases-{pair}.json" if args.profile_phases else None
            harness, status, recorded = harness_session(args, workdir, phases_out)
            # 1: some verdict failed a test (this VM's noise makes some runs unstable);
            # the session ran every case all the same. Anything else did not.
            if status not in (0, 1):
                print(f"pytest exited with status {status}: see {workdir / 'harness.log'}")
                return 1
            if recorded != len(matrix):
                print(f"the harness recorded {recorded} runs, not {len(matrix)}: not comparable")
                return 1
            if phases_out is not None:
                documents.append(json.loads(phases_out.read_text()))
            raws.append(raw)
            harnesses.append(harness)
            ratios.append(harness / raw)
            print(
                f"pair {pair + 1}: raw {raw:7.2f} s  harness {harness:7.2f} s"
                f"  ratio {harness / raw:.4f}  ({(harness - raw) / len(matrix) * 1000:.0f} ms"
                " per case)",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    ratio, low, high = ratio_interval(ratios)
    extra = (statistics.fmean(harnesses) - statistics.fmean(raws)) / len(matrix)
    print(
        f"\nwall ratio harness / raw over {len(ratios)} pairs: {ratio:.3f}"
        f" (95 % CI {low:.3f} - {high:.3f}; t interval on the log ratios);"
        f" {extra * 1000:.0f} ms per case; raw mean {statistics.fmean(raws):.1f} s,"
        f" harness mean {statistics.fmean(harnesses):.1f} s"
    )
    if documents:
        _print_phases(documents, harnesses, len(matrix))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", type=int, default=3)
    parser.add_argument("--size", default="64m")
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="pairs per case (--pytest: the first not counted; default 2), or with --session"
        " pairs of sessions (default 3, at least 2 for an interval)",
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--profile", default=None, help="profile names or globs")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "none"))
    parser.add_argument("--profile-harness", action="store_true", help="cProfile the harness")
    parser.add_argument("--pytest", action="store_true", help="through pytest and the plugin")
    parser.add_argument("--html", action="store_true", help="with --pytest: also --html")
    parser.add_argument(
        "--session", action="store_true", help="whole pytest sessions against raw fio sessions"
    )
    parser.add_argument(
        "--profile-phases",
        action="store_true",
        help="with --session: time the harness's phases (benchmarks/phase_timer.py)",
    )
    parser.add_argument("--keep", action="store_true", help="with --session: keep the data")
    args = parser.parse_args(argv)
    if args.pairs is None:
        args.pairs = 3 if args.session else 2
    if args.session:
        return run_session(args)
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
