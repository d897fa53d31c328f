"""What a history store keeps and the contract every store implementation honours."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..exceptions import StoreError

#: Run states. A run that fio could not complete is still recorded ("failed") so the
#: history shows that it happened and why.
RUN_STATUSES = ("complete", "failed")


@dataclass(frozen=True)
class RunRecord:
    """One fio run of one case, as it is stored and as every consumer reads it back.

    ``metrics`` holds the flat metric names of DESIGN.md (``iops``, ``read_lat_p99_ms``...).
    ``raw`` is the fio JSON document the metrics came from (stored compressed).
    ``notes`` records what the harness changed in the profile before running it, e.g. a
    ``directory=`` replaced by the worker's directory.
    """

    run_id: str
    session_id: str
    profile_name: str
    profile_hash: str
    profile_text: str
    workers: int
    backend: str
    target: str
    started_at: float
    finished_at: float
    status: str = "complete"
    metrics: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = ()
    repeat: int = 0
    test_id: str = ""
    verdict: str | None = None
    error: str = ""
    #: Which runs this one may be compared with (see pytest_fioloadgen.history).
    history_key: str = ""


BASELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Baseline:
    """A named, pinned set of runs that later runs are compared with (--fio-baseline NAME)."""

    name: str
    run_ids: tuple[str, ...]
    created_at: float
    note: str = ""


def check_baseline_name(name: str) -> str:
    """Baseline names travel in URLs and CLI arguments: a restricted, path-free alphabet."""
    if not BASELINE_NAME.match(name):
        raise StoreError(
            f"baseline name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    return name


@runtime_checkable
class Store(Protocol):
    """A history store, chosen by URI scheme (see ``pytest_fioloadgen.store.open_store``)."""

    uri: str

    def record(self, run: RunRecord) -> None:
        """Store a run; a run_id already present is an error (runs are immutable)."""

    def get(self, run_id: str) -> RunRecord:
        """Return one run; raise StoreError naming the id when it is unknown."""

    def query(
        self,
        *,
        profile_name: str | None = None,
        profile_hash: str | None = None,
        workers: int | None = None,
        backend: str | None = None,
        target: str | None = None,
        session_id: str | None = None,
        history_key: str | None = None,
        labels: Mapping[str, str] | None = None,
        status: str | None = None,
        limit: int | None = None,
        with_raw: bool = False,
    ) -> list[RunRecord]:
        """Runs matching every given filter, newest first (by started_at, then run_id).

        ``labels`` matches runs carrying all the given key=value pairs. ``raw`` is only
        loaded when ``with_raw`` is true, so listing long histories stays cheap.
        """

    def delete(self, run_id: str) -> bool:
        """Remove one run; return whether it existed."""

    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        """Create or replace the named baseline; every run id must exist (StoreError)."""

    def get_baseline(self, name: str) -> Baseline:
        """The named baseline; StoreError naming it when unknown."""

    def baselines(self) -> list[Baseline]:
        """Every baseline, by name."""

    def delete_baseline(self, name: str) -> bool:
        """Remove a baseline (not its runs); return whether it existed."""

    def close(self) -> None:
        """Release files and connections; the store is unusable afterwards."""
