"""Where a case's baseline comes from: the key's latest runs in the history (``auto``,
optionally only runs with the baseline labels), or the runs of a pinned baseline; never
the current session's own runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from .store.base import RunRecord, Store
from .verdicts.gating import GatingPolicy


@dataclass
class BaselineSource:
    """The baseline runs of a history key for one session."""

    store: Store | None
    gating: GatingPolicy
    session_id: str
    _pinned: list[RunRecord] | None = field(default=None, init=False)

    def samples(self, key: str, in_session: int) -> list[RunRecord]:
        """Runs of ``key`` the current runs are compared with; ``in_session`` is how many
        runs of the key this session already stored (they are skipped, not counted)."""
        if self.store is None or not self.gating.enabled:
            return []
        if self.gating.baseline != "auto":
            return [run for run in self._pinned_runs() if run.history_key == key]
        recent = self.store.query(
            history_key=key,
            status="complete",
            labels=dict(self.gating.baseline_labels) or None,
            limit=self.gating.window + in_session + 1,
        )
        others = [run for run in recent if run.session_id != self.session_id]
        return others[: self.gating.window]

    def _pinned_runs(self) -> list[RunRecord]:
        if self._pinned is None:
            assert self.store is not None
            baseline = self.store.get_baseline(self.gating.baseline)
            self._pinned = [self.store.get(run_id) for run_id in baseline.run_ids]
        return self._pinned
