"""The OpenAPI 3 document of /api/v1 (tests check it names exactly the app's routes and
run schemathesis against it)."""

from __future__ import annotations

from typing import Any

from pytest_fioloadgen import __version__
from pytest_fioloadgen.store.schema import openapi_30, run_json_schema
from pytest_fioloadgen.verdicts.status import STATUSES

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
    "is full, or the answer takes longer than 20 s, 503 with Retry-After."
)
_BULK = (
    "A bulk read: streamed, a few runs at a time; more than 100 runs with their fio "
    "documents need the token (401), and beyond the streams under way at once 503 with "
    "Retry-After."
)
PROFILE_NAME = "^[A-Za-z0-9._-]{1,24}$"
_JOB = {"$ref": "#/components/schemas/Job"}
_RUN = {"$ref": "#/components/schemas/Run"}
#: The search fields of the run listings (server.api_v1._search).
_SEARCH = [
    _query("profile", {"type": "string"}),
    _query("key", {"type": "string"}, "history key"),
    _query("test", {"type": "string"}, "test part: node id without parameters, or job"),
    _query("session", {"type": "string"}),
    _query("verdict", {"type": "string", "enum": list(STATUSES)}),
    _query("target", {"type": "string"}),
    _query("label", {"type": "string"}, "KEY=VALUE, repeatable"),
    _query("since", {"type": "number", "minimum": 0}, "started at or after (epoch s)"),
    _query("until", {"type": "number", "minimum": 0}, "started at or before (epoch s)"),
    _query("q", {"type": "string"}, "substring of the title, test id or profile"),
]


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
        "read_pct": {"type": "integer", "minimum": 0, "maximum": 100},
        "block_size": {
            "type": "string",
            "pattern": "^[0-9]{1,8}[kKmM]?$",
            "description": "512 bytes to 64m, at most size",
        },
        "iodepth": {"type": "integer", "minimum": 1, "maximum": 1024},
        "runtime": {"type": "integer", "minimum": 1, "maximum": 86400},
        "size": {
            "type": "string",
            "pattern": "^[0-9]{1,7}[kKmMgG]$",
            "description": "1m to 64 TiB",
        },
    },
}


def openapi_document() -> dict[str, Any]:
    run_filters = [
        _query(name, {"type": "string"})
        for name in (
            "profile_name",
            "profile_hash",
            "backend",
            "target",
            "session_id",
            "history_key",
            "status",
        )
    ]
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
                        "status": {
                            "type": "string",
                            "enum": [
                                "queued",
                                "running",
                                "complete",
                                "failed",
                                "cancelled",
                                "interrupted",
                            ],
                        },
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
                    "summary": "preview a custom job file built from parameters "
                    "(no token; a bounded rate per client, then 429 with Retry-After)",
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
                        _query(
                            "status",
                            {
                                "type": "string",
                                "enum": [
                                    "queued",
                                    "running",
                                    "complete",
                                    "failed",
                                    "cancelled",
                                    "interrupted",
                                ],
                            },
                        ),
                        _query("profile", {"type": "string"}),
                        _query("target", {"type": "string"}),
                        *_SEARCH,
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                        _query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000000}),
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
                                "profile": {"type": "string", "pattern": PROFILE_NAME},
                                "workers": {"type": "integer", "minimum": 1},
                                "target": {"type": "string"},
                                "title": {"type": "string", "minLength": 1, "maxLength": 200},
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
                    "parameters": [
                        *run_filters,
                        _query("workers", {"type": "integer", "minimum": 0}),
                        _query("label", {"type": "string"}, "KEY=VALUE, repeatable"),
                        _query("limit", {"type": "integer", "minimum": 0}),
                        _query("with_raw", {"type": "string", "enum": ["true", "false"]}),
                    ],
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
                    "parameters": [
                        *_SEARCH,
                        _query("limit", {"type": "integer", "minimum": 0, "maximum": 500}),
                        _query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000000}),
                    ],
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
            "/history": {
                "get": {
                    "summary": "history keys of recent runs",
                    "parameters": [
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 20000})
                    ],
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
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                    ],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the series"), **_errors(400, 404, 503)},
                },
            },
            "/compare": {
                "get": {
                    "summary": "runs side by side",
                    "parameters": [_query("ids", {"type": "string"}, "comma separated run ids")],
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
                        _query("last", {"type": "integer", "minimum": 1, "maximum": 100}),
                    ],
                    "description": _COMPUTED + " At most 2,000 runs per set (400 beyond).",
                    "responses": {"200": _ok("the delta table"), **_errors(400, 404, 503)},
                }
            },
            "/sessions": {
                "get": {
                    "summary": "plugin sessions (jobs=1: the server's jobs too), newest first",
                    "parameters": [
                        _query("jobs", {"type": "string", "enum": ["0", "1", "true", "false"]}),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000}),
                    ],
                    "description": _COMPUTED,
                    "responses": {"200": _ok("the sessions"), **_errors(400, 503)},
                }
            },
            "/export": {
                "get": {
                    "summary": "runs as a JSON export document",
                    "parameters": [
                        _query("ids", {"type": "string"}),
                        _query("profile_name", {"type": "string"}),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 100000}),
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
                                "format": {"type": "string", "enum": ["fioloadgen-runs"]},
                                "version": {"type": "integer", "enum": [1]},
                                "runs": {"type": "array", "items": _RUN},
                            },
                        }
                    ),
                    "responses": {"200": _ok("imported"), **_errors(400, 401, 409, 413, 415)},
                }
            },
        },
    }
