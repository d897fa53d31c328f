"""The Backend protocol: how fio workers are deployed, found per run, and torn down.

A backend knows nothing of stores or reports. Workers are *resolved per run* rather than
captured once at deploy time, because on Kubernetes a pod can restart with a new address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..exceptions import BackendError
from ..fio.results import RunResult
from ..fio.runner import ProgressCallback, WorkerAddress, run_fio


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
    ) -> RunResult:
        """Run fio as a client against ``workers`` wherever the client must run (here for
        local and static workers, inside the cluster for Kubernetes) and merge the result."""

    def teardown(self, env: Environment) -> None:
        """Remove everything deploy created (processes, data); idempotent."""

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        """Facts about the environment that make runs comparable (host, fs, versions)."""


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
    """run_job for backends whose workers this machine reaches directly (local, static)."""

    fio_binary: str

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
    ) -> RunResult:
        result, _invocation = run_fio(
            job_text,
            [worker.address for worker in workers],
            expected_runtime_s=expected_runtime_s,
            fio_binary=self.fio_binary,
            on_progress=on_progress,
        )
        return result
