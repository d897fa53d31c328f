"""Reading long histories cheaply: per-key versions, metric series, a summary cache.

Views of the history (the server's history API, ``fioloadgen history``, the static site)
need a key's series of one metric, and things derived from the whole series (change
points, the baseline band) that are too costly to derive on every request. A store that
can answer these directly implements ``HistoryIndex`` (the sqlite store does, from its
tables); for any other store the functions here fall back to ``Store.query``, correct and
uncached.

A key's **version** changes whenever one of its runs is recorded or deleted (sqlite keeps
it with triggers, so no writer can forget). A summary is cached with the version it was
computed at and is valid only while the key still has that version: "the summary of key K
as of its newest run", recomputed lazily the first time it is asked for after a change.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .base import RunRecord, Store


@dataclass(frozen=True)
class SeriesPoint:
    """One run of a key as a series needs it: no fingerprint, no profile, no raw document."""

    run_id: str
    started_at: float
    #: The metric's value; NaN when the run has no such figure (a failed run).
    value: float
    status: str
    verdict: str | None = None
    session_id: str = ""
    test_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, run: RunRecord, metric: str, *, copy_labels: bool = True) -> SeriesPoint:
        """The point of ``run`` for ``metric``; ``copy_labels=False`` shares the run's
        labels (a caller making many points of one run, none of them changed)."""
        return cls(
            run.run_id,
            run.started_at,
            float(run.metrics.get(metric, math.nan)),
            run.status,
            run.verdict,
            run.session_id,
            run.test_id,
            dict(run.labels) if copy_labels else run.labels,
        )

    @property
    def usable(self) -> bool:
        """A completed run with a finite figure: what trends and change points use."""
        return self.status == "complete" and math.isfinite(self.value)


@dataclass(frozen=True)
class SeriesRead:
    """A key's series of one metric, newest first, and the key's version when it was read."""

    points: list[SeriesPoint]
    #: None when the store keeps no versions (nothing derived from it can be cached).
    version: int | None
    #: Whether ``points`` is the whole history of the key (no limit cut it).
    whole: bool


@dataclass(frozen=True)
class KeyInfo:
    """A history key as listings show it: its newest run's case and its run counts."""

    history_key: str
    profile_name: str
    workers: int
    backend: str
    target: str
    runs: int
    complete: int
    newest_run_id: str
    newest_started_at: float
    version: int


@runtime_checkable
class HistoryIndex(Protocol):
    """What a store offers beyond ``Store`` so that long histories stay cheap to show."""

    def key_versions(self) -> dict[str, int]:
        """Every history key that has runs with its current version ("" for unkeyed runs)."""

    def history_keys(self, *, profile_name: str | None = None) -> list[KeyInfo]:
        """Every key (of one profile, or all) with runs, newest key first; runs without
        a key are not listed."""

    def metric_series(
        self, history_key: str, metric: str, *, limit: int | None = None
    ) -> SeriesRead:
        """The key's runs newest first (the newest ``limit``), read with the key's version."""

    def cached_summary(self, history_key: str, name: str) -> tuple[int, Any | None]:
        """(the key's version, the summary ``name`` cached at that version or None)."""

    def store_summary(self, history_key: str, name: str, version: int, document: Any) -> bool:
        """Cache a summary computed at ``version``; refused (False) once the key moved on
        or when the store cannot be written (a read-only history still works, uncached)."""


def history_index(store: Store) -> HistoryIndex | None:
    """The store itself when it implements the index, else None (use the fallbacks)."""
    return store if isinstance(store, HistoryIndex) else None


def metric_series(
    store: Store, history_key: str, metric: str, *, limit: int | None = None
) -> SeriesRead:
    """``HistoryIndex.metric_series`` of any store."""
    index = history_index(store)
    if index is not None:
        return index.metric_series(history_key, metric, limit=limit)
    runs = store.query(history_key=history_key, limit=limit)
    whole = limit is None or len(runs) < limit
    return SeriesRead([SeriesPoint.of(run, metric) for run in runs], None, whole)


def key_versions(store: Store) -> dict[str, int]:
    """``HistoryIndex.key_versions`` of any store (the fallback reads every run's id)."""
    index = history_index(store)
    if index is not None:
        return index.key_versions()
    infos = keys_of_runs(store.query(), unkeyed=True)
    return {info.history_key: info.version for info in infos}


def history_keys(store: Store, *, profile_name: str | None = None) -> list[KeyInfo]:
    """``HistoryIndex.history_keys`` of any store."""
    index = history_index(store)
    if index is not None:
        return index.history_keys(profile_name=profile_name)
    return keys_of_runs(store.query(profile_name=profile_name))


def keys_of_runs(runs: Sequence[RunRecord], *, unkeyed: bool = False) -> list[KeyInfo]:
    """Key listings from runs already read (newest first); the version is a digest of the
    key's run ids and statuses, so it changes when a run is recorded or deleted. Runs
    without a key (key "") are listed only when ``unkeyed`` is true."""
    grouped: dict[str, list[RunRecord]] = {}
    for run in runs:
        if run.history_key or unkeyed:
            grouped.setdefault(run.history_key, []).append(run)
    infos = []
    for key, members in grouped.items():
        newest = max(members, key=lambda run: (run.started_at, run.run_id))
        digest = zlib.crc32(
            "\n".join(sorted(f"{run.run_id} {run.status}" for run in members)).encode()
        )
        infos.append(
            KeyInfo(
                key,
                newest.profile_name,
                newest.workers,
                newest.backend,
                newest.target,
                len(members),
                sum(run.status == "complete" for run in members),
                newest.run_id,
                newest.started_at,
                digest,
            )
        )
    infos.sort(key=lambda info: (info.newest_started_at, info.history_key), reverse=True)
    return infos
