"""Faults fired on time during one run, and undone on every exit.

``FaultSchedule.start(client_start)`` is called by the backend the moment fio's client
starts; a thread then injects each fault at ``client start + ramp_time + at`` and undoes it
``for`` seconds later, recording the real times. ``finish()`` (in a ``finally``: a failed
run, Ctrl-C, SIGTERM turned into KeyboardInterrupt) stops the thread and undoes whatever
is still in place from the calling thread. A harness killed outright leaves its cgroups and
processes to the reaper, which thaws, lifts and kills.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from ..exceptions import FaultError
from .base import Fault, FaultEvent

#: How long finish() waits for the schedule's thread to hand over.
JOIN_TIMEOUT_S = 10.0


class FaultSchedule:
    """The faults of one run and what happened to each."""

    def __init__(self, faults: Sequence[Fault], *, ramp_s: float = 0.0) -> None:
        self.faults = sorted(faults, key=lambda fault: fault.spec.at_s)
        self.events = [FaultEvent(fault.spec, reversible=fault.reversible) for fault in self.faults]
        self.ramp_s = ramp_s
        self.client_start: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def lost_workers(self) -> frozenset[str]:
        """Workers the faults take out of the run on purpose."""
        return frozenset().union(*(fault.lost_workers for fault in self.faults))

    def start(self, client_start: float) -> None:
        """The client started at ``client_start`` (epoch seconds): run the schedule."""
        if self._thread is not None or not self.faults:
            self.client_start = self.client_start or client_start
            return
        self.client_start = client_start
        self._thread = threading.Thread(target=self._run, name="fioloadgen-faults", daemon=True)
        self._thread.start()

    def _wait_until(self, moment: float) -> bool:
        """Sleep until ``moment``; False when the schedule was stopped first."""
        return not self._stop.wait(max(0.0, moment - time.time()))

    def _run(self) -> None:
        assert self.client_start is not None
        origin = self.client_start + self.ramp_s
        active: list[int] = []
        for index, fault in enumerate(self.faults):
            if not self._wait_until(origin + fault.spec.at_s):
                return
            self._inject(index)
            if fault.spec.for_s is not None:
                active.append(index)
        # Undo in time order of the windows' ends.
        for index in sorted(active, key=lambda i: self.faults[i].spec.ends_s):
            if not self._wait_until(origin + self.faults[index].spec.ends_s):
                return
            self._undo(index)

    def _inject(self, index: int) -> None:
        with self._lock:
            event = self.events[index]
            if event.injected_at is not None or self._stop.is_set():
                return
            try:
                event.said.append(self.faults[index].inject())
                event.injected_at = time.time()
            except FaultError as err:
                event.error = f"inject: {err}"

    def _undo(self, index: int) -> None:
        with self._lock:
            event = self.events[index]
            if event.injected_at is None or event.undone_at is not None or event.uncleared:
                return
            try:
                event.said.append(self.faults[index].undo())
                event.undone_at = time.time()
            except FaultError as err:
                event.error = f"undo: {err}"
                event.uncleared = not self.faults[index].cleared()
                if not event.uncleared:
                    event.undone_at = time.time()

    def finish(self) -> list[FaultEvent]:
        """Stop the schedule and undo what is still in place; the events."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
        for index in range(len(self.faults)):
            self._undo(index)
        return self.events

    def uncleared(self) -> list[tuple[Fault, FaultEvent]]:
        """Faults whose undo failed and which may still act."""
        return [
            (fault, event)
            for fault, event in zip(self.faults, self.events, strict=True)
            if event.uncleared
        ]
