"""The session's results as one JSON document (``--fio-json``)."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..cases import CaseOutcome
from ..fio.results import LATENCY_METRICS, THROUGHPUT_METRICS, higher_is_better, worker_metrics
from ..fio.spectrum import spectrum_measures
from .terminal import short_test

SCHEMA_VERSION = 1


def outcome_document(outcome: CaseOutcome) -> dict[str, Any]:
    record = outcome.record
    return {
        "case": outcome.case.id,
        "test": outcome.case.test,
        "run_id": record.run_id,
        "test_id": record.test_id,
        "profile": {
            "name": record.profile_name,
            "hash": record.profile_hash,
            "text": record.profile_text,
            "notes": list(record.notes),
        },
        "workers": record.workers,
        "target": record.target,
        "backend": record.backend,
        "repeat": record.repeat,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "metrics": dict(record.metrics),
        # The latency at the fixed ladder of quantiles, per direction (ms; null: too few
        # I/Os for that quantile).
        "spectrum": {direction: dict(ladder) for direction, ladder in record.spectrum.items()},
        "per_worker": {worker.name: worker_metrics(worker) for worker in outcome.result.workers},
        "history_key": record.history_key,
        "confirmation": outcome.confirmation,
        "cache_note": outcome.cache_note,
        # The stored verdict and its evidence, as every other view shows them.
        "comparisons": list(record.evidence.get("comparisons", [])),
        "verdict": {
            "status": record.verdict,
            "reason": record.evidence.get("reason", ""),
            "checks": list(record.evidence.get("checks", [])),
        },
    }


def session_document(
    session_id: str,
    outcomes: Sequence[CaseOutcome],
    *,
    labels: Mapping[str, str],
    fingerprint: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"pytest-fioloadgen {__version__}",
        "session_id": session_id,
        "labels": dict(labels),
        "fingerprint": dict(fingerprint or {}),
        "runs": [outcome_document(outcome) for outcome in outcomes],
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def _samples_by_case(outcomes: Sequence[CaseOutcome]) -> dict[str, dict[str, list[float]]]:
    """Metric samples per case, repeats and confirmation runs of a case pooled."""
    cases: dict[str, dict[str, list[float]]] = {}
    for outcome in outcomes:
        test, case_name, workers, target = outcome.case.key
        name = f"{case_name}-w{workers}-{target}"
        if test:
            name = f"{short_test(test)}/{name}"
        measures = {**outcome.result.metrics, **spectrum_measures(outcome.record.spectrum)}
        for metric, value in measures.items():
            cases.setdefault(name, {}).setdefault(metric, []).append(value)
    return cases


def bencher_metric_format(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}.

    The value is the median over a case's repeats, the bounds their extremes.
    """
    document: dict[str, Any] = {}
    for name, metrics in _samples_by_case(outcomes).items():
        document[name] = {
            metric: {
                "value": statistics.median(values),
                "lower_value": min(values),
                "upper_value": max(values),
            }
            for metric, values in sorted(metrics.items())
        }
    return document


_UNITS = {"iops": "IOPS", "bw_mib_s": "MiB/s", "iops_per_worker": "IOPS", "_ms": "ms"}


def _unit(metric: str) -> str:
    for suffix, unit in _UNITS.items():
        if metric.endswith(suffix):
            return unit
    return ""


def github_action_benchmark(outcomes: Sequence[CaseOutcome]) -> dict[str, list[dict[str, Any]]]:
    """github-action-benchmark "custom" tool entries, split by direction.

    Returns {"bigger": [...], "smaller": [...]} for customBiggerIsBetter and
    customSmallerIsBetter; each entry is {name, unit, value, range, extra}.
    """
    split: dict[str, list[dict[str, Any]]] = {"bigger": [], "smaller": []}
    for name, metrics in _samples_by_case(outcomes).items():
        for metric, values in sorted(metrics.items()):
            if metric not in THROUGHPUT_METRICS and metric not in LATENCY_METRICS:
                continue
            center = statistics.median(values)
            half_range = (max(values) - min(values)) / 2
            split["bigger" if higher_is_better(metric) else "smaller"].append(
                {
                    "name": f"{name} {metric}",
                    "unit": _unit(metric),
                    "value": center,
                    "range": f"± {half_range:.6g}",
                    "extra": f"{len(values)} sample(s)",
                }
            )
    return split


def write_github_action_benchmark(directory: Path, outcomes: Sequence[CaseOutcome]) -> list[Path]:
    """Write bigger-is-better.json and smaller-is-better.json into ``directory``."""
    split = github_action_benchmark(outcomes)
    written = []
    for direction, entries in split.items():
        path = directory / f"{direction}-is-better.json"
        _write_list(path, entries)
        written.append(path)
    return written


def _write_list(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(entries, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
