"""Faults measured with real processes: a hung worker, a network-cut worker, a killed
worker, a full disk. Each fails fast, names the worker and shows the cause."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.sandbox import choose_sandbox
from pytest_fioloadgen.backends.static import StaticBackend, StaticTarget
from pytest_fioloadgen.exceptions import FioRunError
from pytest_fioloadgen.fio.runner import WorkerAddress
from pytest_fioloadgen.processes import descendants

LONG_JOB = "[global]\nioengine=psync\nsize=4m\nruntime=30\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
#: Detection needs two of fio's 5-second status timeouts; the rest is slack for a busy
#: machine. The job itself would run 30 s (and the old deadline was 30 + 60 s).
DETECTED_WITHIN_S = 20.0


def _signal_tree(pid: int, signum: int) -> None:
    for member in {pid} | descendants({pid}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signum)


@pytest.mark.slow
def test_a_hung_worker_fails_the_run_fast_and_is_named(tmp_path):
    backend = LocalBackend(
        [LocalTarget("t", tmp_path)],
        session_id=uuid.uuid4().hex,
        sandbox=choose_sandbox("auto", where="test"),
    )
    env = backend.deploy(["t"], 2)
    victim = backend._servers[1]
    timer = threading.Timer(2.0, _signal_tree, (victim.process.pid, signal.SIGSTOP))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(FioRunError) as info:
            backend.run_job(env, LONG_JOB, env.workers["t"], expected_runtime_s=30)
        elapsed = time.monotonic() - started
    finally:
        timer.cancel()
        _signal_tree(victim.process.pid, signal.SIGCONT)
        backend.teardown(env)
    message = str(info.value)
    assert info.value.worker == victim.worker.address.name
    assert message.startswith(f"worker {victim.worker.address.name} stopped answering")
    assert "stopped (SIGSTOP or a debugger)" in message
    assert elapsed < DETECTED_WITHIN_S


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def isolated_host(tmp_path):
    """A fio server in a network namespace of its own, behind a veth pair whose host side
    can be taken down (a cut cable). Benchmarking range 198.19.254.0/30, torn down after."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 for a network namespace")
    tag = uuid.uuid4().hex[:6]
    namespace, host_side = f"fiolg{tag}", f"fl{tag}h"
    try:
        _ip("netns", "add", namespace)
    except subprocess.CalledProcessError:
        pytest.skip("cannot create network namespaces here")
    server = None
    try:
        _ip("link", "add", host_side, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("addr", "add", "198.19.254.1/30", "dev", host_side)
        _ip("link", "set", host_side, "up")
        _ip("-n", namespace, "addr", "add", "198.19.254.2/30", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        home = tmp_path / "server"
        home.mkdir()
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "fio", "--server=ip:198.19.254.2,8765"],
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("198.19.254.2", 8765)) == 0:
                    break
            time.sleep(0.1)
        yield WorkerAddress("198.19.254.2", 8765), host_side
    finally:
        if server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "delete", host_side)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("netns", "delete", namespace)


@pytest.mark.slow
def test_a_network_cut_worker_fails_the_run_fast_and_is_named(isolated_host):
    address, host_side = isolated_host
    backend = StaticBackend(
        [address], [StaticTarget("s")], sandbox=choose_sandbox("auto", where="test")
    )
    env = backend.deploy(["s"], 1)
    cut = threading.Timer(2.0, _ip, ("link", "set", host_side, "down"))
    started = time.monotonic()
    try:
        cut.start()
        with pytest.raises(FioRunError) as info:
            backend.run_job(env, LONG_JOB, env.workers["s"], expected_runtime_s=30)
        elapsed = time.monotonic() - started
    finally:
        cut.cancel()
    message = str(info.value)
    assert message.startswith("worker 198.19.254.2:8765 stopped answering")
    assert "a new TCP connection to it" in message, message
    assert elapsed < DETECTED_WITHIN_S


KILL_AND_RUN_AGAIN = """
import os, signal, time

def test_first(fio_run, fio_session):
    fio_run("quick", workers=2)
    victim = fio_session.backend.running_pids()[1]
    os.kill(victim, signal.SIGKILL)
    while os.path.exists(f"/proc/{victim}") and open(f"/proc/{victim}/stat").read().split()[2] != "Z":
        time.sleep(0.05)

def test_second(fio_run, fio_store):
    result = fio_run("quick", workers=2)
    assert len(result.workers) == 2
    notes = fio_store.query(limit=1)[0].notes
    assert any("had exited" in note and "started again" in note for note in notes), notes
"""


def test_a_killed_worker_is_started_again_for_the_next_case(pytester):
    profiles = pytester.mkdir("profiles")
    (profiles / "quick.fio").write_text("[q]\nrw=randread\nsize=1m\nruntime=1\n")
    pytester.makepyfile(test_kill=KILL_AND_RUN_AGAIN)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--fio-profiles-dir", str(profiles), "--fio-workers", "2"
    )
    result.assert_outcomes(passed=2)


@pytest.fixture
def small_filesystem(tmp_path):
    """A 24 MiB ext4 file system on a loop device: the target and the store share it."""
    if os.geteuid() != 0 or not shutil.which("mkfs.ext4") or not shutil.which("losetup"):
        pytest.skip("needs root, mkfs.ext4 and losetup for a small real file system")
    image = tmp_path / "small.img"
    with image.open("wb") as handle:
        handle.truncate(24 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    try:
        subprocess.run(
            ["mount", "-o", "loop", str(image), str(mount_point)], check=True, capture_output=True
        )
    except subprocess.CalledProcessError as err:
        pytest.skip(f"cannot loop-mount here: {err.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)


STORAGE_TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"


def test_a_full_disk_shows_fios_enospc_first_and_loses_nothing(pytester, small_filesystem):
    profiles = pytester.mkdir("profiles")
    (profiles / "small.fio").write_text("[fill]\nrw=write\nbs=1m\nsize=4m\n")
    (profiles / "big.fio").write_text("[fill]\nrw=write\nbs=1m\nsize=64m\n")
    target = small_filesystem / "target"
    target.mkdir()
    store = small_filesystem / "history.db"
    pytester.makepyfile(test_storage=STORAGE_TEST)
    common = ["-p", "no:cacheprovider", "--fio-profiles-dir", str(profiles)]
    common += ["--fio-target", f"t={target}", "--fio-store", str(store)]
    first = pytester.runpytest(*common, "--fio-profiles", "small")
    first.assert_outcomes(passed=1)
    # The harness refuses a profile whose files would not fit, before fio writes a byte.
    refused = pytester.runpytest(*common, "--fio-profiles", "big")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(
        [
            "*profile 'big.fio': needs 64.0 MiB on target 't' (*) (largest job: size 64.0 MiB x"
            " numjobs 1; x 1 worker(s)) but * is free and * (disk_margin 10%) must stay free*"
        ]
    )
    # Told to go ahead, fio fills the disk: its ENOSPC comes first.
    result = pytester.runpytest(*common, "--fio-profiles", "big", "--fio-caps", "disk_margin=none")
    result.assert_outcomes(failed=1)
    failure = "\n".join(result.outlines)
    cause = failure.find("No space left on device")
    assert cause >= 0, failure
    secondary = failure.find("recording this failure failed too")
    assert secondary == -1 or secondary > cause
    # What was stored before is still there.
    check = pytester.runpytest(*common, "--fio-profiles", "small")
    check.assert_outcomes(passed=1)


def _without_bwrap(tmp_path: Path) -> dict[str, str]:
    """A developer's environment whose PATH has fio but no bwrap. Not CI's: there auto
    refuses to run unconfined (tests/unit/test_sandbox.py holds that rule)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "fio").symlink_to(shutil.which("fio"))
    return {**os.environ, "PATH": str(bin_dir), "CI": ""}


def test_without_bwrap_auto_says_so_once_and_records_it(pytester, tmp_path):
    profiles = pytester.mkdir("profiles")
    (profiles / "quick.fio").write_text("[q]\nrw=randread\nsize=1m\nruntime=1\n")
    pytester.makepyfile(test_storage=STORAGE_TEST)
    pytester.makepyfile(
        test_check="""
def test_confinement_is_recorded(fio_run, fio_store):
    fio_run("quick")
    facts = fio_store.query(limit=1)[0].fingerprint["confinement"]
    assert facts["client"].startswith("none (") and "bwrap is not installed" in facts["client"]
"""
    )
    for name, value in _without_bwrap(tmp_path).items():
        pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--fio-profiles-dir", str(profiles), "--fio-workers", "1,2"
    )
    result.assert_outcomes(passed=3)
    notices = [line for line in result.outlines if "fio runs unconfined" in line]
    assert len(notices) == 1 and "bwrap is not installed" in notices[0]


def test_without_bwrap_a_required_sandbox_is_a_usage_error(pytester, tmp_path):
    profiles = pytester.mkdir("profiles")
    (profiles / "quick.fio").write_text("[q]\nrw=randread\nsize=1m\nruntime=1\n")
    pytester.makepyfile(test_storage=STORAGE_TEST)
    for name, value in _without_bwrap(tmp_path).items():
        pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--fio-profiles-dir", str(profiles), "--fio-sandbox", "bwrap"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --fio-sandbox bwrap: bwrap is not installed*"])
