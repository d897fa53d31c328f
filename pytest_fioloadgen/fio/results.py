"""fio's JSON (json+) output turned into a typed result, per worker and merged.

Two rules from FIOLoadGen's mistakes shape this module:

* A percentile over several workers comes from the *sum of their latency histograms*
  (the ``bins`` fio writes with ``--output-format=json+``), computed exactly the way fio
  computes its own percentiles; averaging per-worker percentiles is wrong. Output without
  bins (``--output-format=json``, as FIOLoadGen ran fio) keeps fio's own percentiles
  where one job measured a direction, and has none where several did.
* fio's "All clients" entry is not trusted (it has no histogram and is dropped when a job
  file has several sections); workers are merged here from their own entries.

Merged rates are the sum of the workers' rates (each worker's I/O over its own runtime).
fio's "All clients" divides all I/O by the longest runtime instead, which understates a
little when workers start a few milliseconds apart.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ResultError

MIB = 1024 * 1024
NS_PER_MS = 1_000_000.0

#: The percentiles the result model exposes, as (metric suffix, percentile).
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p95", 95.0),
    ("p99", 99.0),
    ("p999", 99.9),
)
DIRECTIONS = ("read", "write")

THROUGHPUT_METRICS: tuple[str, ...] = (
    "iops",
    "read_iops",
    "write_iops",
    "bw_mib_s",
    "read_bw_mib_s",
    "write_bw_mib_s",
    "iops_per_worker",
    "scaling_efficiency",
    # The latency-SLA search's answer (sla.py): highest IOPS whose p99 met its target.
    "sla_iops",
)
LATENCY_METRICS: tuple[str, ...] = tuple(
    f"{direction}_lat_{stat}_ms"
    for direction in DIRECTIONS
    for stat in ("mean", "p50", "p95", "p99", "p999", "max")
)
#: What a run's timeline adds (verdicts/validity.py), all lower-is-better: the worst
#: interval's p99 per direction, the seconds stalled, the workers' IOPS CV (percent).
TIMELINE_METRICS: tuple[str, ...] = (
    "read_lat_worst_p99_ms",
    "write_lat_worst_p99_ms",
    "stall_s",
    "worker_iops_cv_pct",
)
#: The phases of a run under a fault (verdicts/phases.py) and what each phase measures:
#: ``before_iops``, ``during_read_lat_p99_ms``...; then how deep the dip went (percent of
#: the before phase's IOPS) and how long the recovery took.
PHASES: tuple[str, ...] = ("before", "during", "recovery", "after")
PHASE_BASE_METRICS: tuple[str, ...] = (
    "iops",
    "bw_mib_s",
    "read_lat_mean_ms",
    "read_lat_p99_ms",
    "write_lat_mean_ms",
    "write_lat_p99_ms",
)
FAULT_METRICS: tuple[str, ...] = (
    *(f"{phase}_{metric}" for phase in PHASES for metric in PHASE_BASE_METRICS),
    "dip_pct",
    "recovery_s",
)
#: Every flat metric name of the user-facing contract.
METRIC_NAMES: tuple[str, ...] = (
    THROUGHPUT_METRICS + LATENCY_METRICS + TIMELINE_METRICS + FAULT_METRICS
)


def higher_is_better(metric: str) -> bool:
    """Throughput metrics improve upwards (in any phase), everything else downwards."""
    phase, _sep, base = metric.partition("_")
    return metric in THROUGHPUT_METRICS or (phase in PHASES and base in THROUGHPUT_METRICS)


def percentile_from_bins(bins: Mapping[int, int], percentile: float) -> float | None:
    """The latency (ns) at ``percentile`` of a fio latency histogram.

    Mirrors fio's ``calc_clat_percentiles``: walk the buckets in order and return the first
    bucket value at which the running count reaches ``percentile/100 * total``. Given one
    worker's bins this reproduces fio's own reported percentile exactly; given the sum of
    several workers' bins it is the true percentile of all their I/Os.
    """
    total = sum(bins.values())
    if total == 0:
        return None
    threshold = percentile / 100.0 * total
    running = 0
    for value in sorted(bins):
        running += bins[value]
        if running >= threshold:
            return float(value)
    return float(max(bins))


@dataclass(frozen=True)
class LatencyStats:
    """Completion latency (fio ``clat_ns``) of one direction, in milliseconds."""

    samples: int
    min_ms: float
    mean_ms: float
    max_ms: float
    percentiles_ms: Mapping[str, float]
    bins: Mapping[int, int] = field(repr=False, default_factory=dict)

    @property
    def p50_ms(self) -> float | None:
        return self.percentiles_ms.get("p50")

    @property
    def p95_ms(self) -> float | None:
        return self.percentiles_ms.get("p95")

    @property
    def p99_ms(self) -> float | None:
        return self.percentiles_ms.get("p99")

    @property
    def p999_ms(self) -> float | None:
        return self.percentiles_ms.get("p999")


@dataclass(frozen=True)
class DirectionStats:
    """Throughput and latency of reads or of writes."""

    iops: float
    bw_bytes_s: float
    io_bytes: int
    total_ios: int
    runtime_ms: int
    latency: LatencyStats | None

    @property
    def bw_mib_s(self) -> float:
        return self.bw_bytes_s / MIB


@dataclass(frozen=True)
class WorkerResult:
    """Everything one worker (one fio server) did in a run, its jobs summed."""

    host: str
    port: int | None
    jobs: int
    read: DirectionStats
    write: DirectionStats
    error: int = 0

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def iops(self) -> float:
        return self.read.iops + self.write.iops


@dataclass(frozen=True)
class RunResult:
    """A run merged over its workers. Every flat metric is also an attribute."""

    workers: tuple[WorkerResult, ...]
    read: DirectionStats
    write: DirectionStats
    metrics: Mapping[str, float]
    fio_version: str
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def __getattr__(self, name: str) -> float:
        # Only reached for names that are not real attributes: expose the flat metrics
        # (result.iops, result.read_lat_p99_ms) without a property per metric.
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return float(metrics[name])
        if name in METRIC_NAMES:
            raise AttributeError(f"metric {name!r} was not measured in this run")
        raise AttributeError(name)

    def with_metric(self, name: str, value: float) -> RunResult:
        """A copy with one more metric (e.g. scaling efficiency known only per session)."""
        merged = dict(self.metrics)
        merged[name] = value
        return RunResult(self.workers, self.read, self.write, merged, self.fio_version, self.raw)


def extract_json(output: str, *, source: str = "fio output") -> dict[str, Any]:
    """The JSON document in fio's stdout (see split_output)."""
    return split_output(output, source=source)[0]


def split_output(output: str, *, source: str = "fio output") -> tuple[dict[str, Any], str]:
    """The JSON document in fio's stdout and the text printed before it.

    fio writes warnings and errors ("<host> verify: bad magic header", "client <ip>: exited
    with error 1") to stdout ahead of the document, so parsing starts at the first line
    that opens a JSON object; the text before it is kept for error messages.
    """
    decoder = json.JSONDecoder()
    position = 0
    while True:
        start = output.find("{", position)
        if start < 0:
            break
        # A document starts at the beginning of a line; a '{' inside a warning is skipped.
        if start == 0 or output[start - 1] == "\n":
            try:
                document, _end = decoder.raw_decode(output, start)
            except json.JSONDecodeError:
                pass
            else:
                if isinstance(document, dict) and (
                    "client_stats" in document or "jobs" in document
                ):
                    return document, output[:start]
        position = start + 1
    preview = output.strip().splitlines()[:1]
    hint = f" (starts with {preview[0][:80]!r})" if preview else " (empty)"
    raise ResultError(f"{source} contains no fio JSON document{hint}")


def _job_entries(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Per-worker job entries: client_stats in client/server mode, jobs when run locally."""
    entries = document["client_stats"] if "client_stats" in document else document.get("jobs", [])
    return [entry for entry in entries if entry.get("jobname") != "All clients"]


def _bins(clat: Mapping[str, Any]) -> Counter[int]:
    return Counter({int(value): int(count) for value, count in clat.get("bins", {}).items()})


def _merge_latency(parts: Sequence[Mapping[str, Any]]) -> LatencyStats | None:
    """Merge fio clat_ns blocks (one per job) into one distribution."""
    parts = [part for part in parts if int(part.get("N", 0)) > 0]
    if not parts:
        return None
    samples = sum(int(part["N"]) for part in parts)
    bins: Counter[int] = Counter()
    for part in parts:
        bins.update(_bins(part))
    percentiles: dict[str, float] = {}
    if bins:
        for suffix, pct in PERCENTILES:
            value = percentile_from_bins(bins, pct)
            if value is not None:
                percentiles[suffix] = value / NS_PER_MS
    elif len(parts) == 1:
        # fio's json (not json+) has no bins: one job's own percentiles are still exact,
        # several jobs' cannot be merged (an average of percentiles is none).
        percentiles = _own_percentiles(parts[0])
    mean_ns = sum(float(part["mean"]) * int(part["N"]) for part in parts) / samples
    return LatencyStats(
        samples=samples,
        min_ms=min(float(part["min"]) for part in parts) / NS_PER_MS,
        mean_ms=mean_ns / NS_PER_MS,
        max_ms=max(float(part["max"]) for part in parts) / NS_PER_MS,
        percentiles_ms=percentiles,
        bins=dict(bins),
    )


def _own_percentiles(clat: Mapping[str, Any]) -> dict[str, float]:
    """fio's reported percentiles of one job (``"99.900000": ns``) at PERCENTILES."""
    reported = clat.get("percentile") or {}
    found: dict[str, float] = {}
    for suffix, pct in PERCENTILES:
        value = reported.get(f"{pct:.6f}")
        if value is not None:
            found[suffix] = float(value) / NS_PER_MS
    return found


def _merge_latency_stats(parts: Sequence[LatencyStats | None]) -> LatencyStats | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    if len(present) == 1:
        # Nothing to merge: keep it whole (its percentiles may be fio's own, binless).
        return present[0]
    as_fio = [
        {
            "N": part.samples,
            "min": part.min_ms * NS_PER_MS,
            "max": part.max_ms * NS_PER_MS,
            "mean": part.mean_ms * NS_PER_MS,
            "bins": part.bins,
        }
        for part in present
    ]
    return _merge_latency(as_fio)


def _direction(entries: Sequence[Mapping[str, Any]], direction: str) -> DirectionStats:
    """One worker's reads or writes over its jobs.

    Jobs in the same reporting group run concurrently, so their rates add up. Groups run
    one after another (stonewall / new_group), so over several groups the rate is the
    whole I/O over the whole time rather than a sum of rates that never coexisted.
    """
    blocks = [entry[direction] for entry in entries]
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for entry in entries:
        groups.setdefault(int(entry.get("groupid", 0)), []).append(entry[direction])
    io_bytes = sum(int(block.get("io_bytes", 0)) for block in blocks)
    total_ios = sum(int(block.get("total_ios", 0)) for block in blocks)
    group_runtimes = [max(int(b.get("runtime", 0)) for b in group) for group in groups.values()]
    runtime_ms = sum(group_runtimes)
    if len(groups) <= 1:
        iops = sum(float(block.get("iops", 0.0)) for block in blocks)
        bw = sum(float(block.get("bw_bytes", 0.0)) for block in blocks)
    else:
        seconds = runtime_ms / 1000.0
        iops = total_ios / seconds if seconds else 0.0
        bw = io_bytes / seconds if seconds else 0.0
    latency = _merge_latency([block.get("clat_ns", {}) for block in blocks])
    return DirectionStats(iops, bw, io_bytes, total_ios, runtime_ms, latency)


def _sum_directions(parts: Sequence[DirectionStats]) -> DirectionStats:
    """Workers run concurrently: their rates add up, their latencies merge."""
    return DirectionStats(
        iops=sum(part.iops for part in parts),
        bw_bytes_s=sum(part.bw_bytes_s for part in parts),
        io_bytes=sum(part.io_bytes for part in parts),
        total_ios=sum(part.total_ios for part in parts),
        runtime_ms=max((part.runtime_ms for part in parts), default=0),
        latency=_merge_latency_stats([part.latency for part in parts]),
    )


def _workers(entries: Iterable[Mapping[str, Any]]) -> list[WorkerResult]:
    by_worker: dict[tuple[str, int | None], list[Mapping[str, Any]]] = {}
    for entry in entries:
        port = entry.get("port")
        key = (str(entry.get("hostname", "local")), int(port) if port is not None else None)
        by_worker.setdefault(key, []).append(entry)
    workers = []
    for (host, port), worker_entries in by_worker.items():
        workers.append(
            WorkerResult(
                host=host,
                port=port,
                jobs=len(worker_entries),
                read=_direction(worker_entries, "read"),
                write=_direction(worker_entries, "write"),
                error=max(int(entry.get("error", 0)) for entry in worker_entries),
            )
        )
    return sorted(workers, key=lambda worker: (worker.host, worker.port or 0))


def flat_metrics(
    read: DirectionStats, write: DirectionStats, worker_count: int
) -> dict[str, float]:
    """The flat metric names (store.base.RunRecord.metrics) for merged figures."""
    metrics: dict[str, float] = {
        "iops": read.iops + write.iops,
        "read_iops": read.iops,
        "write_iops": write.iops,
        "bw_mib_s": read.bw_mib_s + write.bw_mib_s,
        "read_bw_mib_s": read.bw_mib_s,
        "write_bw_mib_s": write.bw_mib_s,
    }
    if worker_count:
        metrics["iops_per_worker"] = metrics["iops"] / worker_count
    for name, stats in (("read", read), ("write", write)):
        latency = stats.latency
        if latency is None:
            continue
        metrics[f"{name}_lat_mean_ms"] = latency.mean_ms
        metrics[f"{name}_lat_max_ms"] = latency.max_ms
        for suffix, value in latency.percentiles_ms.items():
            metrics[f"{name}_lat_{suffix}_ms"] = value
    return metrics


def worker_metrics(worker: WorkerResult) -> dict[str, float]:
    """The flat metrics of one worker on its own (for per-worker thresholds and tables)."""
    metrics = flat_metrics(worker.read, worker.write, 1)
    metrics.pop("iops_per_worker", None)
    return metrics


#: What a document of the wrong shape makes the parser raise (a list where a mapping
#: belongs, a string count, an infinite number turned into an int, zero samples).
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, ZeroDivisionError)


def parse_result(document: Mapping[str, Any]) -> RunResult:
    """Build the merged result from a fio JSON document (json or json+); a document of
    any other shape is a ResultError."""
    try:
        entries = _job_entries(document)
    except _MALFORMED as err:
        raise ResultError(f"fio output has malformed job results: {err!r}") from err
    if not entries:
        raise ResultError("fio output has no job results (no client_stats or jobs entries)")
    try:
        workers = _workers(entries)
        read = _sum_directions([worker.read for worker in workers])
        write = _sum_directions([worker.write for worker in workers])
        metrics = flat_metrics(read, write, len(workers))
    except _MALFORMED as err:
        raise ResultError(f"fio output is missing or has malformed field: {err!r}") from err
    return RunResult(
        workers=tuple(workers),
        read=read,
        write=write,
        metrics=metrics,
        fio_version=str(document.get("fio version", "")),
        raw=document,
    )
