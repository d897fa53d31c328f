"""A reaper that outlives the harness: worker data and fio processes never outlast it.

Teardown removes worker directories and stops fio in every normal exit (failures, Ctrl-C,
SIGTERM). A harness killed outright (SIGKILL, the OOM killer, a CI runner cancelling a job)
runs no teardown: the sandbox's ``--die-with-parent`` takes the fio processes down, but the
data files stay, and without a sandbox fio's job processes keep running. So the local
backend starts this small process in its own session: the harness tells it, over a pipe,
which directories and processes it owns; when the pipe closes without a goodbye (the
harness died), the reaper kills the processes, waits for them and removes the directories.

Directories left behind when the reaper itself could not run (a power cut) are swept at the
next deploy on the same target: each session directory names its owner (OWNER_FILE), and a
directory whose owner is gone is removed (see sweep_stale).

Protocol, one JSON object per line on the reaper's stdin:
``{"watch": DIR}``, ``{"forget": DIR}``, ``{"pid": PID}``, ``{"unpid": PID}``, ``{"bye": true}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..processes import alive, start_time, working_in
from .cgroups import CGROUP_ROOT, PARENT, release

OWNER_FILE = ".fioloadgen-owner"
KILL_WAIT_S = 2.5


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def write_owner(directory: Path) -> None:
    """Mark a session directory as this process's, for sweep_stale."""
    pid = os.getpid()
    owner = {"pid": pid, "start": start_time(pid), "boot": _boot_id()}
    (directory / OWNER_FILE).write_text(json.dumps(owner))


def _owner_alive(directory: Path) -> bool:
    try:
        owner = json.loads((directory / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return True  # not ours to judge: no (readable) owner file
    if not isinstance(owner, dict):
        return True
    if owner.get("boot") != _boot_id():
        return False
    pid = owner.get("pid")
    return isinstance(pid, int) and start_time(pid) == owner.get("start")


def sweep_stale(parent: Path, pattern: str) -> list[Path]:
    """Remove session directories under ``parent`` whose owning process is gone; return
    them. Only directories with an owner file of ours are ever touched."""
    removed = []
    with contextlib.suppress(OSError):
        for directory in parent.glob(pattern):
            if (
                directory.is_dir()
                and not directory.is_symlink()
                and (directory / OWNER_FILE).is_file()
                and directory.stat().st_uid == os.geteuid()
                and not _owner_alive(directory)
            ):
                _kill_working_in([directory])
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
    return removed


def _kill_working_in(directories: list[Path], pids: Iterable[int] = ()) -> None:
    targets = set(pids) | working_in(directories)
    targets.discard(os.getpid())
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_S
    while time.monotonic() < deadline:
        targets = {pid for pid in targets if alive(pid)} | working_in(directories)
        targets.discard(os.getpid())
        if not targets:
            return
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _is_harness_cgroup(path: Path) -> bool:
    """Only a cgroup the harness made (under .../fioloadgen/) is ever released: a message
    on the pipe must not make the reaper move processes out of any other."""
    return path.parent.name == PARENT and str(path).startswith(str(CGROUP_ROOT) + "/")


def reap(stream: IO[str]) -> None:
    """The reaper's loop: follow the harness's messages until the pipe closes."""
    directories: dict[str, None] = {}
    pids: set[int] = set()
    cgroups: dict[str, None] = {}
    for line in stream:
        try:
            message: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if message.get("bye"):
            return
        if isinstance(message.get("watch"), str):
            directories[message["watch"]] = None
        if isinstance(message.get("forget"), str):
            directories.pop(message["forget"], None)
        if isinstance(message.get("pid"), int):
            pids.add(message["pid"])
        if isinstance(message.get("unpid"), int):
            pids.discard(message["unpid"])
        if isinstance(message.get("cgroup"), str):
            cgroups[message["cgroup"]] = None
        if isinstance(message.get("uncgroup"), str):
            cgroups.pop(message["uncgroup"], None)
    # The pipe closed without a goodbye: the harness is gone. A frozen process ignores
    # SIGKILL until thawed, and a throttle would outlive everyone: release them first.
    for cgroup in cgroups:
        if _is_harness_cgroup(Path(cgroup)):
            release(Path(cgroup))
    paths = [Path(directory) for directory in directories]
    _kill_working_in(paths, pids)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


class Reaper:
    """The harness's side: start the reaper and tell it what to clean up."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def _send(self, message: dict[str, Any]) -> None:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pytest_fioloadgen.backends.reaper"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                # Its own session: a terminal's Ctrl-C or a kill of the harness's process
                # group must not take the reaper down with the harness.
                start_new_session=True,
                close_fds=True,
            )
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()

    def watch(self, directory: Path) -> None:
        self._send({"watch": str(directory)})

    def forget(self, directory: Path) -> None:
        if self._process is not None:
            self._send({"forget": str(directory)})

    def add_pid(self, pid: int) -> None:
        self._send({"pid": pid})

    def remove_pid(self, pid: int) -> None:
        if self._process is not None:
            self._send({"unpid": pid})

    def add_cgroup(self, path: Path) -> None:
        self._send({"cgroup": str(path)})

    def remove_cgroup(self, path: Path) -> None:
        if self._process is not None:
            self._send({"uncgroup": str(path)})

    def close(self) -> None:
        """Say goodbye (teardown did the cleaning) and let the reaper exit."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            process.stdin.write(json.dumps({"bye": True}) + "\n")
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None


if __name__ == "__main__":
    reap(sys.stdin)
    # Nothing to flush (its output goes nowhere) and nothing left to clean: skip the
    # interpreter's shutdown (0.4 s with numpy loaded), which teardown waits for.
    os._exit(0)
