"""The OpenAPI 3 document of /api/v1 (tests check it names exactly the app's routes and
run schemathesis against it)."""

from __future__ import annotations

from typing import Any

from pytest_fioloadgen import __version__
from pytest_fioloadgen.store.query import QUERY_PARAMS, PageSize, openapi_parameter
from pytest_fioloadgen.store.schema import openapi_30, run_json_schema

from .api_v1 import (
    EXPORT_FORMAT,
    EXPORT_PAGE,
    EXPORT_VERSION,
    JOB_PAGE,
    MAX_COMPARE,
    MAX_HISTORY_KEYS,
    MAX_LAST_SESSIONS,
    MAX_SERIES,
    MAX_SESSIONS,
    MAX_SET_RUNS,
    RUNS_PAGE,
    SEARCH_PAGE,
)
from .builder import (
    BLOCK_SIZE_FORM,
    IODEPTH,
    MAX_BLOCK,
    MAX_SIZE,
    MIN_BLOCK,
    MIN_SIZE,
    READ_PCT,
    RUNTIME_S,
    SIZE_FORM,
    human_size,
)
from .context import MAX_TITLE
from .jobsdb import STATES
from .limits import ANONYMOUS_BULK_RUNS, BUILDER_BURST, BUILDER_RATE_PER_S, COMPUTE_BUDGET_S
from .overview import MAX_DAYS
from .profiles_repo import PROFILE_NAME

_ERROR = {"$ref": "#/components/responses/Error"}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or _ANY_OBJECT}},
    }


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": schema}}


def _path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _ERROR for code in codes}


_SECURE: list[dict[str, list[str]]] = [{"token": []}]
_COMPUTED = (
    "A computed read: it runs on the server's small pool (server/limits.py); when the pool "
    f"is full, or the answer takes longer than {COMPUTE_BUDGET_S:g} s, 503 with Retry-After."
)
_BULK = (
    f"A bulk read: streamed, a few runs at a time; more than {ANONYMOUS_BULK_RUNS} runs with "
    "their fio documents need the token (401), and beyond the streams under way at once 503 "
    "with Retry-After."
)
_JOB = {"$ref": "#/components/schemas/Job"}
_RUN = {"$ref": "#/components/schemas/Run"}


def _run_query(page: PageSize, *skip: str) -> list[dict[str, Any]]:
    """The parameters of a run listing: every RunQuery field (store.query) but ``skip``."""
    return [openapi_parameter(param, page) for param in QUERY_PARAMS if param.field not in skip]


def _integer(low: int, high: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high}


_STATE = {"type": "string", "enum": list(STATES)}


def _run_schema() -> dict[str, Any]:
    schema = openapi_30(run_json_schema())
    # Answers may carry more than the record (links, queue state): documented, not refused.
    schema.pop("additionalProperties", None)
    result: dict[str, Any] = schema
    return result


_SPEC = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string", "enum": ["random", "sequential"]},
        "read_pct": _integer(*READ_PCT),
        "block_size": {
            "type": "string",
            "pattern": BLOCK_SIZE_FORM.pattern,
            "description": f"{human_size(MIN_BLOCK)} bytes to {human_size(MAX_BLOCK)}, "
            "at most size",
        },
        "iodepth": _integer(*IODEPTH),
        "runtime": _integer(*RUNTIME_S),
        "size": {
            "type": "string",
            "pattern": SIZE_FORM.pattern,
            "description": f"{human_size(MIN_SIZE)} to {human_size(MAX_SIZE)}",
        },
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "pytest-fioloadgen results server",
            "version": __version__,
            "description": "Runs, jobs, profiles and history of fio benchmarks. Writes need "
            "the server's token (Authorization: Bearer TOKEN).",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "an error, with a message",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["message"],
                                "properties": {
                                    "message": {"type": "string"},
                                    "status": {"type": "string"},
                                },
                            }
                        }
                    },
                }
            },
            "schemas": {
                "Job": {
                    "type": "object",
                    "required": [
                        "id",
                        "title",
                        "profile",
                        "workers",
                        "target",
                        "status",
                        "created",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "profile": {"type": "string"},
                        "workers": {"type": "integer"},
                        "target": {"type": "string"},
                        "status": _STATE,
                        "created": {"type": "number"},
                        "started": {"type": "number", "nullable": True},
                        "ended": {"type": "number", "nullable": True},
                        "expected_runtime": {"type": "number"},
                        "error": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "summary": {"type": "object", "nullable": True},
                        # queue: a server job; recorded: recorded by a plugin session.
                        "source": {"type": "string"},
                        "history_key": {"type": "string"},
                        "verdict": {"type": "string", "nullable": True},
                        "test_id": {"type": "string"},
                        "session_id": {"type": "string", "nullable": True},
                    },
                },
                # Generated from RunRecord (pytest_fioloadgen.store.schema): a new run
                # field appears here without an edit.
                "Run": _run_schema(),
            },
        },
        "paths": {
            "/status": {
                "get": {
                    "summary": "backend, workers per target, running job, queue length, uptime",
                    "responses": {"200": _ok("server status", _data(_ANY_OBJECT))},
                }
            },
            "/openapi.json": {
                "get": {"summary": "this document", "responses": {"200": _ok("OpenAPI 3")}}
            },
            "/profiles": {
                "get": {
                    "summary": "list profiles",
                    "responses": {
                        "200": _ok("profiles", _data({"type": "array", "items": _ANY_OBJECT}))
                    },
                }
            },
            "/profiles/{name}": {
                "parameters": [_path_param("name")],
                "get": {
                    "summary": "one profile with its job file",
                    "responses": {"200": _ok("the profile"), **_errors(400, 404)},
                },
                "put": {
                    "summary": "add or replace a profile (validated by the safety policy and fio)",
                    "security": _SECURE,
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {"text": {"type": "string"}, "spec": _SPEC},
                        }
                    ),
                    "responses": {
                        "200": _ok("replaced"),
                        "201": _ok("created"),
                        **_errors(400, 401, 404, 409, 413, 415),
                    },
                },
                "delete": {
                    "summary": "delete an added profile",
                    "security": _SECURE,
                    "responses": {"200": _ok("deleted"), **_errors(400, 401, 404, 409)},
                },
            },
            "/profile-builder": {
                "post": {
                    "summary": "preview a custom job file built from parameters (no token; "
                    f"{BUILDER_RATE_PER_S:g} a second per client, bursts of {BUILDER_BURST}, "
                    "then 429 with Retry-After)",
                    "requestBody": _body(_SPEC),
                    "responses": {"200": _ok("the job file"), **_errors(400, 413, 415, 429)},
                }
            },
            "/jobs": {
                "get": {
                    "summary": "every run with its queue state: jobs without a run yet, then"
                    " the history's runs (plugin, http store and server jobs alike), newest"
                    " first",
                    "parameters": [
                        _query("status", _STATE, "the queue state"),
                        *_run_query(JOB_PAGE, "status", "with_raw"),
                    ],
                    "responses": {"200": _ok("a page of jobs"), **_errors(400)},
                },
                "post": {
                    "summary": "queue a run of a profile on N workers of a target",
                    "security": _SECURE,
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["profile", "workers", "title"],
                            "properties": {
                                "profile": {"type": "string", "pattern": PROFILE_NAME.pattern},
                                "workers": {"type": "integer", "minimum": 1},
                                "target": {"type": "string"},
                                "title": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": MAX_TITLE,
                                },
                                "labels": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "spec": _SPEC,
                            },
                        }
                    ),
                    "responses": {
                        "202": _ok("queued", _data(_JOB)),
                        **_errors(400, 401, 404, 413, 415),
                    },
                },
            },
            "/jobs/{job_id}": {
                "parameters": [_path_param("job_id")],
                "get": {
                    "summary": "one job or run, with the run document (record and derived)",
                    "responses": {"200": _ok("the job"), **_errors(404)},
                },
                "delete": {
                    "summary": "delete a job that is not running (and its run)",
                    "security": _SECURE,
                    "responses": {"200": _ok("deleted"), **_errors(401, 404, 409)},
                },
            },
            "/jobs/{job_id}/raw": {
                "parameters": [_path_param("job_id")],
                "get": {
                    "summary": "fio's JSON output",
                    "responses": {"200": _ok("fio JSON"), **_errors(404)},
                },
            },
            "/jobs/{job_id}/rerun": {
                "parameters": [_path_param("job_id")],
                "post": {
                    "summary": "queue the same job file again",
                    "security": _SECURE,
                    "responses": {"202": _ok("queued", _data(_JOB)), **_errors(400, 401, 404)},
                },
            },
            "/jobs/{job_id}/cancel": {
                "parameters": [_path_param("job_id")],
                "post": {
                    "summary": "cancel a queued job",
                    "security": _SECURE,
                    "responses": {"200": _ok("cancelled"), **_errors(401, 404, 409)},
                },
            },
            "/runs": {
                "get": {
                    "summary": "runs of the history store (newest first)",
                    "parameters": _run_query(RUNS_PAGE),
                    "description": _BULK,
                    "responses": {
                        "200": _ok("runs", _data({"type": "array", "items": _RUN})),
                        **_errors(400, 401, 503),
                    },
                },
                "post": {
                    "summary": "record a run (what the http store does)",
                    "security": _SECURE,
                    "requestBody": _body(_RUN),
                    "responses": {"201": _ok("recorded"), **_errors(400, 401, 409, 413, 415)},
                },
            },
            "/runs/search": {
                "get": {
                    "summary": "a page of the history's runs and the total (the http store's"
                    " search)",
                    "parameters": _run_query(SEARCH_PAGE, "with_raw"),
                    "responses": {"200": _ok("a page of runs"), **_errors(400)},
                }
            },
            "/runs/{run_id}": {
                "parameters": [_path_param("run_id")],
                "get": {
                    "summary": "one run with its fio document",
                    "responses": {"200": _ok("the run", _data(_RUN)), **_errors(404)},
                },
                "delete": {
                    "summary": "delete a run",
                    "security": _SECURE,
                    "responses": {"200": _ok("deleted"), **_errors(401, 404, 409)},
                },
            },
            "/baselines": {
                "get": {"summary": "named baselines", "responses": {"200": _ok("baselines")}}
            },
            "/baselines/{name}": {
                "parameters": [_path_param("name")],
                "get": {
                    "summary": "one baseline",
                    "responses": {"200": _ok("the baseline"), **_errors(404)},
                },
                "put": {
                    "summary": "pin a baseline",
                    "security": _SECURE,
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["run_ids"],
                            "properties": {
                                "run_ids": {"type": "array", "items": {"type": "string"}},
                                "note": {"type": "string"},
                            },
                        }
                    ),
                    "responses": {"200": _ok("pinned"), **_errors(400, 401, 404, 413, 415)},
                },
                "delete": {
                    "summary": "remove a baseline (not its runs)",
                    "security": _SECURE,
                    "responses": {"200": _ok("deleted"), **_errors(401, 404)},
                },
            },
            "/overview": {
                "get": {
                    "summary": "what changed first: the latest sessions with their verdict "
                    "counts, the regressions, distribution shifts, unstable runs and change "
                    "points of the last `days` days, and every history key's row (sparkline, "
                    "last value, delta against its baseline, stored verdict); `pending` counts "
                    "keys whose summaries are still being derived (ask again)",
                    "parameters": [_query("days", _integer(1, MAX_DAYS), "the recent window")],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the overview"), **_errors(400, 503)},
                }
            },
            "/history": {
                "get": {
                    "summary": "history keys of recent runs",
                    "parameters": [_query("limit", _integer(1, MAX_HISTORY_KEYS))],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("keys"), **_errors(400, 503)},
                }
            },
            "/history/{key}": {
                "parameters": [_path_param("key")],
                "get": {
                    "summary": "a metric's series for a history key, with its gating overlay",
                    "parameters": [
                        _query("metric", {"type": "string"}),
                        _query("limit", _integer(1, MAX_SERIES)),
                    ],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the series"), **_errors(400, 404, 503)},
                },
            },
            "/compare": {
                "get": {
                    "summary": "runs side by side",
                    "parameters": [
                        _query(
                            "ids",
                            {"type": "string"},
                            f"1 to {MAX_COMPARE} run ids, comma separated",
                        )
                    ],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the runs"), **_errors(400, 404, 503)},
                }
            },
            "/compare/sets": {
                "get": {
                    "summary": "two sets of runs (sessions, baselines, runs, K=V labels, latest, "
                    "previous) compared per history key and metric with the gate's statistics",
                    "parameters": [
                        _query("a", {"type": "string"}, "the baseline set"),
                        _query("b", {"type": "string"}, "the set compared with a"),
                        _query("metrics", {"type": "string"}, "comma separated metric names"),
                        _query("last", _integer(1, MAX_LAST_SESSIONS)),
                    ],
                    "description": _COMPUTED
                    + f" At most {MAX_SET_RUNS:,} runs per set (400 beyond).",
                    "responses": {"200": _ok("the delta table"), **_errors(400, 404, 503)},
                }
            },
            "/sessions": {
                "get": {
                    "summary": "plugin sessions (jobs=1: the server's jobs too), newest first",
                    "parameters": [
                        _query("jobs", {"type": "string", "enum": ["0", "1", "true", "false"]}),
                        _query("limit", _integer(1, MAX_SESSIONS)),
                    ],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the sessions"), **_errors(400, 503)},
                }
            },
            "/export": {
                "get": {
                    "summary": "runs as a JSON export document",
                    "parameters": [
                        _query("ids", {"type": "string"}, "these runs (comma separated)"),
                        *_run_query(EXPORT_PAGE, "with_raw"),
                    ],
                    "description": _BULK,
                    "responses": {"200": _ok("export document"), **_errors(400, 401, 404, 503)},
                }
            },
            "/import": {
                "post": {
                    "summary": "import an export document (runs already present are skipped)",
                    "security": _SECURE,
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["format", "version", "runs"],
                            "properties": {
                                "format": {"type": "string", "enum": [EXPORT_FORMAT]},
                                "version": {"type": "integer", "enum": [EXPORT_VERSION]},
                                "runs": {"type": "array", "items": _RUN},
                            },
                        }
                    ),
                    "responses": {"200": _ok("imported"), **_errors(400, 401, 409, 413, 415)},
                }
            },
        },
    }
