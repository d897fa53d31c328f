"""The faults of one case's run, made for its workers and scheduled around fio.

``CaseFaults`` is a context manager the session wraps around the run: entering makes each
fault for the run's workers (a fault that cannot work here is one FaultError line before
anything runs) and takes the session-wide lock when a fault reaches beyond the case's own
workers and target; leaving undoes whatever is still in place, on every exit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from filelock import FileLock

from ..exceptions import FaultError
from .base import Fault, FaultContext, FaultEvent
from .registry import Lookup, fault_type
from .schedule import FaultSchedule
from .spec import FaultSpec

#: The lock two cluster-wide faults (drain, delete-pod, command) never run without.
CLUSTER_LOCK = "faults-cluster.lock"


@dataclass
class CaseFaults:
    specs: Sequence[FaultSpec]
    context: FaultContext
    find: Lookup
    ramp_s: float = 0.0
    lock_dir: Path | None = None
    schedule: FaultSchedule = field(init=False)
    events: list[FaultEvent] = field(default_factory=list)
    _lock: FileLock | None = None

    def __post_init__(self) -> None:
        faults: list[Fault] = [
            fault_type(spec, self.find).make(spec, self.context) for spec in self.specs
        ]
        self.schedule = FaultSchedule(faults, ramp_s=self.ramp_s)

    def __enter__(self) -> FaultSchedule:
        if self.lock_dir is not None and any(
            fault.scope == "cluster" for fault in self.schedule.faults
        ):
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            self._lock = FileLock(self.lock_dir / CLUSTER_LOCK)
            self._lock.acquire()
        return self.schedule

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.events = self.schedule.finish()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def stored(self) -> list[dict[str, Any]]:
        """The events as stored with the run (seconds since the client started)."""
        start = self.schedule.client_start
        if start is None:
            return []
        return [event.as_dict(start) for event in self.events]

    def failed_injection(self) -> str:
        """Why a fault could not be injected ("" when all were): the run then measured
        something else than its case says."""
        return "; ".join(
            f"{event.spec.describe()}: {event.error}"
            for event in self.events
            if event.error.startswith("inject")
        )


@dataclass
class UnclearedFaults:
    """Faults whose undo failed, per target: a target a fault may still act on measures
    nothing (its cases are errors) until the fault is gone."""

    _pending: dict[str, list[tuple[Fault, FaultEvent]]] = field(default_factory=dict)

    def settle(self, target: str, faults: CaseFaults | None) -> None:
        """After a run: keep what could not be undone; a fault that could not be injected
        makes the run an error."""
        if faults is None:
            return
        for fault, event in faults.schedule.uncleared():
            self._pending.setdefault(target, []).append((fault, event))
        failed = faults.failed_injection()
        if failed:
            raise FaultError(f"the case's fault did not happen: {failed}")

    def check(self, target: str) -> None:
        """Before a run: refuse it while a fault on ``target`` has not cleared."""
        pending = [(f, event) for f, event in self._pending.get(target, []) if not f.cleared()]
        self._pending[target] = pending
        if pending:
            said = "; ".join(f"{event.spec.describe()} ({event.error})" for _f, event in pending)
            raise FaultError(
                f"target {target!r} may still be under a fault whose undo failed: {said};"
                " its cases are errors until it is cleared"
            )
