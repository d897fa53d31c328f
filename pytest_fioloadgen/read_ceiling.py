"""Did a read come from a cache rather than the storage? The read ceiling of each target
(probed, configured or this session's own sequential read) and the judgement of a result
against it.

Only a *buffered* read is flagged by bandwidth. A ``direct=1`` read bypasses this
machine's page cache, so bandwidth above a ceiling cannot prove a cache hit: on a VM the
hypervisor's cache serves direct reads of recent data at a speed that varies from one
second to the next (seen in CI: a direct read at 2.1 GB/s against a one-second probe at
1.35 GB/s on the same disk). Such a read gets a weaker ``host cache?`` note instead, which
changes no flag and no verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .cases import CaseOutcome
from .fio.results import RunResult
from .profiles import Profile, parse_profile

#: The read-ceiling probe: sequential direct reads in 1 MiB blocks at a queue depth most
#: devices saturate at, for one whole second over a 64 MiB file (time_based: a size-bound
#: read of 64 MiB is over in ~50 ms, mostly start-up, and reads low). What it measures is
#: the most the target's direct-I/O path delivers, caches below the page cache included.
READ_PROBE = """[global]
ioengine=libaio
direct=1
rw=read
bs=1m
iodepth=16
size=64m
runtime=1
time_based
[fioloadgen-read-probe]
"""
READ_PROBE_NAME = "fioloadgen-read-probe"
READ_PROBE_RUNTIME_S = 1.0
#: How far above the probe a read must be to be flagged: a one-second probe is noisy
#: (IOPS CV reaches 30 % on busy VMs) and random reads never beat sequential ones on media.
READ_PROBE_MARGIN = 1.5
#: The prefix of the weaker note a direct read beyond the ceiling gets.
HOST_CACHE_NOTE = "host cache?"


@dataclass(frozen=True)
class CacheSuspicion:
    """What a read's bandwidth says about caches: a flag (buffered reads only) or a note."""

    #: A buffered read beyond the ceiling: it was served by the page cache ("cache?").
    flag: str = ""
    #: A direct read beyond the ceiling: perhaps a cache below the page cache served it.
    host_note: str = ""


@dataclass
class ReadCeilings:
    """Each target's read ceiling for one session, and the cache judgement of reads."""

    #: A ceiling (MiB/s) the user configured (--fio-read-ceiling): no probe then.
    configured: float | None = None
    #: Whether a probe measures a target's ceiling before its first buffered read.
    probe: bool = False
    _sequential: dict[str, float] = field(default_factory=dict)
    _probed: dict[tuple[str, int], float] = field(default_factory=dict)

    def wants_probe(self, target: str, workers: int, profile: Profile) -> bool:
        """Whether to probe ``target`` with ``workers`` before running ``profile``: only a
        buffered read can be flagged, so only one needs the ceiling, once per target and
        worker count."""
        return (
            self.probe
            and not self.configured
            and profile.reads_buffered
            and (target, workers) not in self._probed
        )

    def record_probe(self, target: str, workers: int, result: RunResult) -> None:
        """Keep what the probe read on ``target`` with ``workers`` workers."""
        self._probed[(target, workers)] = result.metrics.get("read_bw_mib_s", 0.0)

    def probe_before(
        self,
        target: str,
        workers: int,
        profile: Profile,
        run_probe: Callable[[Profile], RunResult],
    ) -> None:
        """Measure what ``target`` can physically read with ``workers`` workers (the
        probe profile run by ``run_probe``), once, before the first buffered read there:
        a read beyond it came from a cache."""
        if self.wants_probe(target, workers, profile):
            probe = parse_profile(READ_PROBE, name=READ_PROBE_NAME)
            self.record_probe(target, workers, run_probe(probe))

    def suspects(self, outcomes: Sequence[CaseOutcome]) -> list[tuple[CaseOutcome, str]]:
        """Buffered reads flagged as likely cache hits: at run time, or against a
        sequential-read ceiling measured later in the session (profiles do not run in
        that order)."""
        found = []
        for outcome in outcomes:
            note = outcome.cache_note
            if not note and not outcome.profile_as_run.is_sequential_read:
                case = outcome.case
                note = self.judge(
                    case.target, case.workers, outcome.profile_as_run, outcome.result
                ).flag
            if note:
                found.append((outcome, note))
        return found

    def judge(
        self, target: str, workers: int, profile: Profile, result: RunResult
    ) -> CacheSuspicion:
        """Judge a read against the ceiling known now; a sequential read raises the
        target's session ceiling instead of being judged."""
        read_bw = result.metrics.get("read_bw_mib_s", 0.0)
        if profile.is_sequential_read:
            self._sequential[target] = max(self._sequential.get(target, 0.0), read_bw)
            return CacheSuspicion()
        sequential = self._sequential.get(target, 0.0)
        probed = self._probed.get((target, workers), 0.0) * READ_PROBE_MARGIN
        ceiling = self.configured or max(sequential, probed)
        if not ceiling or read_bw <= ceiling:
            return CacheSuspicion()
        if self.configured:
            source = "configured"
        elif probed >= sequential:
            source = (
                f"direct-I/O probe's ({probed / READ_PROBE_MARGIN:.1f} MiB/s x "
                f"{READ_PROBE_MARGIN:g} margin, {workers} worker(s))"
            )
        else:
            source = "this session's sequential read"
        beyond = f"read {read_bw:.1f} MiB/s exceeds the {source} ceiling {ceiling:.1f} MiB/s"
        if profile.reads_buffered:
            return CacheSuspicion(flag=f"likely cache hit: {beyond} of target {target!r}")
        return CacheSuspicion(
            host_note=(
                f"{HOST_CACHE_NOTE} direct {beyond} of target {target!r}: direct I/O bypasses"
                " this machine's page cache, so a cache below it (a hypervisor's, a"
                " controller's) may have served it; not flagged"
            )
        )
