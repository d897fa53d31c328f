"""The built-in faults of every backend but Kubernetes (see kubernetes.py for those).

* ``pause-worker`` (worker=N): freeze the worker's whole process tree (fio does its I/O in
  a forked grandchild: stopping the server alone changes nothing), thaw at the undo.
* ``kill-worker`` (worker=N): SIGKILL the worker's processes; the run carries on with the
  others, and the backend starts the worker again for later cases. No undo.
* ``throttle-target`` (iops, read_iops, write_iops, bw, read_bw, write_bw): cap the
  target's disk for the case's fio processes (cgroups.py).
* ``noisy-neighbor`` (profile=NAME): a second fio job of a profile on the same target for
  the window, confined like the workers.
* ``command`` (run="argv", undo="argv", timeout): run a command on this machine, e.g.
  ``oc -n openshift-storage rsh deploy/rook-ceph-tools ceph osd out 3``.
* ``call``: a Python callable and its undo (``faults.call(fn, at=..., undo=...)``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends.cgroups import (
    Freeze,
    Group,
    IoLimits,
    IoThrottle,
    block_device_of,
    freezer_controller,
    io_controller,
)
from ..exceptions import FaultError
from ..fio.process import fio_environment
from ..profiles.lint import size_bytes
from .base import Fault, FaultContext, needs_local, worker_index

if TYPE_CHECKING:
    from ..backends.base import Worker
from .spec import FaultSpec, parse_duration

#: How long a command fault may run before it counts as failed.
COMMAND_TIMEOUT_S = 60.0


@dataclass
class _LocalFault:
    """What every local fault holds: its spec, the run, and the backend's support."""

    spec: FaultSpec
    context: FaultContext
    scope: str = "worker"
    lost_workers: frozenset[str] = frozenset()
    reversible: bool = True

    def __post_init__(self) -> None:
        self._support = needs_local(self.context, self.spec)


@dataclass
class _CgroupFault(_LocalFault):
    """A fault that puts processes in a cgroup of its own (frozen or capped): guarded by
    the reaper while it holds, released by the undo, cleared once the cgroup is gone."""

    _held: Group | None = None

    def _hold(self, group: Group) -> None:
        self._support.guard(cgroup=group.path)
        self._held = group

    def _let_go(self, release: Callable[[], None]) -> bool:
        """Run ``release`` and forget the cgroup; False when nothing was held."""
        if self._held is None:
            return False
        release()
        self._support.unguard(cgroup=self._held.path)
        return True

    def cleared(self) -> bool:
        return self._held is None or not self._held.path.exists()


def _chosen_worker(fault: _LocalFault) -> Worker:
    return fault.context.workers[worker_index(fault.spec, fault.context.workers)]


@dataclass
class PauseWorker(_CgroupFault):
    _freeze: Freeze | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._worker = _chosen_worker(self)
        if freezer_controller() is None:
            raise FaultError("pause-worker: no cgroup freezer here (cgroup v1 freezer or v2)")

    def inject(self) -> str:
        controller = freezer_controller()
        assert controller is not None
        self._freeze = Freeze(controller)
        pids = self._support.worker_pids(self._worker)
        self._hold(self._freeze.group)
        self._freeze.freeze(pids)
        return f"froze {self._worker.name} ({len(pids)} processes)"

    def undo(self) -> str:
        freeze = self._freeze
        if freeze is None or not self._let_go(freeze.thaw):
            return "nothing to thaw"
        return f"thawed {self._worker.name}"


@dataclass
class KillWorker(_LocalFault):
    reversible: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._worker = _chosen_worker(self)
        self.lost_workers = frozenset({self._worker.address.name})

    def inject(self) -> str:
        pids = self._support.worker_pids(self._worker)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return f"killed {self._worker.name} ({len(pids)} processes)"

    def undo(self) -> str:
        return "no undo: the backend starts the worker again before its next case"

    def cleared(self) -> bool:
        return True


#: throttle-target's keys: a cap in I/Os per second or bytes per second (1m, 50MiB).
THROTTLE_KEYS = frozenset({"iops", "read_iops", "write_iops", "bw", "read_bw", "write_bw"})


def _limits(spec: FaultSpec) -> IoLimits:
    values: dict[str, int] = {}
    for key, text in spec.params:
        if key.endswith("iops"):
            try:
                values[key] = int(text)
            except ValueError as err:
                raise FaultError(f"throttle-target: {key}={text!r} is not a number") from err
        else:
            parsed = size_bytes(text)
            if parsed is None:
                raise FaultError(f"throttle-target: {key}={text!r} is not a size (like 50m)")
            values[key.replace("bw", "bps")] = parsed
        if values[key if key.endswith("iops") else key.replace("bw", "bps")] <= 0:
            raise FaultError(f"throttle-target: {key} must be positive")
    both_iops, both_bps = values.pop("iops", None), values.pop("bps", None)
    limits = IoLimits(
        read_iops=values.get("read_iops", both_iops),
        write_iops=values.get("write_iops", both_iops),
        read_bps=values.get("read_bps", both_bps),
        write_bps=values.get("write_bps", both_bps),
    )
    if limits == IoLimits():
        raise FaultError("throttle-target: give a cap (iops, read_iops, write_iops, bw...)")
    return limits


@dataclass
class ThrottleTarget(_CgroupFault):
    scope: str = "target"
    _throttle: IoThrottle | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._limits = _limits(self.spec)
        self._controller = io_controller()
        if self._controller is None:
            raise FaultError(
                "throttle-target: no cgroup I/O controller here (cgroup v1 blkio, or v2 with"
                " the io controller enabled)"
            )
        directory = self._support.target_directory(self.context.env, self.context.target)
        self._device = block_device_of(directory)

    def inject(self) -> str:
        assert self._controller is not None
        self._throttle = IoThrottle(self._controller, self._device, self._limits)
        pids: set[int] = set()
        for worker in self.context.workers:
            pids |= self._support.worker_pids(worker)
        self._hold(self._throttle.group)
        self._throttle.apply(pids)
        major, minor = self._device
        return f"capped {major}:{minor} at {self._limits.describe()} for {len(pids)} processes"

    def undo(self) -> str:
        throttle = self._throttle
        if throttle is None or not self._let_go(throttle.lift):
            return "nothing to lift"
        return "lifted the cap"


@dataclass
class NoisyNeighbor(_LocalFault):
    scope: str = "target"
    _process: subprocess.Popen[bytes] | None = None
    _directory: Path | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        name = self.spec.get("profile")
        if not name:
            raise FaultError("noisy-neighbor: profile=NAME is missing (a profile to run beside)")
        if self.context.load_profile is None:
            raise FaultError("noisy-neighbor: this session cannot load profiles by name")
        if self.spec.for_s is None:
            raise FaultError("noisy-neighbor: for= is missing (how long the neighbour runs)")
        profile = self.context.load_profile(name)
        runtime = f"{self.spec.for_s:g}s"
        self._job = profile.with_overrides(runtime=runtime).render() + "\ntime_based\n"

    def inject(self) -> str:
        base = self._support.target_directory(self.context.env, self.context.target)
        self._directory = Path(tempfile.mkdtemp(prefix="fioloadgen-neighbor-", dir=base))
        (self._directory / "job.fio").write_text(self._job)
        argv = [self.context.fio_binary, "job.fio", "--output=/dev/null"]
        self._process = subprocess.Popen(
            self._support.sandboxed(argv, self._directory),
            cwd=self._directory,
            # Like every fio process: nothing of the harness's environment.
            env=fio_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._support.guard(pid=self._process.pid)
        return f"started profile {self.spec.get('profile')} beside the workers"

    def undo(self) -> str:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            self._support.unguard(pid=process.pid)
        if self._directory is not None:
            for path in sorted(self._directory.rglob("*"), reverse=True):
                with contextlib.suppress(OSError):
                    path.unlink() if not path.is_dir() else path.rmdir()
            with contextlib.suppress(OSError):
                self._directory.rmdir()
        return "stopped the neighbour"

    def cleared(self) -> bool:
        return self._process is None


def _argv(spec: FaultSpec, key: str) -> list[str] | None:
    text = spec.get(key)
    if text is None:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as err:
        raise FaultError(f"command: {key}={text!r}: {err}") from err
    if not argv:
        raise FaultError(f"command: {key} is empty")
    return argv


def _run(argv: list[str], timeout_s: float, what: str) -> str:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as err:
        raise FaultError(f"command: {what}: {argv[0]!r} not found") from err
    except subprocess.TimeoutExpired as err:
        raise FaultError(f"command: {what}: did not finish in {timeout_s:g} s") from err
    if done.returncode != 0:
        said = " | ".join(line for line in done.stderr.splitlines()[-3:] if line.strip())
        raise FaultError(
            f"command: {what} exited with status {done.returncode}" + (f": {said}" if said else "")
        )
    return f"ran {shlex.join(argv)}"


@dataclass
class _ActionFault(ABC):
    """A fault that is an action and its undo (a command, a callable): it reaches beyond
    the case's workers, and a failed undo is tried again until it succeeds (then the
    fault is cleared)."""

    spec: FaultSpec
    context: FaultContext
    scope: str = "cluster"
    lost_workers: frozenset[str] = frozenset()
    reversible: bool = True
    _undone: bool = False

    @abstractmethod
    def _act(self) -> str:
        """Do the action; one line saying what was done."""

    @abstractmethod
    def _reverse(self) -> str | None:
        """Undo the action; None when it has no undo."""

    def inject(self) -> str:
        return self._act()

    def undo(self) -> str:
        said = self._reverse()
        self._undone = True
        return said if said is not None else "no undo"

    def cleared(self) -> bool:
        if self._undone:
            return True
        try:
            self.undo()
        except FaultError:
            return False
        return True


@dataclass
class Command(_ActionFault):
    def __post_init__(self) -> None:
        run = _argv(self.spec, "run")
        if run is None:
            raise FaultError('command: run="ARGV" is missing')
        self._run, self._undo_argv = run, _argv(self.spec, "undo")
        timeout = self.spec.get("timeout")
        self._timeout = (
            parse_duration(timeout, "command: timeout") if timeout else COMMAND_TIMEOUT_S
        )

    def _act(self) -> str:
        return _run(self._run, self._timeout, "run")

    def _reverse(self) -> str | None:
        return None if self._undo_argv is None else _run(self._undo_argv, self._timeout, "undo")


@dataclass
class Call(_ActionFault):
    def __post_init__(self) -> None:
        if self.spec.action is None:
            raise FaultError("call: no callable (use faults.call(fn, at=..., undo=...))")

    def _act(self) -> str:
        assert self.spec.action is not None
        _called(self.spec.action, "call")
        return "called the fault's action"

    def _reverse(self) -> str | None:
        if self.spec.undo is None:
            return None
        _called(self.spec.undo, "call: undo")
        return "called the fault's undo"


def _called(function: Callable[[], Any], what: str) -> None:
    try:
        function()
    except Exception as err:
        raise FaultError(f"{what}: {err}") from err


@dataclass(frozen=True)
class FaultType:
    """A named fault: its own keys and how to make it for a run."""

    name: str
    keys: frozenset[str]
    make: Callable[[FaultSpec, FaultContext], Fault]
    doc: str = ""
    backends: tuple[str, ...] = field(default=())


BUILTIN: Mapping[str, FaultType] = {
    fault.name: fault
    for fault in (
        FaultType(
            "pause-worker", frozenset({"worker"}), PauseWorker, "freeze worker N's processes"
        ),
        FaultType("kill-worker", frozenset({"worker"}), KillWorker, "SIGKILL worker N"),
        FaultType("throttle-target", THROTTLE_KEYS, ThrottleTarget, "cap the target's disk"),
        FaultType("noisy-neighbor", frozenset({"profile"}), NoisyNeighbor, "run a profile beside"),
        FaultType("command", frozenset({"run", "undo", "timeout"}), Command, "run a command here"),
        FaultType("call", frozenset(), Call, "a Python callable (Python only)"),
    )
}
