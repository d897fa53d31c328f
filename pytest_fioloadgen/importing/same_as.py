"""``--same-as``: the importer's assertion that imported runs measured the same thing as
runs already in the store, so they are filed under those runs' history key.

Either a run id (its key), or ``PROFILE@TARGET``: the key of the newest completed run
made here (not imported) of that profile on that target with the imported run's worker
count. A key is only taken from a run of the same worker count: runs of other counts are
never comparable, and an import that says otherwise is refused run by run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..exceptions import SourceError
from ..store.base import RunRecord, Store
from .marks import IMPORTED_FROM


@dataclass
class SameAs:
    store: Store
    spec: str
    _run: RunRecord | None = None
    _keys: dict[int, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "@" not in self.spec:
            self._run = self.store.get(self.spec)  # StoreError naming it when unknown

    def key_for(self, workers: int) -> tuple[str, str]:
        """(history key, the note saying why) for an imported run of ``workers``."""
        if workers not in self._keys:
            self._keys[workers] = self._resolve(workers)
        return self._keys[workers]

    def _resolve(self, workers: int) -> tuple[str, str]:
        if self._run is not None:
            run = self._run
            if run.workers != workers:
                raise SourceError(
                    f"--same-as {run.run_id}: that run had {run.workers} worker(s), this"
                    f" one {workers}: never the same measurement"
                )
            return run.history_key, (
                f"filed under history key {run.history_key} of run {run.run_id}"
                " (--same-as): the importer asserted that they measured the same thing"
            )
        profile, _, target = self.spec.partition("@")
        for run in self.store.query(
            profile_name=profile, target=target, workers=workers, status="complete"
        ):
            if IMPORTED_FROM not in run.labels and run.history_key:
                return run.history_key, (
                    f"filed under history key {run.history_key} of profile {profile!r} on"
                    f" target {target!r} (--same-as, newest run {run.run_id}): the"
                    " importer asserted that they measured the same thing"
                )
        raise SourceError(
            f"--same-as {self.spec}: the store has no completed run of profile {profile!r}"
            f" on target {target!r} with {workers} worker(s) made here"
        )
