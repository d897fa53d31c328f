"""The recorded runs of the distribution gate's calibration (benchmarks/distribution_data.py,
real fio runs in benchmarks/data: on this VM's disk, and on a RAM-backed loop device) hold
what a replay relies on,
and the slow path they were made with (benchmarks/slowpath.c) delays exactly every Nth
read."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fioloadgen.fio.results import percentile_from_bins

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
RECORDINGS = ("distribution-runs.json.gz", "distribution-runs-loop.json.gz")


@pytest.fixture(scope="module", params=RECORDINGS)
def recorded(request: pytest.FixtureRequest) -> dict:
    path = BENCHMARKS / "data" / request.param
    return json.loads(gzip.decompress(path.read_bytes()))


def test_delays_are_sized_from_the_reference_runs(recorded: dict) -> None:
    """The loop recording sized its delays from reference runs: the 1 % and 10 % paths
    add 10 % to the reference mean (under the mean's 15 % tolerance), the 3 % path puts
    its reads at the reference p99 (delay p99 - p50)."""
    reference = recorded.get("reference")
    if reference is None:
        pytest.skip("recorded before delays were sized from reference runs")
    for run in recorded["runs"]:
        if run["kind"] == "slow-3":
            expected = reference["p99_us"] - reference["p50_us"]
            assert run["cap"]["delay_us"] == pytest.approx(expected, abs=1)
        elif run["cap"] is not None:
            cost_us = run["cap"]["target_fraction"] * run["cap"]["delay_us"]
            assert cost_us == pytest.approx(0.10 * reference["mean_us"], rel=0.01)


def test_the_file_holds_enough_runs_of_each_kind_for_one_key(recorded: dict) -> None:
    assert recorded["format"] == 1
    assert "rate_iops=" in recorded["profile"] and "direct=1" in recorded["profile"]
    counts: dict[str, int] = {}
    for run in recorded["runs"]:
        counts[run["kind"]] = counts.get(run["kind"], 0) + 1
    assert counts["aa"] >= 300
    assert all(counts[kind] >= 40 for kind in ("slow-1", "slow-3", "slow-10"))
    assert set(counts) == {"aa", "slow-1", "slow-3", "slow-10"}
    # Interleaved: drift over the recording hits every kind alike.
    kinds = [run["kind"] for run in sorted(recorded["runs"], key=lambda run: run["started"])]
    for kind in ("slow-1", "slow-3", "slow-10"):
        positions = [i for i, name in enumerate(kinds) if name == kind]
        assert positions[0] < len(kinds) * 0.1 and positions[-1] > len(kinds) * 0.9


def test_each_run_stores_its_exact_merged_histogram(recorded: dict) -> None:
    """The run's own percentiles (computed from the merged bins when it ran) come back from
    the stored bins: they are the whole merged histogram, not a sample of it."""
    runtime_s = float(recorded["profile"].split("runtime=")[1].split()[0])
    for run in recorded["runs"]:
        assert "write" not in run
        bins = {int(value): count for value, count in run["read"]["bins"].items()}
        metrics = run["metrics"]
        for name, percentile in (("p50", 50.0), ("p99", 99.0), ("p999", 99.9)):
            value = percentile_from_bins(bins, percentile)
            assert value is not None
            assert value / 1e6 == pytest.approx(metrics[f"read_lat_{name}_ms"], rel=1e-9)
        # fio's IOPS is I/Os over the measured time: the bins hold every I/O of the run.
        assert sum(bins.values()) == pytest.approx(metrics["iops"] * runtime_s, rel=0.03)


def test_slow_runs_carry_their_measured_slow_path_and_aa_runs_none(recorded: dict) -> None:
    for run in recorded["runs"]:
        if run["kind"] == "aa":
            assert run["slow_fraction"] is None and run["cap"] is None
            continue
        cap = run["cap"]
        assert cap["every"] >= 2 and cap["delay_us"] > 0
        # The slowed worker kept its pace: the delayed reads are the share designed.
        assert run["slow_fraction"] == pytest.approx(cap["target_fraction"], rel=0.15)


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    library = tmp_path_factory.mktemp("shim") / "slowpath.so"
    source = BENCHMARKS / "slowpath.c"
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"], check=True
    )
    return library


READER = """
import os, time
fd = os.open("data", os.O_RDONLY)
for number in range(40):
    started = time.perf_counter()
    os.pread(fd, 4096, 0)
    print(time.perf_counter() - started)
"""
DELAY_S = 0.1


def _read_times(shim: Path, directory: Path) -> list[float]:
    (directory / "data").write_bytes(b"x" * 4096)
    done = subprocess.run(
        [sys.executable, "-S", "-c", READER],
        cwd=directory,
        env={**os.environ, "LD_PRELOAD": str(shim)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(line) for line in done.stdout.split()]


def test_the_slow_path_delays_every_nth_read_and_nothing_without_its_file(
    shim: Path, tmp_path: Path
) -> None:
    assert max(_read_times(shim, tmp_path)) < DELAY_S
    (tmp_path / ".fioloadgen-slowpath").write_text(f"10 {DELAY_S * 1e6:.0f}\n")
    times = _read_times(shim, tmp_path)
    slowest = sorted(sorted(range(len(times)), key=times.__getitem__)[-4:])
    assert all(times[number] >= DELAY_S for number in slowest)
    # The interpreter may pread a file before the loop: the phase can shift, the
    # spacing cannot.
    assert [b - a for a, b in itertools.pairwise(slowest)] == [10, 10, 10]
    assert sum(took >= DELAY_S for took in times) == 4
