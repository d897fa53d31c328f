"""A run as one JSON document: what a run page shows, derived once from the stored record.

The static site writes one such document per run and a single page (``run.html``) renders
any of them, so a site of 100k runs is 100k small data files rather than 100k pages of
charts. The document carries

* ``run``: every field of the stored record (store.wire, without the raw fio document),
  so whatever the record holds (verdict, comparisons, fingerprint, notes, profile text,
  fields added later) reaches the page, which renders unknown fields generically;
* ``derived``: what the page needs from the raw fio document, computed here with the
  package's own result parser (per-worker figures, the latency distribution from the
  merged json+ bins, the time series), so the page never needs the raw document itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..apiclient import without_non_finite
from ..exceptions import ResultError
from ..fio.results import RunResult, parse_result, worker_metrics
from ..fio.timeline import timeline_of
from ..fio.timeseries import timeseries_of
from ..store.base import RunRecord
from ..store.wire import run_to_json
from .timeline_view import timeline_view

#: Bumped when the document changes shape: the site rewrites every run's data then.
RUN_DOCUMENT_FORMAT = 2
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


def run_document(run: RunRecord, *, key_title: str, key_page: str) -> dict[str, Any]:
    """The JSON-ready document of one run (non-finite numbers become null)."""
    document: dict[str, Any] = without_non_finite(
        {
            "format": RUN_DOCUMENT_FORMAT,
            "key": {"history_key": run.history_key, "title": key_title, "page": key_page},
            "run": run_to_json(run, with_raw=False),
            "derived": derived(run.raw, run.evidence),
        }
    )
    return document
