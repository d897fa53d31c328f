"""A fault as the session runs it: injected on time, undone on every exit.

A ``Fault`` acts on one case's run (its ``FaultContext``: backend, workers, target). Its
``scope`` says how far it reaches: ``worker`` and ``target`` faults stay on the case's own
workers and device; a ``cluster`` fault (a node drain, a pod deletion, a command) can touch
anything, so under pytest-xdist it holds a session-wide lock and two never overlap.

What the backend must offer for local faults is the ``LocalFaultSupport`` protocol (the
local backend has it): the processes of a worker, a target's directory, and the reaper's
guard for cgroups and processes that must not outlive a killed harness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..exceptions import FaultError
from .spec import FaultSpec

if TYPE_CHECKING:
    from ..backends.base import Backend, Environment, Worker
    from ..profiles import Profile


@runtime_checkable
class LocalFaultSupport(Protocol):
    """What local faults need from the backend that runs the workers."""

    def worker_pids(self, worker: Worker) -> set[int]:
        """Every process of ``worker`` (its server and the job processes below it)."""

    def target_directory(self, env: Environment, target: str) -> Path:
        """Where ``target``'s workers do their I/O."""

    def guard(self, *, cgroup: Path | None = None, pid: int | None = None) -> None:
        """Have the reaper undo ``cgroup`` (thaw, lift, remove) or kill ``pid`` should the
        harness die before it does."""

    def unguard(self, *, cgroup: Path | None = None, pid: int | None = None) -> None:
        """The harness undid it itself."""

    def sandboxed(self, argv: list[str], directory: Path) -> list[str]:
        """``argv`` confined like the backend's own fio processes, writing ``directory``."""


@dataclass
class FaultContext:
    """One case's run, as a fault sees it."""

    backend: Backend
    env: Environment
    target: str
    workers: Sequence[Worker]
    #: Loads a profile by name from the session's profiles directory, policy-checked.
    load_profile: Callable[[str], Profile] | None = None
    fio_binary: str = "fio"


class Fault(Protocol):
    """An injected fault: what it does, its undo, and whether it is gone."""

    spec: FaultSpec
    #: "worker", "target" or "cluster" (see the module doc).
    scope: str
    #: Worker names (host:port) this fault may take out of the run on purpose.
    lost_workers: frozenset[str]
    #: Whether undo() reverses it (a killed worker is not brought back mid-run): phases of
    #: an irreversible fault end with its ``for`` window instead.
    reversible: bool

    def inject(self) -> str:
        """Do it; one line saying what was done. FaultError when it could not."""

    def undo(self) -> str:
        """Undo it; one line saying what was done. FaultError when it could not."""

    def cleared(self) -> bool:
        """Whether the fault is verifiably gone (after a failed undo)."""


@dataclass
class FaultEvent:
    """What happened to one fault of a run, on the harness's clock (epoch seconds)."""

    spec: FaultSpec
    injected_at: float | None = None
    undone_at: float | None = None
    said: list[str] = field(default_factory=list)
    #: Why the fault could not be injected or undone ("" when it was).
    error: str = ""
    #: Set when the undo failed and the fault may still act.
    uncleared: bool = False

    reversible: bool = True

    def as_dict(self, client_start: float) -> dict[str, Any]:
        """The event as stored with the run: times in seconds since the client started."""

        def since(moment: float | None) -> float | None:
            return round(moment - client_start, 3) if moment is not None else None

        return {
            "fault": self.spec.canonical(),
            "name": self.spec.name,
            "describe": self.spec.describe(),
            "injected_s": since(self.injected_at),
            "undone_s": since(self.undone_at),
            "planned_at_s": self.spec.at_s,
            "planned_for_s": self.spec.for_s,
            "reversible": self.reversible,
            "said": list(self.said),
            "error": self.error,
            "uncleared": self.uncleared,
        }


def needs_local(context: FaultContext, spec: FaultSpec) -> LocalFaultSupport:
    """The backend's local fault support, or one line saying this backend has none."""
    backend = context.backend
    if not isinstance(backend, LocalFaultSupport):
        raise FaultError(
            f"fault {spec.name}: the {getattr(backend, 'name', 'this')} backend cannot"
            " inject it (it acts on local worker processes); use command or a hook's fault"
        )
    return backend


def worker_index(spec: FaultSpec, workers: Sequence[Worker]) -> int:
    """The 0-based index of the ``worker=N`` (1-based) a fault names."""
    text = spec.get("worker", "1") or "1"
    try:
        number = int(text)
    except ValueError as err:
        raise FaultError(f"fault {spec.name}: worker={text!r} is not a number") from err
    if not 1 <= number <= len(workers):
        raise FaultError(
            f"fault {spec.name}: worker={number}, but the case has {len(workers)} worker(s)"
        )
    return number - 1
