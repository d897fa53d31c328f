"""The Backend protocol: how fio workers are deployed, found per run, and torn down.

A backend knows nothing of stores or reports. Workers are *resolved per run* rather than
captured once at deploy time, because on Kubernetes a pod can restart with a new address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..exceptions import BackendError
from ..fio.results import RunResult
from ..fio.runner import ProgressCallback, WorkerAddress, run_fio
from .sandbox import UNCONFINED, Sandbox


@dataclass(frozen=True)
class Worker:
    """One fio server of an environment."""

    name: str
    address: WorkerAddress
    target: str
    #: The directory fio works in on that worker, or None when the server's own working
    #: directory is used (how the local backend gives each worker its own directory).
    directory: str | None = None
    #: The one block device the job runs on, when the backend exposes the storage as a
    #: raw device (Kubernetes volumeMode: Block). The session sets the job's ``filename``
    #: to it and the safety policy allows exactly this device (profiles.Allowance).
    device: str | None = None


@dataclass
class Environment:
    """What a backend deployed: workers per target (a target is a storage class)."""

    backend: str
    workers: dict[str, list[Worker]]
    details: dict[str, Any] = field(default_factory=dict)
    #: True when the environment was left running on purpose (--fio-keep).
    kept: bool = False
    #: What the backend had to do to the environment since the last run (a dead worker
    #: started again, a pod replaced): the session moves these into the next run's notes.
    events: list[str] = field(default_factory=list)
    #: Notes every run on a target carries (e.g. that it is memory-backed and the user
    #: allowed it): shown next to its figures in every view.
    target_notes: dict[str, list[str]] = field(default_factory=dict)

    def take_events(self) -> list[str]:
        events, self.events = self.events, []
        return events

    @property
    def targets(self) -> list[str]:
        return list(self.workers)

    def capacity(self, target: str) -> int:
        return len(self.workers.get(target, []))

    def describe(self) -> Mapping[str, int]:
        """Workers per target, for status lines and the fingerprint."""
        return {target: len(workers) for target, workers in self.workers.items()}


@runtime_checkable
class Backend(Protocol):
    """Deploys fio workers; implementations: local, static, kubernetes."""

    name: str

    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        """Bring up ``workers`` fio servers per target and wait until they answer."""

    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        """The first ``count`` workers of ``target``, checked reachable, for one run."""

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
        timeline: bool = False,
        on_start: Callable[[float], None] | None = None,
        lost_ok: frozenset[str] = frozenset(),
    ) -> RunResult:
        """Run fio as a client against ``workers`` wherever the client must run (here for
        local and static workers, inside the cluster for Kubernetes) and merge the result;
        with ``timeline`` the result keeps the run's exact timeline (fio/timeline.py).
        ``on_start`` is told when the client started (epoch seconds); workers named in
        ``lost_ok`` may be missing from the result (a fault's doing)."""

    def teardown(self, env: Environment) -> None:
        """Remove everything deploy created (processes, data); idempotent."""

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        """Facts about the environment that make runs comparable (host, fs, versions)."""


@dataclass(frozen=True)
class FreeSpace:
    """A target's file system: bytes free (to the harness's user), its size, and what this
    session's files already take there."""

    path: str
    free: int
    total: int
    used: int = 0


@runtime_checkable
class KnowsFreeSpace(Protocol):
    """A backend that knows the file system its target's data goes on (local): the
    session checks a profile's files against its free space before each run."""

    def free_space(self, env: Environment, target: str) -> FreeSpace | None: ...


@runtime_checkable
class SharesResources(Protocol):
    """A backend whose targets may share what they measure (local directories on one
    disk): the name of the resource a run on ``target`` uses, for the session's
    measurement lock."""

    def measurement_resource(self, env: Environment, target: str) -> str: ...


@runtime_checkable
class SupportsPreflight(Protocol):
    """A backend that can check its settings before anything is deployed."""

    def preflight(self, targets: Sequence[str], workers: int) -> None:
        """Raise BackendError (with ``setting``) for a settings problem: unreachable hosts,
        more workers than the backend can give, a target that cannot be used."""


def first_workers(env: Environment, target: str, count: int) -> list[Worker]:
    """The first ``count`` workers of a target, or a BackendError that says what exists."""
    available = env.workers.get(target)
    if available is None:
        known = ", ".join(env.targets) or "none"
        raise BackendError(f"target {target!r} is not deployed (deployed targets: {known})")
    if count > len(available):
        raise BackendError(
            f"target {target!r} has {len(available)} workers, the case needs {count}"
        )
    return available[:count]


class RunsClientHere:
    """run_job for backends whose workers this machine reaches directly (local, static):
    the fio client runs here, confined by the backend's sandbox to its temp directory."""

    fio_binary: str
    sandbox: Sandbox = UNCONFINED
    #: Prefixes every fio command the backend starts (strace, numactl, taskset), outside
    #: the sandbox: (argv) -> argv.
    wrap_command: Callable[[list[str]], list[str]] | None = None

    def client_workdir(self, env: Environment) -> Path | None:
        """Where the client's temporary directory goes (None: the system's temp dir)."""
        return None

    def diagnose(self, address: WorkerAddress) -> str:
        """What the backend can tell about a worker that stopped answering."""
        return ""

    def same_clock(self, addresses: Sequence[WorkerAddress]) -> bool:
        """Whether every worker's log times are on this machine's clock (then no host
        clock offset is estimated): servers on loopback run here."""
        return all(_is_loopback(address.host) for address in addresses)

    def _confine(self, argv: list[str], workdir: Path) -> list[str]:
        command = self.sandbox.command(argv, writable=[workdir], cwd=workdir)
        return self.wrap_command(command) if self.wrap_command is not None else command

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
        timeline: bool = False,
        on_start: Callable[[float], None] | None = None,
        lost_ok: frozenset[str] = frozenset(),
    ) -> RunResult:
        addresses = [worker.address for worker in workers]
        result, _invocation = run_fio(
            job_text,
            addresses,
            expected_runtime_s=expected_runtime_s,
            fio_binary=self.fio_binary,
            on_progress=on_progress,
            confine=self._confine,
            workdir=self.client_workdir(env),
            diagnose=self.diagnose,
            timeline=timeline,
            same_clock=self.same_clock(addresses),
            on_start=on_start,
            lost_ok=lost_ok,
        )
        return result


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
