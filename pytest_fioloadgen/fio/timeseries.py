"""Per-worker IOPS and latency over a run, from fio's averaged logs.

In client/server mode each fio server sends its ``write_iops_log``/``write_lat_log`` data
back to the client, which writes ``<prefix>_iops.<job>.log.<host>`` in its working
directory (the runner's temporary directory). Lines are ``time_ms, value, direction,
block size, offset``; with ``log_avg_msec`` each value is the mean over that window
(latency in nanoseconds). fio names the files by host only, so two servers sharing an
address (static hosts on several ports) would overwrite each other's logs: such workers
get no time series rather than a wrong one.

The series are kept in the run's raw document under ``raw["fioloadgen"]["timeseries"]``
so that the store schema does not change:
``{"interval_ms": 500, "workers": {"127.0.0.2:8765": {"read_iops": [[t_ms, v], ...],
"write_iops": ..., "read_lat_ms": ..., "write_lat_ms": ...}}}``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

LOG_PREFIX = "fioloadgen"
#: Raw-document key of everything the harness adds to fio's own output.
RAW_KEY = "fioloadgen"
SERIES = ("read_iops", "write_iops", "read_lat_ms", "write_lat_ms")
#: Enough points to see a trend, few enough to keep records and reports small.
TARGET_POINTS = 120
MIN_INTERVAL_MS = 250

_DIRECTIONS = {0: "read", 1: "write"}
# "<prefix>_iops.<job>.log.<host>", or without the job number under per_job_logs=0.
_LOG_NAME = re.compile(rf"^{LOG_PREFIX}_(iops|lat)(?:\.(\d+))?\.log\.(.+)$")

Series = list[list[float]]


def log_interval_ms(expected_runtime_s: float) -> int:
    """The averaging window: about TARGET_POINTS points over the run, in 50 ms steps."""
    raw = expected_runtime_s * 1000.0 / TARGET_POINTS
    return max(MIN_INTERVAL_MS, int(raw // 50 * 50))


def with_logging(job_text: str, interval_ms: int, extra: str = "") -> str:
    """The job file with a leading [global] section asking for averaged logs (and
    ``extra`` lines, e.g. the timeline's histogram logs).

    fio merges repeated [global] sections in order, so the profile's own options (even its
    own write_iops_log) still win; the profile text stored with the run is unchanged.
    """
    header = (
        "[global]\n"
        f"write_iops_log={LOG_PREFIX}\n"
        f"write_lat_log={LOG_PREFIX}\n"
        f"log_avg_msec={interval_ms}\n"
        f"{extra}\n"
    )
    return header + job_text


#: The most averaged-log text read for one run. The policy refuses windows under 10 ms,
#: so a sane run writes a few MB; a log beyond this would only exhaust the harness.
READ_LIMIT_BYTES = 64 * 1024 * 1024


class LogsTooLarge(Exception):
    """The averaged logs of a run exceed READ_LIMIT_BYTES."""


def _read_log(path: Path, budget: list[int]) -> Iterator[tuple[int, float, int]]:
    """The (time, value, direction) rows of a log, streaming; ``budget`` holds the bytes
    still allowed for the run."""
    with path.open("rb") as handle:
        for line in handle:
            budget[0] -= len(line)
            if budget[0] < 0:
                raise LogsTooLarge(
                    f"fio's averaged logs exceed {READ_LIMIT_BYTES // 2**20} MiB for one run"
                )
            fields = line.split(b",")
            if len(fields) < 3:
                continue
            try:
                yield int(fields[0]), float(fields[1]), int(fields[2])
            except ValueError:
                continue


#: Log times above this are epoch milliseconds (log_unix_epoch=1), not time since start.
EPOCH_MS = 10**12


def collect(
    directory: Path,
    workers: Sequence[tuple[str, str]],
    interval_ms: int,
    *,
    client_start_ms: float | None = None,
) -> dict[str, Any] | None:
    """The time series found in ``directory`` for ``workers`` ((host, worker name) pairs).

    Several jobs of one worker are combined per window: IOPS add up, latencies are the
    mean of the jobs' window means (fio logs no per-window counts to weight them by).
    Epoch times (log_unix_epoch=1, which the timeline asks for) are made relative to
    ``client_start_ms``, so every stored series counts from the run's start.
    """
    hosts: dict[str, list[str]] = defaultdict(list)
    for host, name in workers:
        hosts[host].append(name)
    budget = [READ_LIMIT_BYTES]
    iops: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    lat: dict[str, dict[str, dict[int, list[float]]]] = defaultdict(lambda: defaultdict(dict))
    for path in sorted(directory.iterdir()):
        match = _LOG_NAME.match(path.name)
        if match is None:
            continue
        kind, _job, host = match.groups()
        names = hosts.get(host, [])
        if len(names) != 1:
            continue  # unknown host, or several workers behind one name (see module doc)
        name = names[0]
        try:
            _add_rows(_read_log(path, budget), kind, name, interval_ms, client_start_ms, iops, lat)
        except LogsTooLarge as err:
            return {"interval_ms": interval_ms, "workers": {}, "unavailable": str(err)}
    result: dict[str, dict[str, Series]] = {}
    for name in sorted(set(iops) | set(lat)):
        per_worker: dict[str, Series] = {}
        for series_name, points in iops.get(name, {}).items():
            per_worker[series_name] = [[t, round(v, 1)] for t, v in sorted(points.items())]
        for series_name, samples in lat.get(name, {}).items():
            per_worker[series_name] = [
                [t, round(sum(vs) / len(vs), 4)] for t, vs in sorted(samples.items())
            ]
        if per_worker:
            result[name] = per_worker
    if not result:
        return None
    return {"interval_ms": interval_ms, "workers": result}


def _add_rows(
    rows: Iterator[tuple[int, float, int]],
    kind: str,
    name: str,
    interval_ms: int,
    client_start_ms: float | None,
    iops: dict[str, dict[str, dict[int, float]]],
    lat: dict[str, dict[str, dict[int, list[float]]]],
) -> None:
    for time_ms, value, direction_code in rows:
        direction = _DIRECTIONS.get(direction_code)
        if direction is None:
            continue
        if time_ms >= EPOCH_MS and client_start_ms is not None:
            time_ms = max(0, round(time_ms - client_start_ms))
        # Jobs start a few ms apart: align their samples on the window grid.
        slot = round(time_ms / interval_ms) * interval_ms
        if kind == "iops":
            series = iops[name][f"{direction}_iops"]
            series[slot] = series.get(slot, 0.0) + value
        else:
            lat[name][f"{direction}_lat_ms"].setdefault(slot, []).append(value / 1e6)


def timeseries_of(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The time series stored in a run's raw document, if any."""
    if not raw:
        return None
    ours = raw.get(RAW_KEY)
    if not isinstance(ours, Mapping):
        return None
    series = ours.get("timeseries")
    return dict(series) if isinstance(series, Mapping) else None
