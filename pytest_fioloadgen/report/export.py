"""The session's results as one JSON document (``--fio-json``)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..fio.results import worker_metrics
from ..session import CaseOutcome

SCHEMA_VERSION = 1


def outcome_document(outcome: CaseOutcome) -> dict[str, Any]:
    record = outcome.record
    return {
        "case": outcome.case.id,
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
        "per_worker": {worker.name: worker_metrics(worker) for worker in outcome.result.workers},
        "verdict": {
            "status": outcome.verdict.status,
            "checks": [
                {
                    "metric": check.limit.metric,
                    "bound": check.limit.bound,
                    "limit": check.limit.value,
                    "measured": check.measured,
                    "worker": check.worker,
                    "passed": check.passed,
                    "source": check.limit.source,
                }
                for check in outcome.verdict.checks
            ],
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
