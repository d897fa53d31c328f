"""fio's steady-state detection (``steadystate``, ``ss_dur``, ``ss_ramp``) as run facts.

fio stops a job early once its IOPS or bandwidth has settled (the criterion held for
``ss_dur``) and reports per job whether that happened (``steadystate.attained``). A job
that ran out of runtime without settling measured a moving target: the session notes it
and the case is flagged ``unstable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SteadyState:
    """Whether each job of a run that asked for steady state reached it."""

    criterion: str
    reached: tuple[str, ...]
    missed: tuple[str, ...]

    @property
    def attained(self) -> bool:
        return not self.missed

    def note(self) -> str:
        if self.attained:
            return f"steady state reached ({self.criterion}) by {len(self.reached)} job(s)"
        return (
            f"steady state not reached ({self.criterion}) by {', '.join(self.missed)}: the"
            " figures were still moving when the runtime ended"
        )


def steady_state(document: Mapping[str, Any]) -> SteadyState | None:
    """The steady-state outcome of a fio JSON document; None when no job asked for it."""
    entries = document.get("client_stats") or document.get("jobs") or []
    reached: list[str] = []
    missed: list[str] = []
    criterion = ""
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("jobname") == "All clients":
            continue
        state = entry.get("steadystate")
        if not isinstance(state, Mapping):
            continue
        criterion = str(state.get("ss", criterion))
        where = str(entry.get("hostname") or "")
        name = f"{entry.get('jobname', '?')}{'@' + where if where else ''}"
        (reached if state.get("attained") else missed).append(name)
    if not reached and not missed:
        return None
    return SteadyState(criterion, tuple(reached), tuple(missed))
