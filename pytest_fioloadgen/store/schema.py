"""The run record schema, derived once from RunRecord's fields and their metadata.

Every form a run takes is driven from here: the JSON wire form and its checks
(store.wire), the sqlite columns (store.sqlite; a column the file lacks is added when it
is opened), the TinyDB document (store.tinydb_store) and the OpenAPI document of the
results server. A new run field is one field of RunRecord.

Kinds:

* ``text``, ``optional-text``: a string (or null); a sqlite TEXT column;
* ``count``: a non-negative integer up to MAX_COUNT; an INTEGER column;
* ``time``: seconds since the epoch (finite); a REAL column;
* ``object``: a JSON object; a TEXT column holding JSON;
* ``strings``: a list of strings; a TEXT column holding JSON;
* ``metrics``, ``labels``: name -> number (null: not measurable) / name -> string; child
  tables of their own in sqlite (so filters and series are index lookups);
* ``raw``: fio's JSON document or null; compressed, apart from the row.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import RunRecord

#: Counts (workers, repeat) must fit the stores' integer columns with room to spare.
MAX_COUNT = 1_000_000
#: Times beyond this (year 2554) are not a run's.
MAX_TIME = 2**34


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    doc: str
    required: bool
    default: Any
    #: A regular expression a text value must match (the run id's rule), or None.
    pattern: str | None = None

    @property
    def column(self) -> bool:
        """Stored as a column of the runs table (the others have tables of their own)."""
        return self.kind not in ("metrics", "labels", "raw")

    @property
    def sqlite_type(self) -> str:
        return {"count": "INTEGER", "time": "REAL"}.get(self.kind, "TEXT")

    def to_column(self, value: Any) -> Any:
        if self.kind == "object":
            return json.dumps(dict(value), ensure_ascii=False)
        if self.kind == "strings":
            return json.dumps(list(value), ensure_ascii=False)
        return value

    def from_column(self, value: Any) -> Any:
        if self.kind == "object":
            return json.loads(value) if value else {}
        if self.kind == "strings":
            return tuple(json.loads(value)) if value else ()
        return value

    @property
    def sqlite_default(self) -> str:
        """The DEFAULT of a column added to an older file (a literal of our own)."""
        if self.kind == "optional-text":
            return "NULL"
        if self.kind in ("count", "time"):
            return "0"
        if self.kind == "object":
            return "'{}'"
        if self.kind == "strings":
            return "'[]'"
        return "''"

    def json_schema(self) -> dict[str, Any]:
        schemas: dict[str, dict[str, Any]] = {
            "text": {"type": "string"},
            "optional-text": {"type": ["string", "null"]},
            "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
            "time": {"type": "number", "minimum": 0, "maximum": MAX_TIME},
            "object": {"type": "object"},
            "strings": {"type": "array", "items": {"type": "string"}},
            "metrics": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "raw": {"type": ["object", "null"]},
        }
        schema = {**schemas[self.kind], "description": self.doc}
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        return schema


def _spec(item: dataclasses.Field[Any]) -> FieldSpec:
    required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
    if item.default is not dataclasses.MISSING:
        default: Any = item.default
    elif item.default_factory is not dataclasses.MISSING:
        default = item.default_factory()
    else:
        default = None
    return FieldSpec(
        item.name,
        item.metadata["kind"],
        item.metadata["doc"],
        required,
        default,
        item.metadata.get("pattern"),
    )


RUN_FIELDS: tuple[FieldSpec, ...] = tuple(_spec(item) for item in dataclasses.fields(RunRecord))
FIELDS_BY_NAME: Mapping[str, FieldSpec] = {spec.name: spec for spec in RUN_FIELDS}
REQUIRED: tuple[str, ...] = tuple(spec.name for spec in RUN_FIELDS if spec.required)
COLUMNS: tuple[FieldSpec, ...] = tuple(spec for spec in RUN_FIELDS if spec.column)


def run_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a run document."""
    return {
        "type": "object",
        "required": list(REQUIRED),
        "properties": {spec.name: spec.json_schema() for spec in RUN_FIELDS},
        "additionalProperties": False,
    }


def openapi_30(schema: Any) -> Any:
    """A JSON Schema in OpenAPI 3.0's dialect: ``"type": [T, "null"]`` becomes
    ``"type": T, "nullable": true``."""
    if isinstance(schema, list):
        return [openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: openapi_30(value) for key, value in schema.items()}
    kinds = converted.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        others = [kind for kind in kinds if kind != "null"]
        converted["type"] = others[0] if len(others) == 1 else others
        converted["nullable"] = True
    return converted
