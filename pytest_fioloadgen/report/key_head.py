"""What every per-key view says of a history key first: who the key is (test, profile,
workers, backend, target) and its newest run (id, start, stored verdict).

The overview's rows (report/overview.KeyRow) and the /metrics export's states
(server/metrics.KeyState) both begin with it: derived from the newest run here, and
written to and read from their caches here, so the two views cannot name a key or its
verdict differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..store.base import RunRecord
from ..verdicts.status import Status


@dataclass(frozen=True)
class KeyHead:
    history_key: str
    test: str
    profile: str
    workers: int
    backend: str
    target: str
    newest_run_id: str
    newest_started_at: float
    #: The stored verdict of the key's newest run (verdicts.status; none when unset).
    verdict: str

    @staticmethod
    def of(history_key: str, newest: RunRecord) -> dict[str, Any]:
        """The head's fields from the key's newest run (keyword arguments for a view's
        own dataclass, which extends KeyHead)."""
        return {
            "history_key": history_key,
            "test": newest.test_id,
            "profile": newest.profile_name,
            "workers": newest.workers,
            "backend": newest.backend,
            "target": newest.target,
            "newest_run_id": newest.run_id,
            "newest_started_at": newest.started_at,
            "verdict": Status.parse(newest.verdict).value,
        }

    def head_json(self) -> dict[str, Any]:
        return {
            "history_key": self.history_key,
            "test": self.test,
            "profile": self.profile,
            "workers": self.workers,
            "backend": self.backend,
            "target": self.target,
            "newest_run_id": self.newest_run_id,
            "newest_started_at": self.newest_started_at,
            "verdict": self.verdict,
        }

    @staticmethod
    def from_head_json(document: Mapping[str, Any]) -> dict[str, Any]:
        """The head's fields read back from a cached document (``head_json``'s keys)."""
        return {
            "history_key": str(document["history_key"]),
            "test": str(document["test"]),
            "profile": str(document["profile"]),
            "workers": int(document["workers"]),
            "backend": str(document["backend"]),
            "target": str(document["target"]),
            "newest_run_id": str(document["newest_run_id"]),
            "newest_started_at": float(document["newest_started_at"]),
            "verdict": str(document["verdict"]),
        }
