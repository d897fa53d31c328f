"""Ctrl-C and SIGTERM in the middle of a benchmark session still tear everything down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LONG_PROFILE = """# Runs long enough to be interrupted.
[global]
ioengine=psync
size=4m
runtime=60
time_based
[rr]
rw=randread
bs=4k
"""


def restore_sigint() -> None:
    """Runs in the child before exec: CI may start us with SIGINT ignored (a background
    job of a non-interactive shell), an ignored signal stays ignored across exec, and
    Python then never turns Ctrl-C into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_inside(directory: Path) -> list[int]:
    """PIDs whose working directory is under ``directory`` (fio servers cd there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(directory)):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_mid_run_tears_down(tmp_path, signum):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "long.fio").write_text(LONG_PROFILE)
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "test_long.py").write_text(
        "def test_long(fio_case, fio_run):\n    fio_run(fio_case)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "test_long.py",
            "--fio-profiles-dir",
            str(profiles),
            "--fio-workers",
            "2",
            "--fio-target",
            f"t={target}",
            "--fio-store",
            "history.db",
        ],
        cwd=tmp_path,
        preexec_fn=restore_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(processes_inside(target)) < 2:
            time.sleep(0.1)
        assert len(processes_inside(target)) >= 2, "fio servers never started"
        time.sleep(1.5)  # fio is running the job now
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "KeyboardInterrupt" in output or "Interrupted" in output or "signal" in output
    # SIGKILLed job processes in the middle of an I/O leave when the I/O returns, which on
    # a loaded machine can take a moment after pytest has exited.
    deadline = time.monotonic() + 10
    while processes_inside(target) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in processes_inside(target)}
    assert left == {}
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("sandbox", ["bwrap", "none"])
def test_sigkill_of_pytest_leaves_no_fio_and_no_data_within_3_s(tmp_path, sandbox):
    """No teardown runs after SIGKILL: with the sandbox its --die-with-parent takes the
    servers, job processes and client down; without it the reaper does; the reaper
    removes the worker data either way."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "long.fio").write_text(LONG_PROFILE)
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "test_long.py").write_text(
        "def test_long(fio_case, fio_run):\n    fio_run(fio_case)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "test_long.py",
            "--fio-profiles-dir",
            str(profiles),
            "--fio-workers",
            "2",
            "--fio-target",
            f"t={target}",
            "--fio-store",
            "history.db",
            "--fio-sandbox",
            sandbox,
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        # Two servers, their job processes and the client: fio is doing I/O.
        while time.monotonic() < deadline and len(processes_inside(target)) < 5:
            time.sleep(0.1)
        assert len(processes_inside(target)) >= 5, "fio never got going"
        time.sleep(1.0)
        process.kill()
        process.wait(timeout=10)
        killed_at = time.monotonic()
        while (processes_inside(target) or list(target.iterdir())) and (
            time.monotonic() - killed_at < 3.0
        ):
            time.sleep(0.05)
        gone_after = time.monotonic() - killed_at
    finally:
        if process.poll() is None:
            process.kill()
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in processes_inside(target)}
    assert left == {}
    assert list(target.iterdir()) == []
    assert gone_after < 3.0
