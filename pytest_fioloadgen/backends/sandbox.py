"""Confinement of the fio processes the harness starts (bubblewrap).

The first line of defence against a hostile profile (the safety policy in
profiles/policy.py is the second; each holds on its own). Every local ``fio --server``
and every fio client the harness runs is started inside ``bwrap`` with:

* the whole file system read-only (``--ro-bind / /``) except the one directory the process
  works in (a worker's directory; the client's temp directory), bound read-write;
* a private ``/dev`` without block devices (``--dev``: null, zero, random, tty, its own
  ``/dev/shm``), a private ``/proc`` whose ``sys``, ``sysrq-trigger``, ``bus``, ``fs`` and
  ``irq`` are read-only, and ``/sys`` read-only;
* no capabilities (``--cap-drop ALL``), even as root: without it, root in the sandbox could
  remount ``/`` read-write or write ``/proc/sys/vm/drop_caches``;
* its own PID, IPC, UTS and cgroup namespaces, its own session (``--new-session``: no
  TIOCSTI into the caller's terminal), and ``--die-with-parent``: when the harness dies,
  even by SIGKILL, the whole namespace (server, job processes) dies with it.

The network is shared: a confined ``fio --server`` on 127.0.0.x serves a client outside.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigError

SANDBOX_MODES = ("auto", "bwrap", "none")
#: /proc entries a process with no capabilities could still write as uid 0.
_READ_ONLY_PROC = ("/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq")


@dataclass(frozen=True)
class Sandbox:
    """How the harness starts fio: inside bwrap, or as it is (``kind`` "none")."""

    kind: str
    executable: str | None = None
    version: str = ""
    #: Why the processes are not confined (kind "none"), for the session's notice.
    reason: str = ""

    @property
    def confined(self) -> bool:
        return self.kind == "bwrap"

    def describe(self) -> str:
        """What each run records about its confinement."""
        if self.confined:
            return f"bwrap {self.version}".strip()
        return f"none ({self.reason})" if self.reason else "none"

    def command(self, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path) -> list[str]:
        """``argv`` as it must be started: inside bwrap with only ``writable`` writable."""
        if not self.confined:
            return list(argv)
        assert self.executable is not None
        return bwrap_argv(self.executable, argv, writable=writable, cwd=cwd)


UNCONFINED = Sandbox("none", reason="--fio-sandbox none")


def bwrap_argv(
    executable: str, argv: Sequence[str], *, writable: Sequence[Path], cwd: Path
) -> list[str]:
    """The bwrap command line that confines ``argv`` (see the module docstring)."""
    command = [executable, "--ro-bind", "/", "/", "--ro-bind", "/sys", "/sys"]
    command += ["--dev", "/dev", "--proc", "/proc"]
    for entry in _READ_ONLY_PROC:
        command += ["--ro-bind-try", entry, entry]
    for directory in writable:
        resolved = str(Path(directory).resolve())
        command += ["--bind", resolved, resolved]
    command += [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--chdir",
        str(Path(cwd).resolve()),
        "--",
        *argv,
    ]
    return command


@functools.lru_cache(maxsize=4)
def probe_bwrap(executable: str = "bwrap") -> tuple[str | None, str, str]:
    """(path, version, problem): whether bwrap is installed and can start a sandbox here
    (user namespaces may be off for non-root users, or a container may forbid them)."""
    path = shutil.which(executable)
    if path is None:
        return None, "", f"{executable} is not installed (Debian: apt-get install bubblewrap)"
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.split()[-1:]
        probe = subprocess.run(
            bwrap_argv(path, ["true"], writable=(), cwd=Path("/")),
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, "", f"{path} cannot run: {err}"
    if probe.returncode != 0:
        said = probe.stderr.strip().splitlines()
        reason = said[-1] if said else f"exit status {probe.returncode}"
        return None, "", f"{path} cannot start a sandbox here: {reason}"
    return path, version[0] if version else "", ""


def choose_sandbox(mode: str, *, where: str, executable: str = "bwrap") -> Sandbox:
    """The sandbox ``mode`` asks for. ``auto``: bwrap when it can start, else none with the
    reason (the session says so once); ``bwrap``: bwrap or a ConfigError naming ``where``;
    ``none``: explicitly unconfined."""
    if mode == "none":
        return Sandbox("none", reason=f"{where} none")
    path, version, problem = probe_bwrap(executable)
    if path is not None:
        return Sandbox("bwrap", path, version)
    if mode == "bwrap":
        raise ConfigError(f"{where} bwrap: {problem}")
    return Sandbox("none", reason=problem)
