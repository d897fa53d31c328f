"""fio's latency histogram logs (``write_hist_log``), read back exactly.

With ``log_hist_msec`` each fio job writes one row per window and direction:
``time_ms, direction, block size, bin 0, bin 1, ...``, where bin ``j`` counts the
completions of that window whose latency fell in fio's histogram buckets
``[j * 2^c, (j + 1) * 2^c)`` (``c`` = ``log_hist_coarseness``; at 0 they are exactly the
json+ ``bins``, whose keys are the bucket values of ``bucket_value_ns``).

Three facts of fio 3.33 (still so in 3.39) shape this module, each checked on real output:

* **The server corrupts the rows.** In client/server mode the server subtracts each row
  from the previous, *already subtracted* row before sending it (``server.c``,
  ``__fio_append_iolog_gz_hist``), so row k of a job and direction holds
  ``d_k + d_{k-2} + d_{k-4} + ...``. The true rows are recovered with
  ``d_k = r_k - r_{k-2}``. The corruption is detected, not assumed: rows summing to more
  than the job's json+ total (or any bin above its json+ count) are corrupted; a fixed fio
  passes through unchanged.
* **fio never writes the last window.** json+ minus the sum of the rows is that window
  (never negative once the rows are right); it is added as a final row so that the rows
  of a job sum to its json+ histogram exactly.
* **Rows are not on a shared grid**: each job's windows start at its own first
  completion, and after a stall fio writes catch-up rows a millisecond apart. A row covers
  (previous row, row]; placing rows on a common grid is timeline.py's job.

Log files can be large (a 256-worker run writes hundreds of MB of text at coarseness 0):
they are read streaming, line by line, and the total read per run is capped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import ResultError

#: fio's latency histogram: 29 groups of 64 buckets (stat.h FIO_IO_U_PLAT_*).
PLAT_BITS = 6
PLAT_VAL = 1 << PLAT_BITS
PLAT_GROUPS = 29
PLAT_NR = PLAT_GROUPS * PLAT_VAL
#: The coarseness fio accepts for log_hist_coarseness.
MAX_COARSENESS = 6
#: The most histogram-log text read for one run: beyond it the timeline is given up
#: (the whole-run result stands). 256 workers x 240 rows at coarseness 0 is ~180 MB.
READ_LIMIT_BYTES = 512 * 1024 * 1024

DIRECTIONS = {0: "read", 1: "write"}

Counts = npt.NDArray[np.int64]

# "<prefix>_clat_hist.<job>.log.<host>": fio's name for a job's histogram log in
# client/server mode (the client appends the server's host).
_HIST_NAME = re.compile(r"^(?P<prefix>.+)_clat_hist\.(?P<job>\d+)\.log\.(?P<host>.+)$")


def bucket_value_ns(index: int) -> int:
    """The latency (ns) fio reports for histogram bucket ``index`` (stat.c
    ``plat_idx_to_val``: the middle of the bucket, truncated as fio truncates it)."""
    if index < (PLAT_VAL << 1):
        return index
    error_bits = (index >> PLAT_BITS) - 1
    base = 1 << (error_bits + PLAT_BITS)
    k = index % PLAT_VAL
    return int(base + (k + 0.5) * (1 << error_bits))


#: Bucket values of every index, and the inverse for json+ keys.
BUCKET_VALUES_NS: tuple[int, ...] = tuple(bucket_value_ns(i) for i in range(PLAT_NR))
_INDEX_OF_VALUE: Mapping[int, int] = {value: index for index, value in enumerate(BUCKET_VALUES_NS)}
#: The bucket values in order (they increase with the index), for searchsorted.
_BUCKETS = np.asarray(BUCKET_VALUES_NS, dtype=np.int64)


def coarse_value_ns(column: int, coarseness: int) -> int:
    """The latency (ns) a coarse column stands for: its middle bucket's value, so a
    percentile read from coarse bins is off by at most half a column (2^c/128 relative)."""
    stride = 1 << coarseness
    return BUCKET_VALUES_NS[min(column * stride + stride // 2, PLAT_NR - 1)]


def worst_relative_error(coarseness: int) -> float:
    """The largest relative error of a percentile read from bins of ``coarseness``:
    half a column of 2^c buckets, each 1/64 of its group wide."""
    return (1 << coarseness) / (2 * PLAT_VAL)


def bins_to_counts(bins: Mapping[Any, Any], coarseness: int = 0) -> Counts:
    """json+ ``bins`` (bucket value in ns -> count) as a dense vector of histogram
    columns at ``coarseness``; a key that is no bucket value is a ResultError."""
    counts = np.zeros(PLAT_NR >> coarseness, dtype=np.int64)
    if not bins:
        return counts
    try:
        keys = np.fromiter((int(value) for value in bins), dtype=np.int64, count=len(bins))
        amounts = np.fromiter((int(n) for n in bins.values()), dtype=np.int64, count=len(bins))
    except (TypeError, ValueError) as err:
        raise ResultError(f"json+ latency bins are not numbers: {err}") from err
    indices = np.searchsorted(_BUCKETS, keys)
    known = (indices < PLAT_NR) & (_BUCKETS[np.minimum(indices, PLAT_NR - 1)] == keys)
    if not known.all():
        value = int(keys[np.flatnonzero(~known)[0]])
        raise ResultError(f"json+ latency bin {value!r} is not one of fio's bucket values")
    np.add.at(counts, indices >> coarseness, amounts)
    return counts


def coarsen(counts: Counts, coarseness: int, to: int) -> Counts:
    """Columns at ``coarseness`` summed into columns at the coarser ``to``."""
    if to < coarseness:
        raise ValueError(f"cannot make coarseness {coarseness} finer ({to})")
    stride = 1 << (to - coarseness)
    summed: Counts = counts.reshape(-1, stride).sum(axis=1)
    return summed


@dataclass
class Stream:
    """One job's rows of one direction on one host: window end times (ms, the host's
    clock) and the counts of each window, in the order fio wrote them."""

    host: str
    job: int
    direction: str
    coarseness: int
    times_ms: list[int] = field(default_factory=list)
    block_sizes: list[int] = field(default_factory=list)
    rows: list[Counts] = field(default_factory=list)
    #: Set when the rows were recovered from fio's server-side double subtraction.
    recovered: bool = False
    #: The final window fio never writes (json+ minus the rows), or None before it is known.
    final: Counts | None = None

    @property
    def total(self) -> int:
        rows = int(sum(int(row.sum()) for row in self.rows))
        return rows + (int(self.final.sum()) if self.final is not None else 0)

    def drop_rows(self) -> None:
        self.rows.clear()
        self.times_ms.clear()
        self.block_sizes.clear()

    def summed(self) -> Counts:
        width = PLAT_NR >> self.coarseness
        total = np.zeros(width, dtype=np.int64)
        for row in self.rows:
            total += row
        if self.final is not None:
            total += self.final
        return total


def hist_log_files(directory: Path) -> dict[str, dict[int, Path]]:
    """host -> job number -> histogram log file, for every such file in ``directory``."""
    found: dict[str, dict[int, Path]] = defaultdict(dict)
    for path in sorted(directory.iterdir()):
        match = _HIST_NAME.match(path.name)
        if match is not None and path.is_file():
            found[match["host"]][int(match["job"])] = path
    return dict(found)


class LogTooLarge(ResultError):
    """The histogram logs exceed what one run may read."""


def _rows(path: Path, budget: list[int]) -> Iterator[tuple[int, int, int, Counts]]:
    """(time, direction, bs, counts) of each well-formed row; ``budget`` is the bytes
    still allowed (shared by every file of a run), checked before a file is read. A file
    is parsed in one call when its rows are all of one width (numpy parses text at ~40
    MB/s that way, ~20 MB/s line by line), row by row otherwise (a truncated last row)."""
    budget[0] -= path.stat().st_size
    if budget[0] < 0:
        raise LogTooLarge(f"histogram logs exceed {READ_LIMIT_BYTES // 2**20} MiB for one run")
    data = path.read_bytes().rstrip(b"\n")
    lines = data.count(b"\n") + 1 if data else 0
    values = np.fromstring(data.replace(b"\n", b","), dtype=np.int64, sep=",")
    if lines and values.size % lines == 0 and values.size // lines >= 4:
        for row in values.reshape(lines, -1):
            yield int(row[0]), int(row[1]), int(row[2]), row[3:]
        return
    for line in data.splitlines():
        row = np.fromstring(line, dtype=np.int64, sep=",")
        if row.size >= 4:
            yield int(row[0]), int(row[1]), int(row[2]), row[3:]


class HistLogReader:
    """Reads a run's histogram logs host by host (so a 256-worker run never holds every
    row at once), within one byte budget for the whole run."""

    def __init__(self, directory: Path, *, limit_bytes: int = READ_LIMIT_BYTES) -> None:
        self._files = hist_log_files(directory)
        self._budget = [limit_bytes]
        self._limit = limit_bytes
        #: The coarseness of the first stream read; streams of another are skipped.
        self.coarseness: int | None = None
        #: What was skipped and why (one line each).
        self.skipped: list[str] = []

    @property
    def hosts(self) -> list[str]:
        return sorted(self._files)

    @property
    def bytes_read(self) -> int:
        return self._limit - self._budget[0]

    def streams_of(self, host: str) -> list[Stream]:
        """Every job's streams of ``host`` (raises LogTooLarge past the budget)."""
        streams: list[Stream] = []
        for job, path in sorted(self._files.get(host, {}).items()):
            by_direction: dict[str, Stream] = {}
            width: int | None = None
            for time_ms, code, block_size, counts in _rows(path, self._budget):
                direction = DIRECTIONS.get(code)
                if direction is None:
                    continue
                if width is None:
                    width = counts.size
                if counts.size != width or _coarseness_of(width) is None:
                    self.skipped.append(f"{path.name}: rows of different widths")
                    by_direction = {}
                    break
                stream = by_direction.get(direction)
                if stream is None:
                    coarseness = _coarseness_of(width)
                    assert coarseness is not None
                    stream = by_direction[direction] = Stream(host, job, direction, coarseness)
                stream.times_ms.append(time_ms)
                stream.block_sizes.append(block_size)
                stream.rows.append(counts)
            for stream in by_direction.values():
                if self.coarseness is None:
                    self.coarseness = stream.coarseness
                if stream.coarseness != self.coarseness:
                    self.skipped.append(
                        f"{path.name}: coarseness {stream.coarseness}, not the run's"
                        f" {self.coarseness}"
                    )
                    continue
                streams.append(stream)
        return streams


def _coarseness_of(width: int) -> int | None:
    for coarseness in range(MAX_COARSENESS + 1):
        if PLAT_NR >> coarseness == width:
            return coarseness
    return None


def _recovered(rows: Sequence[Counts]) -> list[Counts]:
    """Undo fio's server-side double subtraction: d_k = r_k - r_{k-2}."""
    fixed: list[Counts] = []
    for index, row in enumerate(rows):
        fixed.append(row - rows[index - 2] if index >= 2 else row.copy())
    return fixed


def _exceeds(rows: Sequence[Counts], expected: Counts) -> bool:
    if not rows:
        return False
    total = np.sum(rows, axis=0)
    return bool((total > expected).any())


@dataclass(frozen=True)
class JobTotals:
    """What json+ says one job did in one direction: the exact truth the log must meet."""

    counts: Counts
    io_bytes: int
    runtime_ms: int


def reconcile(
    streams: Sequence[Stream], totals: Mapping[tuple[str, int, str], JobTotals]
) -> list[str]:
    """Make every stream exact against its job's json+ histogram (``totals``, keyed by
    (host, job number, direction), at the logs' coarseness): undo fio's corruption where
    the rows exceed json+, then add the final window. Returns what could not be made
    exact (such a stream keeps only its json+ total as its final window: a timeline never
    shows rows it cannot vouch for)."""
    problems: list[str] = []
    for stream in streams:
        job = totals.get((stream.host, stream.job, stream.direction))
        where = f"{stream.host} job {stream.job} {stream.direction}"
        if job is None:
            problems.append(f"{where}: no json+ histogram to check the log against")
            stream.drop_rows()
            continue
        want = job.counts
        if _exceeds(stream.rows, want):
            stream.rows = _recovered(stream.rows)
            stream.recovered = True
        rows_total = np.sum(stream.rows, axis=0) if stream.rows else np.zeros_like(want)
        final = want - rows_total
        if any(bool((row < 0).any()) for row in stream.rows) or bool((final < 0).any()):
            problems.append(f"{where}: the log's rows do not add up to fio's json+ histogram")
            stream.drop_rows()
            final = want.copy()
        stream.final = final
    return problems


def job_totals(
    document: Mapping[str, Any], coarseness: int
) -> dict[tuple[str, int, str], JobTotals]:
    """Each job's json+ figures per direction, keyed like the logs: (host, job number,
    direction). fio numbers a server's jobs from 1 in the order it reports them."""
    entries = document.get("client_stats")
    totals: dict[tuple[str, int, str], JobTotals] = {}
    if not isinstance(entries, list):
        return totals
    numbers: dict[str, int] = defaultdict(int)
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("jobname") == "All clients":
            continue
        host = str(entry.get("hostname", ""))
        numbers[host] += 1
        try:
            runtime_ms = int(entry.get("job_runtime", 0))
        except (TypeError, ValueError):
            runtime_ms = 0
        for direction in DIRECTIONS.values():
            block = entry.get(direction)
            if not isinstance(block, Mapping):
                continue
            clat = block.get("clat_ns")
            bins = clat.get("bins", {}) if isinstance(clat, Mapping) else {}
            try:
                io_bytes = int(block.get("io_bytes", 0))
            except (TypeError, ValueError):
                io_bytes = 0
            totals[(host, numbers[host], direction)] = JobTotals(
                bins_to_counts(bins, coarseness), io_bytes, runtime_ms
            )
    return totals
