"""Benchmarks under faults with real effects on this machine: a cgroup blkio throttle on the
disk, a frozen worker, a killed worker, an undo that fails, and pytest SIGKILLed in the
middle of a throttle and of a pause (the reaper thaws, lifts and kills). Real fio, real
cgroups, no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.cgroups import (
    CGROUP_ROOT,
    PARENT,
    freezer_controller,
    io_controller,
)
from pytest_fioloadgen.store import open_store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or io_controller() is None or freezer_controller() is None,
        reason="needs root and cgroup blkio and freezer controllers (the project's CI has them)",
    ),
]

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
# Rate-limited direct reads: steady IOPS far below what the disk does, so the throttle's
# effect and the recovery are the fault's, not this busy machine's noise.
STEADY = """# steady direct reads
[global]
ioengine=psync
direct=1
size=16m
time_based
runtime={runtime}
ramp_time=1
rate_iops=500
[rr]
rw=randread
bs=4k
"""


def project(pytester: pytest.Pytester, runtime: int = 9) -> Path:
    pytester.makeini(INI)
    pytester.makepyfile(test_storage=TEST)
    directory = pytester.mkdir("profiles")
    (directory / "steady.fio").write_text(STEADY.format(runtime=runtime))
    return directory


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        "-p", "no:cacheprovider", "--fio-profiles-dir=profiles", "--fio-store=history.db",
        "--fio-json=out.json", *args,
    )  # fmt: skip


def exported(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "out.json").read_text())


def harness_cgroups() -> list[Path]:
    """Cgroups of the harness that are there now (compare with before a test: another
    session on this machine may have its own)."""
    found = []
    for controller in ("blkio", "freezer"):
        parent = CGROUP_ROOT / controller / PARENT
        if parent.is_dir():
            found += [path for path in parent.iterdir() if path.is_dir()]
    return found


def test_a_throttle_caps_the_disk_then_the_run_recovers_and_gates_on_it(pytester):
    # A 4 s cap: v1 blkio lets a capped qd1 reader through in bursts every 0.5 s, so a
    # window of 15 whole intervals holds 7 or 8 of them (within 7 % of the cap). fio's rate
    # limiter catches up after it (1,200 I/Os late): the recovery is that catch-up.
    project(pytester, runtime=12)
    before = set(harness_cgroups())
    pytester.makefile(".toml", limits="[defaults]\nrecovery_s = 0.001\n")
    result = run(
        pytester, "--fio-fault", "throttle-target:iops=200,at=3s,for=4s",
        "--fio-thresholds=limits.toml", "--html=report.html",
    )  # fmt: skip
    # The run recovered, but not within 1 ms: the threshold on recovery_s fails it.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*: fail: threshold: recovery_s * > max 0.001*",
            "fault steady-fault-throttle-w1-local: throttle-target@3s for 4s (iops=200): p99"
            " before *, during *, IOPS -*%, recovered in *",
        ]
    )
    store = open_store(str(pytester.path / "history.db"))
    (record,) = store.query()
    record = store.get(record.run_id)
    store.close()
    metrics = record.metrics
    # The cap holds (+-15 %) and the latency rises with the queue it builds.
    assert metrics["during_iops"] == pytest.approx(200, rel=0.15)
    assert metrics["before_iops"] == pytest.approx(500, rel=0.15)
    assert metrics["during_read_lat_p99_ms"] > 5 * metrics["before_read_lat_p99_ms"]
    assert 0 < metrics["recovery_s"] < 5.0
    assert metrics["dip_pct"] > 50
    # A fault case has its own history: the spec is in its fingerprint and key.
    assert record.fingerprint["faults"] == ["throttle-target:at=3s,for=4s,iops=200"]
    (event,) = record.evidence["faults"]
    assert event["injected_s"] == pytest.approx(1 + 3, abs=0.3)  # ramp + at
    assert event["undone_s"] - event["injected_s"] == pytest.approx(4, abs=0.3)
    assert [p["name"] for p in record.evidence["phases"]["phases"]] == [
        "before", "during", "recovery", "after",
    ]  # fmt: skip
    report = (pytester.path / "report.html").read_text()
    # pytest-html keeps extras in an escaped JSON blob: look for names, not markup.
    assert "fio-phases" in report and "throttle-target@3s for 4s" in report
    assert "seconds since the client started" in report  # the timeline chart
    assert set(harness_cgroups()) - before == set()


def test_a_paused_worker_is_an_expected_straggler_and_its_phases_are_measured(pytester):
    project(pytester)
    before = set(harness_cgroups())
    result = run(pytester, "--fio-workers=2", "--fio-fault", "pause-worker:worker=2,at=3s,for=2s")
    result.assert_outcomes(passed=1)
    (run_doc,) = exported(pytester)["runs"]
    notes = " ".join(run_doc["profile"]["notes"])
    assert "TL002 straggler" in notes and "expected under the injected fault" in notes
    assert run_doc["verdict"] != "unstable"
    # The whole cluster lost half its IOPS while one of two workers was frozen.
    assert run_doc["metrics"]["during_iops"] == pytest.approx(500, rel=0.25)
    assert run_doc["metrics"]["before_iops"] == pytest.approx(1000, rel=0.15)
    assert set(harness_cgroups()) - before == set()


def test_a_killed_worker_leaves_the_survivors_measured_and_comes_back(pytester):
    project(pytester)
    pytester.makepyfile(
        test_storage="""
import pytest

@pytest.mark.fio(profile="steady", workers=2, fault="kill-worker:worker=2,at=3s,for=2s")
def test_killed(fio_run):
    fio_run()

@pytest.mark.fio(profile="steady", workers=2)
def test_after(fio_run):
    fio_run()
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)
    killed, after = exported(pytester)["runs"]
    # fio loses everything of a killed server: the run is the survivor's.
    assert len(killed["per_worker"]) == 1
    assert killed["metrics"]["during_iops"] == pytest.approx(500, rel=0.25)
    assert "fault kill-worker@3s for 2s (worker=2): killed" in " ".join(killed["profile"]["notes"])
    # The next case restarts the worker and measures with both.
    assert len(after["per_worker"]) == 2


def test_an_undo_that_fails_is_reported_and_the_target_measures_nothing_after(pytester):
    project(pytester, runtime=5)
    pytester.makepyfile(
        test_storage="""
import pytest

@pytest.mark.fio(profile="steady", fault='command:run=true,undo=false,at=1s,for=1s')
def test_a_failed_undo(fio_run):
    fio_run()

@pytest.mark.fio(profile="steady")
def test_later(fio_run):
    fio_run()
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "FaultError: target 'local' may still be under a fault whose undo failed:"
            " command@1s for 1s * its cases are errors until it is cleared",
            "fault steady-fault-command-w1-local: command@1s for 1s (*): undo: command: undo"
            " exited with status 1",
        ]
    )
    store = open_store(str(pytester.path / "history.db"))
    verdicts = sorted(run.verdict for run in store.query())
    store.close()
    assert verdicts == ["error", "none"]


@pytest.mark.parametrize(
    ("fault", "controller"),
    [
        ("throttle-target:iops=100,at=1s,for=30s", "blkio"),
        ("pause-worker:at=1s,for=30s", "freezer"),
    ],
)
def test_pytest_killed_mid_fault_leaves_no_cgroup_and_no_fio_within_10_s(
    tmp_path, fault, controller
):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "steady.fio").write_text(STEADY.format(runtime=60))
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "test_long.py").write_text(TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    before = set(harness_cgroups())
    process = subprocess.Popen(
        [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_long.py",
            "--fio-profiles-dir", str(profiles), "--fio-target", f"t={target}",
            "--fio-store", "none", "--fio-fault", fault,
        ],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 40
        parent = CGROUP_ROOT / controller / PARENT
        while time.monotonic() < deadline and not (
            parent.is_dir() and set(harness_cgroups()) - before
        ):
            time.sleep(0.1)
        assert set(harness_cgroups()) - before, "the fault was never injected"
        time.sleep(0.5)
        process.kill()
        process.wait(timeout=10)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 10 and (
            set(harness_cgroups()) - before or fio_processes_in(target)
        ):
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
    assert set(harness_cgroups()) - before == set()
    assert fio_processes_in(target) == []


def fio_processes_in(directory: Path) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(entry / "cwd").startswith(str(directory)):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if pid != os.getpid()]


def test_a_fault_that_leaves_no_room_after_it_is_a_collection_error(pytester):
    project(pytester, runtime=5)
    result = run(pytester, "--fio-fault", "throttle-target:iops=200,at=3s,for=2s")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "test_storage.py::test_storage: * case steady-fault-throttle-w1-local: fault"
            " throttle-target@3s for 2s (iops=200) ends 5 s into a measurement of 5 s: leave"
            " at least 1 s after it to measure the recovery*"
        ]
    )


NOISY = """# a neighbour that writes hard
[global]
ioengine=libaio
direct=1
size=64m
iodepth=16
[noisy]
rw=randwrite
bs=64k
"""


def test_a_noisy_neighbor_runs_beside_the_workers_for_its_window_only(pytester):
    directory = project(pytester)
    (directory / "noisy.fio").write_text(NOISY)
    pytester.makepyfile(
        test_storage="""
import pytest

@pytest.mark.fio(profile="steady", fault="noisy-neighbor:profile=noisy,at=3s,for=2s")
def test_beside(fio_run):
    fio_run()
"""
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)
    (run_doc,) = exported(pytester)["runs"]
    notes = " ".join(run_doc["profile"]["notes"])
    assert "started profile noisy beside the workers; stopped the neighbour" in notes
    # The neighbour's directory is gone with it, and no fio of it is left.
    target = Path(run_doc["profile"]["text"].split("directory=")[-1].split("\n")[0]).parent
    assert not list(target.parent.glob("**/fioloadgen-neighbor-*"))
    assert "during_iops" in run_doc["metrics"]
