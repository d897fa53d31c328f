"""A run as one JSON document: what a run page shows, derived once from the stored record.

The static site writes one such document per run and a single page (``run.html``) renders
any of them, so a site of 100k runs is 100k small data files rather than 100k pages of
charts. The document carries

* ``run``: every field of the stored record (store.wire, without the raw fio document),
  so whatever the record holds (verdict, comparisons, fingerprint, notes, profile text,
  fields added later) reaches the page, which renders unknown fields generically;
* ``derived``: what the page needs from the raw fio document, computed here with the
  package's own result parser (per-worker figures, the latency distribution from the
  merged json+ bins, the time series), so the page never needs the raw document itself;
* ``flags``: what the page's summary warns of, read from what is stored with the run (its
  notes, verdict, timeline findings and labels), never judged again here;
* ``sweep``: the sweep the run was a point of and the response curve of its siblings in
  its session (report/response_curve.py), or None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..apiclient import without_non_finite
from ..exceptions import ResultError
from ..fio.results import RunResult, parse_result, worker_metrics
from ..fio.timeline import timeline_of
from ..fio.timeseries import timeseries_of
from ..importing.marks import imported_from
from ..store.base import RunRecord
from ..store.wire import run_to_json
from .response_curve import sweep_document
from .timeline_view import timeline_view

#: Bumped when the document changes shape: the site rewrites every run's data then.
RUN_DOCUMENT_FORMAT = 3
#: The note read_ceiling.py stores on a read faster than the storage can be.
CACHE_NOTE = "likely cache hit"
#: Timeline findings (verdicts/validity.py) that say the workers did not share the work
#: evenly, and the one that says the storage stalled.
IMBALANCE_CODES = ("TL001", "TL002", "TL003")
STALL_CODE = "TL004"
#: Latency buckets are powers of two in microseconds: 1 us ... ~17 s is 25 buckets.
LATENCY_BUCKETS = 25


def latency_histogram(bins: Mapping[int, int]) -> list[dict[str, float]]:
    """fio's json+ bins (nanoseconds: count) as power-of-two buckets, empty ends cut."""
    counts = [0] * LATENCY_BUCKETS
    for value_ns, count in bins.items():
        micros = max(value_ns / 1000.0, 1.0)
        counts[min(int(math.log2(micros)), LATENCY_BUCKETS - 1)] += count
    used = [index for index, count in enumerate(counts) if count]
    if not used:
        return []
    return [
        {"le_ms": (2 ** (index + 1)) / 1000.0, "count": counts[index]}
        for index in range(used[0], used[-1] + 1)
    ]


def derived(
    raw: Mapping[str, Any] | None, evidence: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Per-worker figures, latency distributions, time series and the timeline (marked
    with the stored ``evidence``'s findings) of a raw fio document."""
    document: dict[str, Any] = {
        "per_worker": [],
        "latency": {},
        "timeseries": None,
        "timeline": None,
    }
    if not raw:
        return document
    try:
        result: RunResult = parse_result(raw)
    except ResultError as err:
        document["unreadable"] = str(err)
        return document
    document["fio_version"] = result.fio_version
    document["per_worker"] = [
        {
            "worker": worker.name,
            "jobs": worker.jobs,
            "error": worker.error,
            **worker_metrics(worker),
        }
        for worker in result.workers
    ]
    for name, stats in (("read", result.read), ("write", result.write)):
        latency = stats.latency
        if latency is not None and latency.bins:
            document["latency"][name] = {
                "histogram": latency_histogram(latency.bins),
                "percentiles_ms": {str(k): v for k, v in latency.percentiles_ms.items()},
                "min_ms": latency.min_ms,
                "mean_ms": latency.mean_ms,
                "max_ms": latency.max_ms,
                "samples": latency.samples,
            }
    document["timeseries"] = timeseries_of(raw)
    timeline = timeline_of(raw)
    if timeline is not None:
        document["timeline"] = timeline_view(timeline, evidence)
    return document


def run_flags(run: RunRecord) -> list[dict[str, str]]:
    """What a reader must know before trusting the run's figures, from what is stored
    with it: ``{"flag": "cache?" | "unstable" | "imbalance" | "stalls" | "imported",
    "detail": why}``, in that order, each flag once."""
    flags: list[dict[str, str]] = []
    cached = [note for note in run.notes if note.startswith(CACHE_NOTE)]
    if cached:
        flags.append({"flag": "cache?", "detail": "; ".join(cached)})
    if run.verdict == "unstable":
        flags.append({"flag": "unstable", "detail": str(run.evidence.get("reason") or "")})
    findings = (run.evidence.get("timeline") or {}).get("findings") or []
    findings = [f for f in findings if isinstance(f, Mapping)]
    uneven = [str(f.get("message", "")) for f in findings if f.get("code") in IMBALANCE_CODES]
    if uneven:
        flags.append({"flag": "imbalance", "detail": "; ".join(uneven)})
    stalls = [str(f.get("message", "")) for f in findings if f.get("code") == STALL_CODE]
    if stalls:
        flags.append({"flag": "stalls", "detail": "; ".join(stalls)})
    origin = imported_from(run.labels)
    if origin:
        flags.append({"flag": "imported", "detail": f"imported from {origin}"})
    return flags


def run_document(
    run: RunRecord,
    *,
    key_title: str,
    key_page: str,
    session_runs: Sequence[RunRecord] = (),
) -> dict[str, Any]:
    """The JSON-ready document of one run (non-finite numbers become null);
    ``session_runs``: the runs of its session, where its sweep siblings are found."""
    document: dict[str, Any] = without_non_finite(
        {
            "format": RUN_DOCUMENT_FORMAT,
            "key": {"history_key": run.history_key, "title": key_title, "page": key_page},
            "run": run_to_json(run, with_raw=False),
            "derived": derived(run.raw, run.evidence),
            "flags": run_flags(run),
            "sweep": sweep_document(run, session_runs),
        }
    )
    return document
