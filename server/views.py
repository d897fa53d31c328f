"""What the API shows of a run: per-worker figures and the latency distribution, derived
from the stored fio document with the package's own result parser (merged histograms,
never averaged percentiles)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pytest_fioloadgen.exceptions import ResultError
from pytest_fioloadgen.fio.results import RunResult, parse_result, worker_metrics
from pytest_fioloadgen.gating import Thresholds
from pytest_fioloadgen.key_summary import series_summary
from pytest_fioloadgen.store.base import RunRecord, Store
from pytest_fioloadgen.store.history_index import SeriesRead, metric_series

from .gating_overlay import history_overlay

#: Latency buckets are powers of two in microseconds: 1 us ... ~17 s is 25 buckets.
_BUCKETS = 25


def _histogram(bins: Mapping[int, int]) -> list[dict[str, float]]:
    counts = [0] * _BUCKETS
    for value_ns, count in bins.items():
        micros = max(value_ns / 1000.0, 1.0)
        index = min(int(math.log2(micros)), _BUCKETS - 1)
        counts[index] += count
    last = max((i for i, count in enumerate(counts) if count), default=-1)
    first = min((i for i, count in enumerate(counts) if count), default=0)
    return [{"le_ms": (2 ** (i + 1)) / 1000.0, "count": counts[i]} for i in range(first, last + 1)]


def run_detail(run: RunRecord) -> dict[str, Any]:
    """Per-worker metrics and latency histograms of a run (empty when it has no output)."""
    detail: dict[str, Any] = {"per_worker": [], "latency": {}, "fio_version": ""}
    if not run.raw:
        return detail
    try:
        result: RunResult = parse_result(run.raw)
    except ResultError:
        return detail
    detail["fio_version"] = result.fio_version
    detail["per_worker"] = [
        {
            "worker": worker.name,
            "jobs": worker.jobs,
            "error": worker.error,
            **worker_metrics(worker),
        }
        for worker in result.workers
    ]
    for name, stats in (("read", result.read), ("write", result.write)):
        if stats.latency is not None and stats.latency.bins:
            detail["latency"][name] = {
                "histogram": _histogram(stats.latency.bins),
                "percentiles_ms": dict(stats.latency.percentiles_ms),
                "min_ms": stats.latency.min_ms,
                "mean_ms": stats.latency.mean_ms,
                "max_ms": stats.latency.max_ms,
                "samples": stats.latency.samples,
            }
    return detail


def series(read: SeriesRead) -> list[dict[str, Any]]:
    """A metric over time, oldest first; runs without the metric are left out."""
    points = []
    for point in reversed(read.points):
        if not math.isfinite(point.value):
            continue
        points.append(
            {
                "run_id": point.run_id,
                "started_at": point.started_at,
                "value": point.value,
                "status": point.status,
                "verdict": point.verdict,
                # Only what a chart tooltip or link needs: a series can be 5000 points.
                "title": point.labels.get("job_title") or point.test_id or point.run_id,
            }
        )
    return points


def history_document(
    store: Store,
    key: str,
    metric: str,
    *,
    limit: int,
    thresholds: Thresholds | None = None,
) -> dict[str, Any] | None:
    """The newest ``limit`` runs of a key with the overlay of its whole history (None when
    the key has no runs). Change points and the baseline band come from the key's cached
    summary; no raw fio document is read."""
    read = metric_series(store, key, metric, limit=limit)
    if not read.points:
        return None
    points = series(read)
    summary = series_summary(store, key, metric, read=read)
    newest = store.query(history_key=key, limit=1)
    case = newest[0] if newest else None
    overlay = history_overlay(
        metric,
        points,
        summary,
        thresholds=thresholds,
        profile=case.profile_name if case else None,
        workers=case.workers if case else None,
    )
    return {
        "history_key": key,
        "metric": metric,
        "case": None
        if case is None
        else {
            "profile": case.profile_name,
            "workers": case.workers,
            "backend": case.backend,
            "target": case.target,
        },
        "points": points,
        **overlay,
    }
