"""What a run query asks for, one page of its answer, and how both travel as URL query
parameters.

``RunQuery`` is the one description of a run filter, its page and whether fio's raw
documents are wanted. The stores build their selection from it (sqlite: one WHERE; the
TinyDB store: ``matches`` and ``page_of``); the http store and the results server
translate it to and from query parameters with ``to_params`` and ``from_params``; the
server's OpenAPI document lists the parameters from ``QUERY_PARAMS``. A new filter is one
field here (its metadata names its parameter) plus its support in each store.

Pages are keyset pages: a page ends with a ``Cursor`` (the sort key of its last run) and
the next starts after it, so a deep page costs what the first does. ``offset`` is kept
for the clients that page by position (the API took it before cursors).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import StoreError
from ..verdicts.status import STATUSES
from .base import RunRecord
from .schema import MAX_COUNT, MAX_TIME

#: Positions a page may start at (``offset``): what the API accepted before cursors.
MAX_OFFSET = 10**9
#: Longest cursor text taken: a run id (100 characters), a time and a flag, base64.
MAX_CURSOR = 400


@dataclass(frozen=True)
class QueryParam:
    """How one RunQuery field travels as a URL query parameter."""

    #: The parameter's name; ``aliases`` are other names it is also read from.
    name: str
    #: text, count, time, verdict, labels, flag, cursor, limit or offset.
    kind: str
    doc: str
    aliases: tuple[str, ...] = ()
    #: The RunQuery field (set from the field the metadata is on).
    field: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _param(name: str, kind: str, doc: str, *aliases: str) -> dict[str, QueryParam]:
    return {"param": QueryParam(name, kind, doc, aliases)}


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the sort key of its last entry, newest first. The next page
    holds what sorts after it (older, or as old with a smaller run id)."""

    started_at: float
    run_id: str
    #: The page ended among entries listed before the runs (server.catalog: jobs that
    #: have no run yet); the next page goes on among those.
    pending: bool = False

    def encode(self) -> str:
        """The cursor as URL-safe text (opaque to clients)."""
        document: list[Any] = [self.started_at, self.run_id]
        if self.pending:
            document.append(1)
        text = json.dumps(document, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``encode`` made; ValueError for any other text."""
        if len(text) > MAX_CURSOR:
            raise ValueError(f"longer than {MAX_CURSOR} characters")
        try:
            document = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, UnicodeDecodeError, ValueError) as err:
            raise ValueError("not a cursor this server made") from err
        if (
            not isinstance(document, list)
            or len(document) not in (2, 3)
            or isinstance(document[0], bool)
            or not isinstance(document[0], int | float)
            or not math.isfinite(document[0])
            or not isinstance(document[1], str)
            or document[2:] not in ([], [1])
        ):
            raise ValueError("not a cursor this server made")
        return cls(float(document[0]), document[1], pending=len(document) == 3)


@dataclass(frozen=True)
class RunQuery:
    """A run query: every given filter must match; newest first (started_at, then run id).

    ``test``: a test part (identity.case_test_part: a node id without its parameters, or
    ``job``), matching every parametrized run of it. ``text``: a substring of the profile
    name, the test id or the job title label. ``since``/``until``: started_at bounds.
    ``labels``: runs carrying every given key=value pair. ``limit``: at most that many
    runs (None: all); ``after``: only runs after that cursor; ``offset``: skip that many
    more. ``with_raw``: load fio's documents too (listings leave them out, so reading
    long histories stays cheap).
    """

    profile_name: str | None = field(
        default=None, metadata=_param("profile_name", "text", "the profile's name", "profile")
    )
    profile_hash: str | None = field(
        default=None, metadata=_param("profile_hash", "text", "sha256 of the profile text")
    )
    workers: int | None = field(
        default=None, metadata=_param("workers", "count", "how many fio workers ran it")
    )
    backend: str | None = field(
        default=None, metadata=_param("backend", "text", "local, static or kubernetes")
    )
    target: str | None = field(
        default=None, metadata=_param("target", "text", "the storage target")
    )
    session_id: str | None = field(
        default=None, metadata=_param("session_id", "text", "the session it ran in", "session")
    )
    history_key: str | None = field(
        default=None, metadata=_param("history_key", "text", "history key", "key")
    )
    test: str | None = field(
        default=None,
        metadata=_param("test", "text", "test part: node id without parameters, or job"),
    )
    verdict: str | None = field(
        default=None, metadata=_param("verdict", "verdict", "the run's status (pass, fail...)")
    )
    status: str | None = field(
        default=None, metadata=_param("status", "text", "complete, or failed")
    )
    labels: Mapping[str, str] | None = field(
        default=None, metadata=_param("label", "labels", "KEY=VALUE, repeatable")
    )
    since: float | None = field(
        default=None, metadata=_param("since", "time", "started at or after (epoch s)")
    )
    until: float | None = field(
        default=None, metadata=_param("until", "time", "started at or before (epoch s)")
    )
    text: str | None = field(
        default=None,
        metadata=_param("q", "text", "substring of the title, test id or profile", "title"),
    )
    limit: int | None = field(
        default=None, metadata=_param("limit", "limit", "at most this many runs")
    )
    after: Cursor | None = field(
        default=None,
        metadata=_param("cursor", "cursor", "where the previous page ended (its next_cursor)"),
    )
    offset: int = field(
        default=0, metadata=_param("offset", "offset", "skip this many more (prefer cursor)")
    )
    with_raw: bool = field(
        default=False, metadata=_param("with_raw", "flag", "with fio's JSON documents")
    )

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise StoreError(f"run query limit {self.limit} is negative")
        if self.offset < 0:
            raise StoreError(f"run query offset {self.offset} is negative")

    @classmethod
    def of(cls, query: RunQuery | None, filters: Mapping[str, Any]) -> RunQuery:
        """``query`` with ``filters`` (RunQuery field names) applied: what the stores'
        keyword form (``store.query(history_key=k, limit=1)``) means."""
        base = query if query is not None else cls()
        try:
            return dataclasses.replace(base, **filters)
        except TypeError as err:
            raise StoreError(f"run query: {err}") from err

    def matches(self, run: RunRecord) -> bool:
        """The filters applied to one run (stores that filter in Python use this)."""
        equal = (
            (self.profile_name, run.profile_name),
            (self.profile_hash, run.profile_hash),
            (self.workers, run.workers),
            (self.backend, run.backend),
            (self.target, run.target),
            (self.session_id, run.session_id),
            (self.history_key, run.history_key),
            (self.verdict, run.verdict),
            (self.status, run.status),
        )
        if any(wanted is not None and wanted != value for wanted, value in equal):
            return False
        if self.test is not None and not (
            run.test_id == self.test or run.test_id.startswith(self.test + "[")
        ):
            return False
        if any(run.labels.get(key) != value for key, value in (self.labels or {}).items()):
            return False
        if self.since is not None and run.started_at < self.since:
            return False
        if self.until is not None and run.started_at > self.until:
            return False
        if self.text:
            haystack = (run.profile_name, run.test_id, run.labels.get("job_title", ""))
            if not any(self.text.lower() in value.lower() for value in haystack):
                return False
        return True

    def page_of(self, runs: Iterable[RunRecord]) -> RunPage:
        """The query over runs held in memory: the matching ones, newest first, after
        the cursor and the offset, at most ``limit``; the total counts every match."""
        found = sorted((run for run in runs if self.matches(run)), key=newest_first, reverse=True)
        total = len(found)
        if self.after is not None:
            key = (self.after.started_at, self.after.run_id)
            found = [run for run in found if newest_first(run) < key]
        return RunPage.cut(found[self.offset :], self.limit, total)


def newest_first(run: RunRecord) -> tuple[float, str]:
    """The sort key of every run listing (descending)."""
    return (run.started_at, run.run_id)


@dataclass(frozen=True)
class RunPage:
    """One page of a query, newest first, how many runs match in all, and where the next
    page starts (None: this is the last)."""

    runs: list[RunRecord]
    total: int
    next: Cursor | None = None

    @classmethod
    def cut(cls, runs: Sequence[RunRecord], limit: int | None, total: int) -> RunPage:
        """The first ``limit`` of ``runs`` (which may hold one more, to tell that a next
        page exists) with the cursor after the last of them when more follow."""
        if limit is None or len(runs) <= limit:
            return cls(list(runs), total)
        page = list(runs[:limit])
        last = page[-1] if page else None
        cursor = Cursor(last.started_at, last.run_id) if last is not None else None
        return cls(page, total, cursor)


QUERY_PARAMS: tuple[QueryParam, ...] = tuple(
    dataclasses.replace(spec.metadata["param"], field=spec.name)
    for spec in dataclasses.fields(RunQuery)
)
PARAMS_BY_FIELD = {param.field: param for param in QUERY_PARAMS}
#: The filters (every parameter but the page and with_raw).
FILTER_PARAMS = tuple(
    param for param in QUERY_PARAMS if param.kind not in ("limit", "cursor", "offset", "flag")
)


@dataclass(frozen=True)
class PageSize:
    """The ``limit`` an endpoint takes: its default (None: no bound) and range."""

    default: int | None
    low: int
    high: int


def to_params(query: RunQuery) -> list[tuple[str, str]]:
    """The query as URL query parameters (what ``from_params`` reads back)."""
    params: list[tuple[str, str]] = []
    for param in QUERY_PARAMS:
        value = getattr(query, param.field)
        if value is None or value is False or (param.kind == "offset" and value == 0):
            continue
        if param.kind == "labels":
            params += [(param.name, f"{key}={item}") for key, item in value.items()]
        elif param.kind == "cursor":
            params.append((param.name, value.encode()))
        elif param.kind == "flag":
            params.append((param.name, "true"))
        elif param.kind == "time":
            params.append((param.name, repr(float(value))))
        else:
            params.append((param.name, str(value)))
    return params


def from_params(
    params: Mapping[str, Sequence[str]],
    *,
    page: PageSize,
    skip: Iterable[str] = (),
) -> RunQuery:
    """The query URL query parameters ask for (``params``: every value of each name, as
    text). Empty values count as not given. StoreError with one line naming the parameter
    for a value that is not one. ``skip``: fields the caller reads itself."""
    skipped = set(skip)
    values: dict[str, Any] = {}
    for param in QUERY_PARAMS:
        if param.field in skipped:
            continue
        if param.kind == "labels":
            pairs = [pair for name in param.names for pair in params.get(name, ()) if pair]
            if pairs:
                values[param.field] = _labels(param.name, pairs)
            continue
        raw = next((v for name in param.names for v in params.get(name, ()) if v), None)
        if raw is None:
            if param.kind == "limit":
                values[param.field] = page.default
            continue
        values[param.field] = _value(param, raw, page)
    return RunQuery(**values)


def _labels(name: str, pairs: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise StoreError(f"query parameter {name}={pair[:80]!r} is not KEY=VALUE")
        labels[key] = value
    return labels


def _value(param: QueryParam, raw: str, page: PageSize) -> Any:
    shown = f"query parameter {param.name}={raw[:80]!r}"
    if param.kind == "text":
        return raw
    if param.kind == "verdict":
        if raw not in STATUSES:
            raise StoreError(f"{shown} must be one of {', '.join(STATUSES)}")
        return raw
    if param.kind == "flag":
        if raw not in ("true", "false"):
            raise StoreError(f"{shown} must be one of true, false")
        return raw == "true"
    if param.kind == "cursor":
        try:
            return Cursor.decode(raw)
        except ValueError as err:
            raise StoreError(f"{shown} is not a page cursor ({err})") from err
    if param.kind == "time":
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 <= value <= MAX_TIME:
            raise StoreError(f"{shown} is not a time (seconds since the epoch)")
        return value
    bounds = _bounds(param.kind, page)
    assert bounds is not None, param.kind
    return _integer(param.name, raw, *bounds)


def _bounds(kind: str, page: PageSize) -> tuple[int, int] | None:
    """The range of an integer parameter (None: not an integer)."""
    return {
        "count": (0, MAX_COUNT),
        "limit": (page.low, page.high),
        "offset": (0, MAX_OFFSET),
    }.get(kind)


def _integer(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise StoreError(f"query parameter {name}={raw[:80]!r} is not an integer") from None
    if not low <= value <= high:
        raise StoreError(f"query parameter {name}={value} must be from {low} to {high}")
    return value


#: The OpenAPI schemas of the parameters that are not integers.
_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "labels": {"type": "string"},
    "time": {"type": "number", "minimum": 0, "maximum": MAX_TIME},
    "verdict": {"type": "string", "enum": list(STATUSES)},
    "flag": {"type": "string", "enum": ["true", "false"]},
    "cursor": {"type": "string", "maxLength": MAX_CURSOR},
}


def openapi_parameter(param: QueryParam, page: PageSize) -> dict[str, Any]:
    """The OpenAPI 3 description of one parameter (server/openapi.py lists them)."""
    schema: dict[str, Any]
    bounds = _bounds(param.kind, page)
    if bounds is not None:
        schema = {"type": "integer", "minimum": bounds[0], "maximum": bounds[1]}
    else:
        schema = dict(_SCHEMAS[param.kind])
    doc = param.doc
    if param.aliases:
        doc += f" (also read as {', '.join(param.aliases)})"
    return {
        "name": param.name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": doc,
    }
