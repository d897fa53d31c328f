"""A stored run's fio document in fio's standalone shape (``jobs``), which fio's own
tools read (``fio_jsonplus_clat2csv``, fio-plot): one document per worker, and one of
all workers merged job by job.

A run made here keeps fio's client/server document (``client_stats``: every worker's
job entries, tagged with its host and port). A worker's standalone document is its
entries as ``jobs``, fields untouched (histogram bins included). The merged document has
one entry per job name, each merged over the workers the way fio/results.py merges them:
counts and rates summed (workers run concurrently), runtimes the longest, latency N, min,
max, mean (weighted by N) and standard deviation (pooled) exact, histogram bins summed
and percentiles computed from them; without bins on every worker, no percentiles (an
average of percentiles would be wrong). Fields with no exact merge (bandwidth samples,
CPU, iodepth distributions) are left out of the merged document.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import ResultError
from .results import percentile_from_bins

#: The directions fio writes per job (fio_jsonplus_clat2csv reads every one of them).
DIRECTIONS = ("read", "write", "trim")
LATENCIES = ("slat_ns", "clat_ns", "lat_ns")
_SUMMED = ("io_bytes", "io_kbytes", "bw_bytes", "bw", "iops", "total_ios", "short_ios", "drop_ios")
_ALL_CLIENTS = "All clients"
#: fio's defaults of the options readers group runs by (fio-plot needs rw, bs, iodepth
#: and numjobs in each job's options): fio echoes only the options a job file sets, so a
#: job that left one at its default gets it written out.
READER_DEFAULTS = {"rw": "read", "bs": "4k", "iodepth": "1", "numjobs": "1"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _entries(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = raw.get("client_stats", raw.get("jobs"))
    if not isinstance(entries, list):
        raise ResultError("the stored document has no client_stats or jobs to export")
    return [e for e in entries if isinstance(e, Mapping) and e.get("jobname") != _ALL_CLIENTS]


def _header(raw: Mapping[str, Any]) -> dict[str, Any]:
    header = {key: raw[key] for key in ("fio version", "timestamp", "time") if key in raw}
    if "global options" in raw:
        header["global options"] = raw["global options"]
    return header


def worker_name(entry: Mapping[str, Any]) -> str:
    """A worker's name as a file name part (``10.0.0.5_8765``; ``local`` standalone)."""
    host = str(entry.get("hostname", "local"))
    port = entry.get("port")
    return _UNSAFE.sub("_", f"{host}_{port}" if port is not None else host)


def _with_defaults(raw: Mapping[str, Any], options: Any) -> dict[str, Any]:
    """A job's options with READER_DEFAULTS for what neither it nor the global section set."""
    own = dict(options) if isinstance(options, Mapping) else {}
    global_options = raw.get("global options")
    if not isinstance(global_options, Mapping):
        global_options = {}
    missing = {k: v for k, v in READER_DEFAULTS.items() if k not in own and k not in global_options}
    return {**own, **missing}


def worker_documents(raw: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(worker name, standalone document) per worker, in fio's order of the workers."""
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for entry in _entries(raw):
        job = {k: v for k, v in entry.items() if k not in ("hostname", "port")}
        job["job options"] = _with_defaults(raw, entry.get("job options"))
        by_worker.setdefault(worker_name(entry), []).append(job)
    return [(name, {**_header(raw), "jobs": jobs}) for name, jobs in by_worker.items()]


def merged_standalone(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One standalone document of every worker, one entry per job name (see module)."""
    by_job: dict[str, list[Mapping[str, Any]]] = {}
    for entry in _entries(raw):
        by_job.setdefault(str(entry.get("jobname", "")), []).append(entry)
    jobs = [_merge_job(raw, entries) for entries in by_job.values()]
    return {**_header(raw), "jobs": jobs}


def _merge_job(raw: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = entries[0]
    job: dict[str, Any] = {
        "jobname": first.get("jobname", ""),
        "groupid": first.get("groupid", 0),
        "error": max(int(e.get("error", 0)) for e in entries),
    }
    job["job options"] = _with_defaults(raw, first.get("job options"))
    job["workers"] = len(entries)
    for direction in DIRECTIONS:
        blocks = [e[direction] for e in entries if isinstance(e.get(direction), Mapping)]
        if blocks:
            job[direction] = _merge_direction(blocks)
    if any("job_runtime" in e for e in entries):
        job["job_runtime"] = max(int(e.get("job_runtime", 0)) for e in entries)
    return job


def _merge_direction(blocks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in _SUMMED:
        if key in blocks[0]:
            total = sum(float(b.get(key, 0)) for b in blocks)
            merged[key] = int(total) if isinstance(blocks[0][key], int) else total
    merged["runtime"] = max(int(b.get("runtime", 0)) for b in blocks)
    for latency in LATENCIES:
        parts = [b[latency] for b in blocks if isinstance(b.get(latency), Mapping)]
        if parts:
            merged[latency] = _merge_latency(parts)
    return merged


def _merge_latency(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    counted = [p for p in parts if int(p.get("N", 0)) > 0]
    samples = sum(int(p["N"]) for p in counted)
    if not samples:
        return {"min": 0, "max": 0, "mean": 0.0, "stddev": 0.0, "N": 0}
    mean = sum(float(p["mean"]) * int(p["N"]) for p in counted) / samples
    # Pooled: each part's sum of squares is N * (stddev^2 + mean^2).
    squares = sum(
        int(p["N"]) * (float(p.get("stddev", 0.0)) ** 2 + float(p["mean"]) ** 2) for p in counted
    )
    merged: dict[str, Any] = {
        "min": min(int(p["min"]) for p in counted),
        "max": max(int(p["max"]) for p in counted),
        "mean": mean,
        "stddev": math.sqrt(max(squares / samples - mean * mean, 0.0)),
        "N": samples,
    }
    if all("bins" in p for p in counted):
        bins: Counter[int] = Counter()
        for part in counted:
            bins.update({int(value): int(count) for value, count in part["bins"].items()})
        reported = counted[0].get("percentile") or {}
        percentiles = {}
        for label in reported:
            value = percentile_from_bins(bins, float(label))
            if value is not None:
                percentiles[label] = int(value)
        if percentiles:
            merged["percentile"] = percentiles
        merged["bins"] = {str(value): bins[value] for value in sorted(bins)}
    return merged
