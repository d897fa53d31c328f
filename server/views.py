"""What the API shows of a run: per-worker figures and the latency distribution, derived
from the stored fio document with the package's own result parser (merged histograms,
never averaged percentiles)."""

from __future__ import annotations

import math
from typing import Any

from pytest_fioloadgen.report.run_document import derived
from pytest_fioloadgen.store.base import RunRecord, Store
from pytest_fioloadgen.store.history_index import SeriesRead, metric_series
from pytest_fioloadgen.verdicts.summaries import series_summary
from pytest_fioloadgen.verdicts.thresholds import Thresholds

from .history_overlay import history_overlay


def run_detail(run: RunRecord) -> dict[str, Any]:
    """Per-worker metrics and latency histograms of a run (empty when it has no output),
    derived as the static site's run pages derive them (report.run_document)."""
    detail = derived(run.raw)
    return {
        "per_worker": detail["per_worker"],
        "latency": detail["latency"],
        "fio_version": detail.get("fio_version", ""),
    }


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
