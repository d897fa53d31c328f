"""RunRecord and Baseline as JSON documents: the form they travel in over the REST API.

One codec for both ends (the http store and the results server), so a run survives the
round trip exactly: floats go through ``repr`` (json does that), tuples come back as
tuples, and a missing ``raw`` stays None while an empty one stays ``{}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ..exceptions import StoreError
from .base import Baseline, RunRecord, check_run_id
from .schema import FIELDS_BY_NAME, MAX_COUNT, MAX_TIME, REQUIRED, RUN_FIELDS

_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "count": int,
    "time": (int, float),
    "object": dict,
    "strings": list,
    "metrics": dict,
    "labels": dict,
}


def run_to_json(run: RunRecord, *, with_raw: bool = True) -> dict[str, Any]:
    """A JSON-ready dict of every field (``raw`` only when asked for)."""
    document: dict[str, Any] = {}
    for spec in RUN_FIELDS:
        if spec.kind == "raw" and not with_raw:
            continue
        value = getattr(run, spec.name)
        if spec.kind in ("object", "metrics", "labels"):
            value = dict(value)
        elif spec.kind == "strings":
            value = list(value)
        elif spec.kind == "raw":
            value = None if value is None else dict(value)
        document[spec.name] = value
    return document


def json_text(document: Any) -> str:
    """Standard, compact JSON (NaN and infinities become null: browsers cannot parse them)."""
    try:
        return json.dumps(document, allow_nan=False, separators=(",", ":"))
    except ValueError:
        # Imported here: the client module brings requests, which a local store never needs.
        from ..apiclient import without_non_finite

        return json.dumps(without_non_finite(document), allow_nan=False, separators=(",", ":"))


def run_json_text(run: RunRecord, *, with_raw: bool = True, raw_text: str | None = None) -> str:
    """``run_to_json(run)`` as JSON text; ``raw_text``, fio's document as stored (JSON
    text), is placed as it is instead of ``run.raw``: a bulk read of thousands of runs
    spent most of its time and garbage parsing and encoding those documents again."""
    if raw_text is None or not with_raw:
        return json_text(run_to_json(run, with_raw=with_raw))
    if "NaN" in raw_text or "Infinity" in raw_text:
        # Python's json wrote non-standard numbers: parsed, they become null.
        return json_text({**run_to_json(run, with_raw=False), "raw": json.loads(raw_text)})
    return json_text(run_to_json(run, with_raw=False))[:-1] + ',"raw":' + raw_text + "}"


def run_from_json(document: Any, *, where: str = "run") -> RunRecord:
    """Check a decoded document and build the RunRecord; StoreError names the bad field."""
    if not isinstance(document, Mapping):
        raise StoreError(f"{where}: expected a JSON object, got {type(document).__name__}")
    unknown = sorted(set(document) - set(FIELDS_BY_NAME))
    if unknown:
        raise StoreError(f"{where}: unknown field {unknown[0]!r}")
    missing = [name for name in REQUIRED if name not in document]
    if missing:
        raise StoreError(f"{where}: missing field {missing[0]!r}")
    values: dict[str, Any] = {}
    for name, value in document.items():
        kind = FIELDS_BY_NAME[name].kind
        if kind == "optional-text":
            if not isinstance(value, str | None):
                raise StoreError(f"{where}: field {name!r} must be a string or null")
        elif kind == "raw":
            if value is not None and not isinstance(value, dict):
                raise StoreError(f"{where}: field {name!r} must be an object or null")
        else:
            expected = _PYTHON_TYPES[kind]
            # bool is an int to Python; a JSON true is never a worker count or a time.
            if not isinstance(value, expected) or isinstance(value, bool):
                raise StoreError(f"{where}: field {name!r} has the wrong type")
        if kind == "count" and not 0 <= value <= MAX_COUNT:
            raise StoreError(f"{where}: field {name!r} must be from 0 to {MAX_COUNT}")
        if kind == "time" and not (math.isfinite(value) and 0 <= value <= MAX_TIME):
            raise StoreError(f"{where}: field {name!r} is not a time (seconds since the epoch)")
        if kind == "strings" and not all(isinstance(item, str) for item in value):
            raise StoreError(f"{where}: every item of {name!r} must be a string")
        if kind == "labels":
            for label, text in value.items():
                if not isinstance(text, str):
                    raise StoreError(f"{where}: label {label!r} is not a string")
        if kind == "metrics":
            for metric, number in value.items():
                # Standard JSON has no NaN: an unmeasurable metric travels as null.
                if number is None:
                    continue
                if not isinstance(number, int | float) or isinstance(number, bool):
                    raise StoreError(f"{where}: metric {metric!r} is not a number")
        values[name] = value
    check_run_id(values["run_id"], where=where)
    try:
        for spec in RUN_FIELDS:
            if spec.name not in values:
                continue
            if spec.kind == "time":
                values[spec.name] = float(values[spec.name])
            elif spec.kind == "metrics":
                values[spec.name] = {
                    metric: math.nan if number is None else float(number)
                    for metric, number in values[spec.name].items()
                }
            elif spec.kind == "strings":
                values[spec.name] = tuple(values[spec.name])
    except OverflowError as err:
        raise StoreError(f"{where}: a number is out of range ({err})") from err
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
