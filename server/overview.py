"""``GET /api/v1/overview``: the UI's home (report/overview.py renders the same document
as the static site's index, with assets/overview.js).

Every key's row is kept in memory at the key's version and read back from the store's
summary cache after a restart (report.overview.cached_key_row), and the latest sessions
until a run is recorded or deleted, so a warm overview costs one query of the key
versions. A cold cache
(a long history never summarised) is filled over several requests, as ``/metrics`` fills
it: each request derives for at most ``budget_s`` (and at least one series summary);
the answer's ``pending`` counts the keys still waiting, and the UI asks again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from pytest_fioloadgen.report.overview import (
    DEFAULT_DAYS,
    KeyRow,
    Postponed,
    SessionCounts,
    cached_key_row,
    latest_sessions,
    overview_document,
)
from pytest_fioloadgen.store.base import Store
from pytest_fioloadgen.store.history_index import key_versions
from pytest_fioloadgen.verdicts.regression import DEFAULT_GATED_METRICS

from .metrics import REFRESH_BUDGET_S, Budget

#: The longest window of recent events an overview request may ask for, in days.
MAX_DAYS = 366


class OverviewRows:
    """Every history key's overview row at its current version, for one server."""

    def __init__(
        self, *, metrics: Sequence[str] = DEFAULT_GATED_METRICS, budget_s: float = REFRESH_BUDGET_S
    ) -> None:
        self.metrics = tuple(dict.fromkeys(metrics))
        self.budget_s = budget_s
        # history key -> (its version, its row); cleared when the server's store changes.
        self._known: dict[str, tuple[int, KeyRow]] = {}
        self._store: Store | None = None
        # The latest sessions, as of every key's version ("" too: unkeyed runs count).
        self._sessions: tuple[dict[str, int], list[SessionCounts]] | None = None
        # One refresh at a time: two concurrent ones would derive the same keys.
        self._lock = threading.Lock()

    def refresh(self, store: Store) -> tuple[list[KeyRow], list[SessionCounts], int]:
        """(the rows of every key, the latest sessions, how many keys are still pending
        after the budget)."""
        with self._lock:
            if store is not self._store:
                self._known, self._store, self._sessions = {}, store, None
            everything = key_versions(store)
            if self._sessions is not None and self._sessions[0] != everything:
                self._sessions = None  # a run was recorded or deleted: sessions changed
            versions = dict(everything)
            versions.pop("", None)  # runs without a key have no history to show
            known = self._known
            for key in [key for key in known if key not in versions]:
                del known[key]
            budget = Budget(self.budget_s)

            def may_derive() -> bool:
                if budget.spent:
                    return False
                budget.derived += 1
                return True

            pending = 0
            for key, version in versions.items():
                if key in known and known[key][0] == version:
                    continue
                try:
                    row = cached_key_row(
                        store, key, version, metrics=self.metrics, may_derive=may_derive
                    )
                except Postponed:
                    pending += 1
                    continue
                if row is not None:
                    known[key] = (version, row)
            if self._sessions is None:
                self._sessions = (everything, latest_sessions(store))
            # A changed key that is pending keeps its previous row until its turn.
            return [row for _version, row in known.values()], self._sessions[1], pending

    def document(self, store: Store, *, days: int = DEFAULT_DAYS) -> dict[str, Any]:
        rows, sessions, pending = self.refresh(store)
        return overview_document(rows, sessions, now=time.time(), days=days, pending=pending)
