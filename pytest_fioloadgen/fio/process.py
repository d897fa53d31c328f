"""How the harness starts a fio process so that nothing of it outlives the command.

* **A minimal environment** (fio_environment): ``PATH``, ``LC_ALL=C`` and a marker naming
  the run; no variable of the harness's (a token, a password) reaches fio, its children or
  its ``/proc/self/environ``.
* **Its own process group** (a new session): a timeout, an error or the end of the
  command kills the whole group, then any process still carrying the marker (fio hands
  ``sh -c "echo ... | bc"`` its own environment), until none is left.
* **Resource limits** (ResourceLimits): CPU seconds, address space, processes, file size,
  no core dumps; set in the child before it execs and inherited by all it starts. (For
  root the kernel does not enforce the process count: the sandbox, which holds no program
  but fio, is what keeps ``--parse-only`` from starting any.)
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..processes import carrying, process_table

__all__ = [
    "MARKER_VARIABLE",
    "PARSE_LIMITS",
    "ContainedTimeout",
    "Finished",
    "ResourceLimits",
    "end_group",
    "fio_environment",
    "marked_processes",
    "new_marker",
    "run_contained",
]

MARKER_VARIABLE = "FIOLOADGEN_RUN"
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
#: How long end_group keeps killing what is left of a group.
KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class ResourceLimits:
    """rlimits for a process and everything it starts (None: inherited)."""

    cpu_s: int | None = None
    address_space: int | None = None
    processes: int | None = None
    file_size: int | None = None

    def apply(self) -> None:
        """Set the limits (runs in the child between fork and exec: system calls only)."""
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        for limit, value in (
            (resource.RLIMIT_CPU, self.cpu_s),
            (resource.RLIMIT_AS, self.address_space),
            (resource.RLIMIT_NPROC, self.processes),
            (resource.RLIMIT_FSIZE, self.file_size),
        ):
            if value is not None:
                resource.setrlimit(limit, (value, value))


#: ``fio --parse-only``: fio maps about 500 MB of libraries and pools at start; parsing
#: takes milliseconds of CPU and writes nothing.
PARSE_LIMITS = ResourceLimits(cpu_s=10, address_space=2 * 1024**3, processes=16, file_size=1024**2)


def new_marker() -> str:
    return uuid.uuid4().hex


def fio_environment(marker: str | None = None) -> dict[str, str]:
    """The whole environment of a fio process the harness starts."""
    environment = {"PATH": os.environ.get("PATH") or _DEFAULT_PATH, "LC_ALL": "C"}
    if marker is not None:
        environment[MARKER_VARIABLE] = marker
    return environment


def marked_processes(marker: str, group: int | None = None) -> set[int]:
    """Live processes carrying ``marker`` in their environment, or in process ``group``."""
    found = carrying(f"{MARKER_VARIABLE}={marker}")
    if group is not None:
        found |= {
            pid
            for pid, (_parent, process_group, state) in process_table().items()
            if process_group == group and state not in ("Z", "X")
        }
    found.discard(os.getpid())
    return found


def end_group(process: subprocess.Popen[str], marker: str) -> None:
    """Kill ``process``'s group and every process carrying ``marker``, until none is left
    (or KILL_WAIT_S has passed), and reap ``process``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_S
    while True:
        survivors = marked_processes(marker, group=process.pid)
        survivors.discard(process.pid)
        if not survivors or time.monotonic() > deadline:
            break
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=KILL_WAIT_S)


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


class ContainedTimeout(Exception):
    """The command did not finish in time; it and everything it started were killed."""


def run_contained(
    command: Sequence[str],
    *,
    cwd: Path,
    timeout_s: float,
    limits: ResourceLimits,
    marker: str | None = None,
) -> Finished:
    """Run ``command`` to its end in its own process group, under ``limits`` and with the
    minimal environment; whatever it started is killed when it returns (or times out)."""
    marker = marker or new_marker()
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=fio_environment(marker),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
        # Only setrlimit calls between fork and exec (as local.py's servers' set-up).
        preexec_fn=limits.apply,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise ContainedTimeout(f"did not finish in {timeout_s:g} s; killed it") from err
    finally:
        # Also after a normal exit: fio does not wait for a popen'd shell it gave up on.
        end_group(process, marker)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    return Finished(process.returncode, stdout, stderr)
