"""The data a case reads is in place before it is measured: with ``--fio-prefill`` a
read-only profile's whole data set is written first; otherwise a read's files are at
least laid out, once per target, by one fio round over every worker of the target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .backends.base import Backend, Environment, Worker
from .cases import Case
from .fio.runner import UNKNOWN_RUNTIME_S
from .profiles import Profile


@dataclass
class DataLayout:
    """What this session has written or laid out already (each once)."""

    backend: Backend
    #: --fio-prefill: write a read-only profile's whole data set before it is read.
    prefill: bool = False
    _done: set[tuple[str, int, str]] = field(default_factory=set)

    def ensure(
        self, env: Environment, case: Case, profile: Profile, workers: Sequence[Worker]
    ) -> None:
        """Before a read runs on a target and worker count, have its files written (with
        --fio-prefill, a read-only profile's whole data set) or at least laid out, once:
        then every worker's measurement starts together, none after its own layout."""
        if self.prefill and profile.is_read_only:
            writer = profile.as_prefill()
            done = (case.target, case.workers, writer.content_hash)
        elif profile.reads and not workers[0].device:
            # fio lays out a read's files before the job starts, each worker on its own:
            # under load one worker's layout takes longer and its measurement starts late
            # (seen here: up to 0.75 s apart; under 20 ms with the files laid out first).
            # One round lays out every worker of the target: a fio client round costs
            # about 1.4 s whatever it does, so larger worker counts reuse these files.
            writer = profile.as_layout()
            workers = self.backend.resolve(env, case.target, len(env.workers[case.target]))
            done = (case.target, 0, writer.content_hash)
        else:
            return
        if done in self._done:
            return
        self.backend.run_job(env, writer.render(), workers, expected_runtime_s=UNKNOWN_RUNTIME_S)
        self._done.add(done)
