"""The data a case reads is in place before it is measured: with ``--fio-prefill`` a
read-only profile's whole data set is written first; otherwise a read's files are at
least laid out, once per target, by one fio round over every worker of the target.

A fio client round costs one to two seconds whatever it does (fio's own start-up and
shutdown: raw ``fio --client`` pays it too, once per run), so the layout rounds of the
reads the session has planned on a target run together, concurrently, when the first
of them is due: one round's time instead of one per profile."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .backends.base import Backend, Environment, RunsClientHere, Worker
from .cases import Case
from .fio.runner import UNKNOWN_RUNTIME_S
from .profiles import Profile
from .profiles.caps import disk_need

#: The most layout rounds run at once (each is a fio client process, and a process per
#: worker on each server).
MAX_CONCURRENT_LAYOUTS = 8


@dataclass(frozen=True)
class LayoutRoom:
    """What the target's file system can take now: bytes that may still be laid out
    (free space less the disk margin) and the number of workers every layout covers."""

    bytes: int
    workers: int


@dataclass
class DataLayout:
    """What this session has written or laid out already (each once)."""

    backend: Backend
    #: --fio-prefill: write a read-only profile's whole data set before it is read.
    prefill: bool = False
    _done: set[tuple[str, int, str]] = field(default_factory=set)

    def ensure(
        self,
        env: Environment,
        case: Case,
        profile: Profile,
        workers: Sequence[Worker],
        *,
        upcoming: Callable[[], Sequence[Profile]] = tuple,
        room: Callable[[], LayoutRoom | None] = lambda: None,
    ) -> None:
        """Before a read runs on a target and worker count, have its files written (with
        --fio-prefill, a read-only profile's whole data set) or at least laid out, once:
        then every worker's measurement starts together, none after its own layout.

        ``upcoming``: the profiles (as they will run) of the reads still planned on this
        target; their layouts join this round, as long as they fit in ``room()`` (None:
        the free space is unknown, and each read is laid out on its own). Both are asked
        only when a layout is due."""
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
        batch = [(done, writer)]
        # Concurrent rounds only where the client runs here: they are processes on this
        # machine (a Kubernetes backend's client is a pod of its own).
        space = room() if done[1] == 0 and isinstance(self.backend, RunsClientHere) else None
        if space is not None:
            batch += self._joining(case.target, writer, upcoming(), space)
        if len(batch) == 1:
            self._run(env, writer, workers)
        else:
            with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                futures = [pool.submit(self._run, env, layout, workers) for _d, layout in batch]
                # This case's own layout decides (its failure is the case's); another
                # read's failed layout is tried again, alone, when that read runs.
                futures[0].result()
                for (key, _layout), future in zip(batch[1:], futures[1:], strict=True):
                    if future.exception() is None:
                        self._done.add(key)
        self._done.add(done)

    def _run(self, env: Environment, writer: Profile, workers: Sequence[Worker]) -> None:
        self.backend.run_job(env, writer.render(), workers, expected_runtime_s=UNKNOWN_RUNTIME_S)

    def _joining(
        self, target: str, first: Profile, upcoming: Sequence[Profile], room: LayoutRoom
    ) -> list[tuple[tuple[str, int, str], Profile]]:
        """The layouts of planned reads that can run with ``first``: not done yet, no job
        name shared with another layout of the round (fio names files after jobs), and
        all of them together within ``room``."""
        names = {job.name for job in first.jobs()}
        left = room.bytes - disk_need(first).bytes * room.workers
        chosen: list[tuple[tuple[str, int, str], Profile]] = []
        keys = {first.content_hash}
        for profile in upcoming:
            if len(chosen) + 1 >= MAX_CONCURRENT_LAYOUTS:
                break
            if not profile.reads or (self.prefill and profile.is_read_only):
                continue
            layout = profile.as_layout()
            key = (target, 0, layout.content_hash)
            jobs = {job.name for job in layout.jobs()}
            need = disk_need(layout)
            if key in self._done or layout.content_hash in keys or jobs & names:
                continue
            if need.fills is not None or need.bytes * room.workers > left:
                continue
            left -= need.bytes * room.workers
            names |= jobs
            keys.add(layout.content_hash)
            chosen.append((key, layout))
        return chosen
