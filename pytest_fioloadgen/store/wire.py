"""RunRecord and Baseline as JSON documents: the form they travel in over the REST API.

One codec for both ends (the http store and the results server), so a run survives the
round trip exactly: floats go through ``repr`` (json does that), tuples come back as
tuples, and a missing ``raw`` stays None while an empty one stays ``{}``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from ..exceptions import StoreError
from .base import Baseline, RunRecord

#: Counts (workers, repeat) must fit the stores' integer columns with room to spare.
MAX_COUNT = 1_000_000
_FIELDS = {f.name: f for f in dataclasses.fields(RunRecord)}
_REQUIRED = tuple(
    name
    for name, f in _FIELDS.items()
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_TYPES: dict[str, type | tuple[type, ...]] = {
    "run_id": str,
    "session_id": str,
    "profile_name": str,
    "profile_hash": str,
    "profile_text": str,
    "workers": int,
    "backend": str,
    "target": str,
    "started_at": (int, float),
    "finished_at": (int, float),
    "status": str,
    "metrics": dict,
    "labels": dict,
    "fingerprint": dict,
    "notes": list,
    "repeat": int,
    "test_id": str,
    "error": str,
    "history_key": str,
}


def run_to_json(run: RunRecord, *, with_raw: bool = True) -> dict[str, Any]:
    """A JSON-ready dict of every field (``raw`` only when asked for)."""
    document: dict[str, Any] = {
        "run_id": run.run_id,
        "session_id": run.session_id,
        "profile_name": run.profile_name,
        "profile_hash": run.profile_hash,
        "profile_text": run.profile_text,
        "workers": run.workers,
        "backend": run.backend,
        "target": run.target,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "metrics": dict(run.metrics),
        "labels": dict(run.labels),
        "fingerprint": dict(run.fingerprint),
        "notes": list(run.notes),
        "repeat": run.repeat,
        "test_id": run.test_id,
        "verdict": run.verdict,
        "error": run.error,
        "history_key": run.history_key,
    }
    if with_raw:
        document["raw"] = None if run.raw is None else dict(run.raw)
    return document


def run_from_json(document: Any, *, where: str = "run") -> RunRecord:
    """Check a decoded document and build the RunRecord; StoreError names the bad field."""
    if not isinstance(document, Mapping):
        raise StoreError(f"{where}: expected a JSON object, got {type(document).__name__}")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise StoreError(f"{where}: unknown field {unknown[0]!r}")
    missing = [name for name in _REQUIRED if name not in document]
    if missing:
        raise StoreError(f"{where}: missing field {missing[0]!r}")
    values: dict[str, Any] = {}
    for name, value in document.items():
        expected = _TYPES.get(name)
        # bool is an int to Python; a JSON true is never a worker count or a time.
        if expected is not None and (
            not isinstance(value, expected) or (isinstance(value, bool) and expected is not dict)
        ):
            raise StoreError(f"{where}: field {name!r} has the wrong type")
        values[name] = value
    if not isinstance(values.get("verdict"), str | None):
        raise StoreError(f"{where}: field 'verdict' must be a string or null")
    raw = values.get("raw")
    if raw is not None and not isinstance(raw, dict):
        raise StoreError(f"{where}: field 'raw' must be an object or null")
    for name, value in values.get("metrics", {}).items():
        # Standard JSON has no NaN: an unmeasurable metric travels as null.
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise StoreError(f"{where}: metric {name!r} is not a number")
    for name, value in values.get("labels", {}).items():
        if not isinstance(value, str):
            raise StoreError(f"{where}: label {name!r} is not a string")
    if not all(isinstance(note, str) for note in values.get("notes", [])):
        raise StoreError(f"{where}: every note must be a string")
    for name in ("workers", "repeat"):
        if name in values and not 0 <= values[name] <= MAX_COUNT:
            raise StoreError(f"{where}: field {name!r} must be from 0 to {MAX_COUNT}")
    try:
        values["started_at"] = float(values["started_at"])
        values["finished_at"] = float(values["finished_at"])
        values["metrics"] = {
            name: math.nan if value is None else float(value)
            for name, value in values.get("metrics", {}).items()
        }
    except OverflowError as err:
        raise StoreError(f"{where}: a number is out of range ({err})") from err
    values["notes"] = tuple(values.get("notes", ()))
    return RunRecord(**values)


def baseline_to_json(baseline: Baseline) -> dict[str, Any]:
    return {
        "name": baseline.name,
        "run_ids": list(baseline.run_ids),
        "created_at": baseline.created_at,
        "note": baseline.note,
    }


def baseline_from_json(document: Any, *, where: str = "baseline") -> Baseline:
    try:
        return Baseline(
            name=str(document["name"]),
            run_ids=tuple(str(run_id) for run_id in document["run_ids"]),
            created_at=float(document["created_at"]),
            note=str(document.get("note", "")),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise StoreError(f"{where}: not a baseline document ({err})") from err
