"""Every run over time: exact cluster-wide latency percentiles per interval.

Each worker's histogram logs (histlog.py, made exact against json+) are placed on one
grid anchored at the client's start on the harness's clock: interval ``i`` covers
``(start + i*I, start + (i+1)*I]`` and a log row goes to the interval holding its end time
(a row covers the time since the job's previous row). Hosts with their own clocks are
shifted by their measured offset first. A row that spans several intervals (fio's
catch-up row after a stall) is not split: its interval is marked. Per interval and
direction the workers' bins are *summed* and percentiles computed from the sum exactly as
the run's merged percentiles are (never an average of percentiles); the sum of every
interval is the run's json+ histogram, bin for bin.

The timeline is stored in the run's raw document under ``raw["fioloadgen"]["timeline"]``:

``{"format": 1, "interval_ms": I, "client_start_ms": C, "start_s": s, "intervals": n,
"coarseness": c, "bins_coarseness": b, "merged": {"read": {"ios": [...], "bytes": [...],
"p50": [...], "p90": ..., "p99": ..., "p999": ..., "max": ...}, "write": ...},
"workers": {name: {"host": h, "first": i, "last": j, "final": k, "read": {...}}},
"spanning": {"i": span_ms}, "hosts": {h: {"offset_ms": o, "uncertainty_ms": u}},
"bins": {"read": "<base64 zlib varints: each interval's range of columns>"}, "notes": [...]}``

Times are seconds since the client started: interval ``i`` ends at ``start_s + (i+1)*I``.
Latencies are milliseconds; a percentile is null when its interval holds fewer than
10/(1-p) I/Os (p99 needs 1,000, p99.9 10,000).
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .histlog import (
    BUCKET_VALUES_NS,
    DIRECTIONS,
    MAX_COARSENESS,
    PLAT_NR,
    Counts,
    HistLogReader,
    LogTooLarge,
    Stream,
    coarse_value_ns,
    coarsen,
    job_totals,
    reconcile,
    worst_relative_error,
)
from .timeseries import LOG_PREFIX, RAW_KEY

TIMELINE_FORMAT = 1
#: The percentile ladder of every interval, as (series name, percentile); "max" besides.
LADDER: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p999", 99.9),
)
#: The coarseness the merged bins are stored at: 928 columns, percentiles within 1.6 %.
STORED_COARSENESS = 1
#: A row spanning more than this many intervals is a catch-up row (marked, not split).
SPANNING_FACTOR = 1.5
NS_PER_MS = 1_000_000.0
DIRECTION_NAMES = tuple(DIRECTIONS.values())


def min_ios(percentile: float) -> int:
    """The fewest I/Os an interval needs for ``percentile`` to mean anything: 10/(1-p)."""
    return math.ceil(round(10.0 / (1.0 - percentile / 100.0), 6))


_MIN_IOS = {name: min_ios(percentile) for name, percentile in LADDER}


def _values_ns(coarseness: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    if coarseness == 0:
        return np.asarray(BUCKET_VALUES_NS, dtype=np.float64)
    return np.asarray(
        [coarse_value_ns(column, coarseness) for column in range(PLAT_NR >> coarseness)],
        dtype=np.float64,
    )


_VALUES: dict[int, np.ndarray[Any, np.dtype[np.float64]]] = {}


def column_values_ns(coarseness: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The latency (ns) each histogram column stands for at ``coarseness``."""
    if coarseness not in _VALUES:
        _VALUES[coarseness] = _values_ns(coarseness)
    return _VALUES[coarseness]


def percentiles_of(
    counts: Counts,
    coarseness: int,
    ladder: Sequence[tuple[str, float]] = LADDER,
    *,
    enough_ios: bool = True,
) -> dict[str, float | None]:
    """The ``ladder`` and the max (ms) of one histogram, computed as fio computes its own
    percentiles (the first bucket whose running count reaches p/100 of the total). With
    ``enough_ios`` a percentile with fewer than 10/(1-p) I/Os behind it is None."""
    total = int(counts.sum())
    stats: dict[str, float | None] = {name: None for name, _ in ladder}
    stats["max"] = None
    if total == 0:
        return stats
    values = column_values_ns(coarseness)
    running = np.cumsum(counts)
    for name, percentile in ladder:
        if enough_ios and total < min_ios(percentile):
            continue
        index = int(np.searchsorted(running, percentile / 100.0 * total, side="left"))
        stats[name] = _ms(values[min(index, values.size - 1)])
    stats["max"] = _ms(values[int(np.flatnonzero(counts)[-1])])
    return stats


def ladder_rows(
    matrix: np.ndarray[Any, np.dtype[np.int64]], coarseness: int
) -> list[dict[str, float | None]]:
    """percentiles_of for every row of ``matrix`` (intervals x columns) at once: one
    cumulative sum for them all, then each percentile's first column per row."""
    values = column_values_ns(coarseness)
    totals = matrix.sum(axis=1)
    running = np.cumsum(matrix, axis=1)
    found: dict[str, list[float]] = {}
    for name, percentile in LADDER:
        threshold = percentile / 100.0 * totals
        columns = np.argmax(running >= threshold[:, None], axis=1)
        found[name] = np.round(values[columns] / NS_PER_MS, 6).tolist()
    last = matrix.shape[1] - 1 - np.argmax(matrix[:, ::-1] > 0, axis=1)
    maxima = np.round(values[last] / NS_PER_MS, 6).tolist()
    needs = [(name, _MIN_IOS[name]) for name, _ in LADDER]
    rows: list[dict[str, float | None]] = []
    for index, total in enumerate(totals.tolist()):
        row: dict[str, float | None] = {
            name: found[name][index] if total >= needed else None for name, needed in needs
        }
        row["max"] = maxima[index] if total else None
        rows.append(row)
    return rows


def _ms(value_ns: float) -> float:
    return round(float(value_ns) / NS_PER_MS, 6)


@dataclass(frozen=True)
class HostClock:
    """A host's clock against the harness's: ``offset_ms`` = host minus harness, known
    within ``uncertainty_ms`` (0 for this machine's own clock)."""

    offset_ms: float = 0.0
    uncertainty_ms: float = 0.0


def estimate_clock(
    streams: Sequence[Stream], interval_ms: int, client_span_ms: tuple[float, float]
) -> HostClock:
    """A host's clock offset from its own log times: its jobs ran within the client's
    lifetime, so ``first window start - offset >= client start`` and ``last row -
    offset <= client end``. The offset is the middle of what those allow, its
    uncertainty half their width (the client's start-up and teardown around the run)."""
    started = min(stream.times_ms[0] for stream in streams if stream.times_ms) - interval_ms
    ended = max(stream.times_ms[-1] for stream in streams if stream.times_ms)
    client_start, client_end = client_span_ms
    low, high = ended - client_end, started - client_start
    if high < low:  # the logs span longer than the client ran: trust the middle only
        low = high = (low + high) / 2.0
    return HostClock(offset_ms=(low + high) / 2.0, uncertainty_ms=(high - low) / 2.0)


@dataclass
class _Placed:
    """One worker's histograms on the grid (interval index -> counts), per direction."""

    counts: dict[str, dict[int, Counts]] = field(
        default_factory=lambda: {direction: {} for direction in DIRECTION_NAMES}
    )
    io_bytes: dict[str, dict[int, int]] = field(
        default_factory=lambda: {direction: {} for direction in DIRECTION_NAMES}
    )
    row_intervals: set[int] = field(default_factory=set)
    final_intervals: set[int] = field(default_factory=set)
    spanning: dict[int, int] = field(default_factory=dict)

    def add(self, direction: str, index: int, counts: Counts, io_bytes: int) -> None:
        table = self.counts[direction]
        if index in table:
            table[index] = table[index] + counts
        else:
            table[index] = counts.copy()
        byte_table = self.io_bytes[direction]
        byte_table[index] = byte_table.get(index, 0) + io_bytes

    @property
    def indices(self) -> set[int]:
        return set().union(*(set(table) for table in self.counts.values()))


def _interval_index(time_ms: float, client_start_ms: float, interval_ms: int) -> int:
    """The grid interval holding ``time_ms``: (start + i*I, start + (i+1)*I]."""
    return max(0, math.ceil((time_ms - client_start_ms) / interval_ms) - 1)


def _place(
    streams: Sequence[Stream],
    clock: HostClock,
    interval_ms: int,
    client_start_ms: float,
    totals: Mapping[tuple[str, int, str], Any],
) -> _Placed:
    placed = _Placed()
    for stream in streams:
        previous: int | None = None
        last_index = 0
        ios = np.stack(stream.rows).sum(axis=1).tolist() if stream.rows else []
        for time_ms, block_size, counts, row_ios in zip(
            stream.times_ms, stream.block_sizes, stream.rows, ios, strict=True
        ):
            harness_ms = time_ms - clock.offset_ms
            index = _interval_index(harness_ms, client_start_ms, interval_ms)
            if previous is not None and time_ms - previous > SPANNING_FACTOR * interval_ms:
                placed.spanning[index] = max(placed.spanning.get(index, 0), time_ms - previous)
            placed.add(stream.direction, index, counts, row_ios * block_size)
            placed.row_intervals.add(index)
            previous = time_ms
            last_index = index
        if stream.final is None or not stream.final.any():
            continue
        job = totals.get((stream.host, stream.job, stream.direction))
        rows_bytes = sum(n * size for n, size in zip(ios, stream.block_sizes, strict=True))
        final_bytes = max(0, (job.io_bytes if job is not None else 0) - rows_bytes)
        if stream.times_ms:
            # fio's last window ends with the job: at most one interval after its last row,
            # sooner when the job's runtime says it ended sooner.
            first, last = stream.times_ms[0], stream.times_ms[-1]
            runtime = job.runtime_ms if job is not None else 0
            ends = first - interval_ms + runtime if runtime else last + interval_ms
            end_ms = min(last + interval_ms, max(last + 1, ends)) - clock.offset_ms
            index = _interval_index(end_ms, client_start_ms, interval_ms)
        else:
            # A job shorter than one interval wrote no row: its I/O is in the interval
            # its runtime ends, counted from the client's start.
            runtime = job.runtime_ms if job is not None else 0
            index = max(
                last_index, _interval_index(client_start_ms + runtime, client_start_ms, interval_ms)
            )
        placed.add(stream.direction, index, stream.final, final_bytes)
        placed.final_intervals.add(index)
    return placed


def _series(
    table: Mapping[int, Counts],
    byte_table: Mapping[int, int],
    first: int,
    count: int,
    coarseness: int,
) -> dict[str, list[Any]]:
    series: dict[str, list[Any]] = {
        "ios": [],
        "bytes": [],
        **{name: [] for name, _ in LADDER},
        "max": [],
    }
    for index in range(first, first + count):
        counts = table.get(index)
        if counts is None:
            series["ios"].append(0)
            series["bytes"].append(0)
            for name in [*(name for name, _ in LADDER), "max"]:
                series[name].append(None)
            continue
        series["ios"].append(int(counts.sum()))
        series["bytes"].append(int(byte_table.get(index, 0)))
        for name, value in percentiles_of(counts, coarseness).items():
            series[name].append(value)
    return series


def _varints(values: Iterable[int], out: bytearray) -> None:
    """Unsigned LEB128: small counts take one byte."""
    for value in values:
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)


def _encode_bins(table: Mapping[int, Counts], first: int, count: int, coarseness: int) -> str:
    """Each interval's bins as the range of columns from its first to its last non-zero
    one: varints ``start + 1`` (0: an empty interval), ``length``, then the counts;
    zlib-compressed, base64. Latency bins cluster, so ranges are short and mostly small
    numbers: a 60 s, 4-worker mixed run's bins take about a third of what (interval,
    column, count) triples did."""
    out = bytearray()
    for index in range(first, first + count):
        counts = table.get(index)
        stored = (
            coarsen(counts, coarseness, max(coarseness, STORED_COARSENESS))
            if counts is not None
            else np.zeros(0, dtype=np.int64)
        )
        columns = np.flatnonzero(stored)
        if not columns.size:
            out.append(0)
            continue
        start, end = int(columns[0]), int(columns[-1])
        _varints((start + 1, end - start + 1), out)
        _varints(stored[start : end + 1].tolist(), out)
    if not any(out):
        return ""
    return base64.b64encode(zlib.compress(bytes(out), 9)).decode("ascii")


def _read_varints(data: bytes) -> Iterator[int]:
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        yield value
        value = shift = 0


def decode_bins(text: str, intervals: int, coarseness: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The stored merged bins as an (intervals x columns) matrix."""
    matrix = np.zeros((intervals, PLAT_NR >> coarseness), dtype=np.int64)
    if not text:
        return matrix
    numbers = _read_varints(zlib.decompress(base64.b64decode(text)))
    for row in range(intervals):
        start = next(numbers) - 1
        if start < 0:
            continue
        length = next(numbers)
        matrix[row, start : start + length] = [next(numbers) for _ in range(length)]
    return matrix


@dataclass(frozen=True)
class TimelineInputs:
    """What the runner knows of a run besides its log files."""

    interval_ms: int
    #: The client's start and end on the harness's clock (epoch ms).
    client_span_ms: tuple[float, float]
    #: host -> worker name (one worker per host: fio names logs by host only).
    workers: Mapping[str, str]
    #: Hosts whose clock is the harness's own (local workers): offset 0, certain.
    same_clock: frozenset[str] = frozenset()


@dataclass
class _WorkerStats:
    """One worker's figures per interval (absolute grid indices), its histograms already
    folded into the merged ones: a 256-worker run never holds every worker's bins."""

    host: str
    #: direction -> interval -> (ios, bytes, {percentile: ms})
    stats: dict[str, dict[int, tuple[int, int, dict[str, float | None]]]]
    row_intervals: set[int]
    final_intervals: set[int]
    spanning: dict[int, int]

    def series(self, direction: str, first: int, count: int) -> dict[str, list[Any]]:
        names = [name for name, _ in LADDER] + ["max"]
        table = self.stats[direction]
        out: dict[str, list[Any]] = {"ios": [], "bytes": [], **{name: [] for name in names}}
        for index in range(first, first + count):
            ios, io_bytes, ladder = table.get(index, (0, 0, {}))
            out["ios"].append(ios)
            out["bytes"].append(io_bytes)
            for name in names:
                out[name].append(ladder.get(name))
        return out


def _fold(
    placed: _Placed,
    host: str,
    coarseness: int,
    merged: dict[str, dict[int, Counts]],
    merged_bytes: dict[str, dict[int, int]],
) -> _WorkerStats:
    """A worker's per-interval figures, its bins added into ``merged``."""
    stats: dict[str, dict[int, tuple[int, int, dict[str, float | None]]]] = {}
    for direction in DIRECTION_NAMES:
        table = placed.counts[direction]
        if not table:
            continue
        target, target_bytes = merged[direction], merged_bytes[direction]
        indices = sorted(table)
        ladders = ladder_rows(np.stack([table[index] for index in indices]), coarseness)
        stats[direction] = {}
        sums = np.stack([table[index] for index in indices]).sum(axis=1).tolist()
        for index, ladder, ios in zip(indices, ladders, sums, strict=True):
            counts = table[index]
            io_bytes = placed.io_bytes[direction].get(index, 0)
            stats[direction][index] = (ios, io_bytes, ladder)
            target[index] = target[index] + counts if index in target else counts.copy()
            target_bytes[index] = target_bytes.get(index, 0) + io_bytes
    return _WorkerStats(host, stats, placed.row_intervals, placed.final_intervals, placed.spanning)


def build_timeline(
    directory: Path, document: Mapping[str, Any], inputs: TimelineInputs
) -> dict[str, Any] | None:
    """The run's timeline (the stored form, see the module doc) from the histogram logs
    in ``directory`` and fio's json+ ``document``; None when no log was written."""
    reader = HistLogReader(directory)
    client_start, _client_end = inputs.client_span_ms
    interval = inputs.interval_ms
    notes: list[str] = []
    folded: dict[str, _WorkerStats] = {}
    clocks: dict[str, HostClock] = {}
    totals_by_coarseness: dict[int, Any] = {}
    merged: dict[str, dict[int, Counts]] = {direction: {} for direction in DIRECTION_NAMES}
    merged_bytes: dict[str, dict[int, int]] = {direction: {} for direction in DIRECTION_NAMES}
    try:
        for host in reader.hosts:
            name = inputs.workers.get(host)
            if name is None:
                continue
            streams = reader.streams_of(host)
            if not streams:
                continue
            coarseness = streams[0].coarseness
            if coarseness not in totals_by_coarseness:
                totals_by_coarseness[coarseness] = job_totals(document, coarseness)
            totals = totals_by_coarseness[coarseness]
            notes += reconcile(streams, totals)
            if host in inputs.same_clock or not any(s.times_ms for s in streams):
                clock = HostClock()
            else:
                clock = estimate_clock(streams, interval, inputs.client_span_ms)
            clocks[host] = clock
            placed = _place(streams, clock, interval, client_start, totals)
            folded[name] = _fold(placed, host, coarseness, merged, merged_bytes)
    except LogTooLarge as err:
        return {"format": TIMELINE_FORMAT, "unavailable": str(err)}
    notes += reader.skipped
    if not folded or reader.coarseness is None:
        return None
    coarseness = reader.coarseness
    used = set().union(*(set(table) for table in merged.values()))
    if not used:
        return None
    first, last = min(used), max(used)
    count = last - first + 1
    workers_doc: dict[str, Any] = {}
    spanning: dict[int, int] = {}
    for name, worker in sorted(folded.items()):
        entry: dict[str, Any] = {
            "host": worker.host,
            "first": (min(worker.row_intervals) - first) if worker.row_intervals else None,
            "last": (max(worker.row_intervals) - first) if worker.row_intervals else None,
            "final": sorted(index - first for index in worker.final_intervals),
        }
        for direction in worker.stats:
            entry[direction] = worker.series(direction, first, count)
        for index, span in worker.spanning.items():
            spanning[index - first] = max(spanning.get(index - first, 0), span)
        workers_doc[name] = entry
    document_out: dict[str, Any] = {
        "format": TIMELINE_FORMAT,
        "interval_ms": interval,
        "client_start_ms": round(client_start),
        "start_s": first * interval / 1000.0,
        "intervals": count,
        "coarseness": coarseness,
        "bins_coarseness": max(coarseness, STORED_COARSENESS),
        "error_pct": round(100 * worst_relative_error(max(coarseness, STORED_COARSENESS)), 2),
        "merged": {},
        "workers": workers_doc,
        "spanning": {str(index): span for index, span in sorted(spanning.items())},
        "hosts": {
            host: {
                "offset_ms": round(clock.offset_ms, 1),
                "uncertainty_ms": round(clock.uncertainty_ms, 1),
            }
            for host, clock in sorted(clocks.items())
        },
        "bins": {},
        "notes": notes,
    }
    for direction in DIRECTION_NAMES:
        if not merged[direction]:
            continue
        document_out["merged"][direction] = _series(
            merged[direction], merged_bytes[direction], first, count, coarseness
        )
        document_out["bins"][direction] = _encode_bins(merged[direction], first, count, coarseness)
    return document_out


@dataclass(frozen=True)
class Timeline:
    """A stored timeline, read back (see the module doc for the stored form)."""

    document: Mapping[str, Any]

    @property
    def interval_ms(self) -> int:
        return int(self.document["interval_ms"])

    @property
    def interval_s(self) -> float:
        return self.interval_ms / 1000.0

    @property
    def intervals(self) -> int:
        return int(self.document["intervals"])

    @property
    def start_s(self) -> float:
        return float(self.document.get("start_s", 0.0))

    def end_s(self, index: int) -> float:
        """When interval ``index`` ends, in seconds since the client started."""
        return self.start_s + (index + 1) * self.interval_s

    def index_at(self, seconds: float) -> int:
        """The interval holding ``seconds`` since the client started (clamped)."""
        index = math.ceil((seconds - self.start_s) / self.interval_s) - 1
        return min(max(index, 0), self.intervals - 1)

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(d for d in DIRECTION_NAMES if d in self.document.get("merged", {}))

    def merged(self, direction: str) -> Mapping[str, list[Any]]:
        merged: Mapping[str, list[Any]] = self.document.get("merged", {}).get(direction, {})
        return merged

    def ios(self, direction: str | None = None) -> list[int]:
        """I/Os completed per interval (both directions when ``direction`` is None)."""
        directions = self.directions if direction is None else (direction,)
        totals = [0] * self.intervals
        for name in directions:
            for index, value in enumerate(self.merged(name).get("ios", [])):
                totals[index] += int(value)
        return totals

    def iops(self, direction: str | None = None) -> list[float]:
        return [value / self.interval_s for value in self.ios(direction)]

    @property
    def workers(self) -> Mapping[str, Mapping[str, Any]]:
        workers: Mapping[str, Mapping[str, Any]] = self.document.get("workers", {})
        return workers

    def worker_ios(self, name: str) -> list[int]:
        worker = self.workers.get(name, {})
        totals = [0] * self.intervals
        for direction in DIRECTION_NAMES:
            for index, value in enumerate(worker.get(direction, {}).get("ios", [])):
                totals[index] += int(value)
        return totals

    @property
    def bins_coarseness(self) -> int:
        return int(self.document.get("bins_coarseness", STORED_COARSENESS))

    def bins(self, direction: str) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The merged bins of every interval, (intervals x columns)."""
        text = self.document.get("bins", {}).get(direction, "")
        return decode_bins(str(text), self.intervals, self.bins_coarseness)

    def percentiles_over(self, direction: str, indices: Iterable[int]) -> dict[str, float | None]:
        """The ladder over a set of intervals, exact at interval resolution: their bins
        summed, then read as one histogram."""
        matrix = self.bins(direction)
        chosen = [index for index in indices if 0 <= index < self.intervals]
        if not chosen:
            return percentiles_of(np.zeros(matrix.shape[1], dtype=np.int64), self.bins_coarseness)
        return percentiles_of(matrix[chosen].sum(axis=0), self.bins_coarseness)

    @property
    def spanning(self) -> dict[int, int]:
        return {int(index): int(span) for index, span in self.document.get("spanning", {}).items()}

    @property
    def notes(self) -> list[str]:
        return [str(note) for note in self.document.get("notes", [])]


def timeline_of(raw: Mapping[str, Any] | None) -> Timeline | None:
    """The timeline stored in a run's raw document, if any (older runs have none)."""
    if not raw:
        return None
    ours = raw.get(RAW_KEY)
    if not isinstance(ours, Mapping):
        return None
    document = ours.get("timeline")
    if not isinstance(document, Mapping) or "intervals" not in document:
        return None
    return Timeline(document)


def hist_coarseness(workers: int) -> int:
    """The histogram logs' coarseness for a run of ``workers`` workers whose logs come
    back whole (local, static): fio's finest bins up to 16 workers; beyond, halving the
    bins halves the text the harness parses (256 workers at coarseness 0: ~360 MB for a
    30 s run) at a percentile error of 1.6 % (coarseness 1) or 3.1 % (2)."""
    if workers <= 16:
        return 0
    return 1 if workers <= 64 else 2


def hist_logging(interval_ms: int, coarseness: int = 0) -> str:
    """The [global] lines that make fio write histogram logs with absolute times."""
    if not 0 <= coarseness <= MAX_COARSENESS:
        raise ValueError(f"log_hist_coarseness must be 0..{MAX_COARSENESS}, not {coarseness}")
    return (
        "log_unix_epoch=1\n"
        f"write_hist_log={LOG_PREFIX}\n"
        f"log_hist_msec={interval_ms}\n"
        f"log_hist_coarseness={coarseness}\n"
    )
