"""FIOLoadGen 1.5's REST API under /api, so the unchanged 1.5 ``fiocli`` keeps working.

The shapes follow the 1.5 server exactly where fiocli reads them (see
docs/legacy-api.md): ``GET /job/ID`` answers ``data`` as a JSON *string* whose
``summary`` is another JSON string, every final state reads as complete or failed (fiocli
waits forever on anything else), reads stay open (fiocli crashes on a 401 there) and every
write needs the token, which fiocli can only send as HTTP Basic from its address.
What 1.5 did unsafely is refused: no SQL import (410), only whitelisted tables, keys and
field names, parameterised look-ups.
"""

from __future__ import annotations

import json
import re
from typing import Any

import bottle

from pytest_fioloadgen.exceptions import StoreError

from .builder import build_job_file
from .context import ServerContext
from .http import dumps, fail, json_object, query, require_token, respond
from .jobsdb import COMPLETE, QUEUED, RUNNING, Job, JobFilter
from .profiles_repo import check_profile_name
from .routing import Routes
from .views import run_detail

PREFIX = "/api"
ROUTES = Routes()
#: The 1.5 job columns a client may ask for in ?fields= (never pasted into SQL here).
JOB_FIELDS = (
    "id",
    "title",
    "profile",
    "profile_spec",
    "storageclass",
    "workers",
    "status",
    "started",
    "ended",
    "type",
    "provider",
    "platform",
)
PROVIDERS = ("aws", "vmware", "baremetal", "azure", "gcp")
PLATFORMS = ("openshift", "kubernetes", "ssh")
#: 1.5 listed every job; a bound keeps a huge history from stalling an old client.
MAX_LIST = 10000
SQL_IMPORT_GONE = "legacy SQL import is disabled; use the new JSON import (fioloadgen db import)"
TABLE_KEYS = {"jobs": "id", "profiles": "name"}
_DIGITS = re.compile(r"^-?[0-9]{1,18}$")


def legacy_status(job: Job) -> str:
    """fiocli's --wait only stops on exactly complete or failed."""
    if job.status == COMPLETE:
        return "complete"
    if job.status == QUEUED:
        return "queued"
    if job.status == RUNNING:
        return "started"
    return "failed"


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "title": job.title,
        "profile": job.profile,
        "profile_spec": job.profile_text,
        "storageclass": job.target,
        "workers": job.workers,
        "status": legacy_status(job),
        "started": job.started,
        "ended": job.ended,
        "type": "custom" if job.profile == "custom" else "profile",
        "provider": job.labels.get("provider", ""),
        "platform": job.labels.get("platform", ""),
    }


def _triple(values: list[float]) -> str:
    if not values:
        return "0/0/0"
    return f"{min(values):.2f}/{sum(values) / len(values):.2f}/{max(values):.2f}"


def _summary(ctx: ServerContext, job: Job) -> tuple[str | None, str]:
    """(summary as a JSON string or None, raw fio JSON text)."""
    if job.status in (QUEUED, RUNNING):
        return None, "{}"
    try:
        run = ctx.store.get(job.id)
    except StoreError:
        return None, "{}"
    raw_json = json.dumps(run.raw) if run.raw else "{}"
    if run.status != "complete" or not run.metrics:
        return None, raw_json
    per_worker = run_detail(run)["per_worker"]
    metrics = run.metrics
    summary: dict[str, Any] = {
        "clients": len(per_worker) or run.workers,
        "total_iops": round(metrics.get("iops", 0.0)),
        # 1.5's keys: each client's p95 completion latency, as min/avg/max.
        "read ms min/avg/max": _triple(
            [w["read_lat_p95_ms"] for w in per_worker if "read_lat_p95_ms" in w]
        ),
        "write ms min/avg/max": _triple(
            [w["write_lat_p95_ms"] for w in per_worker if "write_lat_p95_ms" in w]
        ),
    }
    # New keys: percentiles of the merged histograms, not averages of percentiles.
    for name in ("read_lat_p95_ms", "read_lat_p99_ms", "write_lat_p95_ms", "write_lat_p99_ms"):
        if name in metrics:
            summary[name.replace("_", " ")] = round(metrics[name], 3)
    summary["bw mib s"] = round(metrics.get("bw_mib_s", 0.0), 2)
    return json.dumps(summary), raw_json


@ROUTES.route("/ping")
def ping(ctx: ServerContext) -> Any:
    return {"data": "pong"}


@ROUTES.route("/status")
def status(ctx: ServerContext) -> Any:
    running = ctx.jobs.running()
    workers = ctx.executor.workers() or {ctx.config.settings.backend: 0}
    return {
        "data": {
            "target": ctx.config.settings.backend,
            "debug_mode": ctx.config.debug,
            "task_active": running is not None,
            "task_type": "fio" if running is not None else None,
            "active_job_id": running.id if running is not None else "",
            "tasks_queued": ctx.jobs.counts().get(QUEUED, 0),
            "run_time": ctx.status()["uptime_s"],
            "workers": workers,
        }
    }


# -- profiles ------------------------------------------------------------------
@ROUTES.route("/profile")
def profiles(ctx: ServerContext) -> Any:
    unknown = [key for key in bottle.request.query if key != "refresh"]
    if unknown:
        fail(400, f"unsupported query parameter {unknown[0]!r}")
    entries = ctx.profiles.all()
    document: dict[str, Any] = {
        "data": [{"name": name, "source": e.source} for name, e in entries.items()]
    }
    if query("refresh") is not None:
        # A rescan is a write in 1.5: the token, for this one parameter of a read.
        require_token(ctx.token)
        # Profiles are read from their directory on every request: a rescan changes
        # nothing and, unlike 1.5, never deletes a profile.
        document["summary"] = {
            "processed": list(entries),
            "new": [],
            "deleted": [],
            "changed": [],
            "skipped": [],
            "errors": [],
        }
    return document


@ROUTES.route("/profile/<name>")
def profile(ctx: ServerContext, name: str) -> Any:
    check_profile_name(name)
    return {"data": ctx.profiles.get(name).text}


@ROUTES.route("/profile/<name>", "PUT", write=True)
def add_profile(ctx: ServerContext, name: str) -> Any:
    check_profile_name(name)
    document = json_object(ctx.config.max_body)
    if name in ctx.profiles.all():
        fail(409, f"profile {name!r} already exists; remove it first")
    if isinstance(document.get("spec"), dict):
        spec = document["spec"]
        text = build_job_file(
            {
                "pattern": "random" if spec.get("ioPattern") == "random" else "sequential",
                "read_pct": {"read": 100, "write": 0}.get(str(spec.get("ioType")), 50),
                "block_size": spec.get("ioBlockSize", "4k"),
                "iodepth": spec.get("ioDepth", 4),
                "runtime": spec.get("runTime", 30),
            }
        )
    elif isinstance(document.get("data"), str):
        text = document["data"]
    else:
        fail(400, 'body must be {"data": "<job file text>"}')
    ctx.profiles.put(name, text)
    return {"data": {"name": name}, "message": "profile added"}


@ROUTES.route("/profile/<name>", "DELETE", write=True)
def remove_profile(ctx: ServerContext, name: str) -> Any:
    ctx.profiles.delete(name)
    return {"data": {"name": name}, "message": "profile deleted"}


# -- jobs ----------------------------------------------------------------------
@ROUTES.route("/job/<profile>", "POST", write=True)
def run(ctx: ServerContext, profile: str) -> Any:
    check_profile_name(profile)
    document = json_object(ctx.config.max_body)
    if not document.get("title"):
        fail(400, "Missing fields: title")
    title = document["title"]
    if not isinstance(title, str):
        fail(400, "title must be a string")
    capacity = ctx.executor.workers()
    storageclass = document.get("storageclass") or next(iter(capacity))
    if storageclass not in capacity:
        fail(400, f"storageclass {storageclass!r} is not one of {', '.join(capacity)}")
    # fiocli sends a string ("2") with --workers and the int 9999 without it.
    raw_workers = document.get("workers", 9999)
    if isinstance(raw_workers, str) and _DIGITS.match(raw_workers.strip()):
        workers = int(raw_workers)
    elif isinstance(raw_workers, int) and not isinstance(raw_workers, bool):
        workers = raw_workers
    else:
        fail(400, f"workers {str(raw_workers)[:40]!r} is not a whole number")
    if workers < 1:
        fail(400, f"workers {workers} must be at least 1")
    available = capacity[storageclass]
    if available < 1:
        fail(503, f"no workers are available on {storageclass!r}")
    provider = document.get("provider") or "aws"
    platform = document.get("platform") or "openshift"
    if provider not in PROVIDERS or platform not in PLATFORMS:
        fail(400, f"provider must be one of {PROVIDERS}, platform one of {PLATFORMS}")
    job = ctx.submit(
        profile=profile,
        workers=min(workers, available),
        target=storageclass,
        title=title,
        labels={"provider": provider, "platform": platform},
    )
    return respond(202, {"data": {"uuid": job.id, "message": "job queued"}})


@ROUTES.route("/job")
def jobs(ctx: ServerContext) -> Any:
    fields_param = query("fields")
    fields = ["id", "status", "title"] if fields_param is None else fields_param.split(",")
    unknown = [name for name in fields if name not in JOB_FIELDS]
    if unknown:
        fail(400, f"unknown field {unknown[0]!r} (known: {', '.join(JOB_FIELDS)})")

    def listed() -> dict[str, Any]:
        page, _total = ctx.jobs.list(JobFilter(limit=MAX_LIST))
        rows = [_row(job) for job in page]
        return {"data": [{name: row[name] for name in fields} for row in rows]}

    return ctx.work.run("the job list", listed)


@ROUTES.route("/job/<job_id>")
def job(ctx: ServerContext, job_id: str) -> Any:
    found = ctx.jobs.get(job_id)
    record = _row(found)
    summary, raw_json = _summary(ctx, found)
    record.update(summary=summary, raw_json=raw_json, raw_output="")
    # The 1.5 server sent the record JSON-encoded inside the JSON answer.
    return {"data": dumps(record)}


@ROUTES.route("/job/<job_id>", "DELETE", write=True)
def delete_job(ctx: ServerContext, job_id: str) -> Any:
    ctx.delete_job(job_id)
    return {"data": {"id": job_id}, "message": "job deleted"}


# -- db: JSON export only, never SQL -------------------------------------------
def _table(table: str) -> str:
    if table not in TABLE_KEYS:
        fail(404, f"unknown table {table!r} (tables: jobs, profiles)")
    return table


def _one_key(table: str) -> str | None:
    keys = list(bottle.request.query)
    if not keys:
        return None
    if keys != [TABLE_KEYS[table]]:
        fail(400, f"table {table!r} rows are selected by {TABLE_KEYS[table]}=VALUE only")
    value = query(keys[0])
    if not value:
        fail(400, f"{keys[0]} needs a value")
    return value


def _rows(ctx: ServerContext, table: str, key: str | None) -> list[dict[str, Any]]:
    if table == "jobs":
        if key is not None:
            return [{**_row(ctx.jobs.get(key))}]
        page, _total = ctx.jobs.list(JobFilter(limit=MAX_LIST))
        return [_row(job) for job in page]
    entries = ctx.profiles.all()
    if key is not None:
        if key not in entries:
            fail(404, f"no profile {key!r}")
        entries = {key: entries[key]}
    return [{"name": e.name, "spec": e.text, "source": e.source} for e in entries.values()]


@ROUTES.route("/db/<table>")
def dump(ctx: ServerContext, table: str) -> Any:
    _table(table)
    key = _one_key(table)
    rows = ctx.work.run(f"the {table} table", lambda: _rows(ctx, table, key))
    return {"format": "fioloadgen-legacy-export", "table": table, "rows": rows}


@ROUTES.route("/db/<table>", "POST")
def import_sql(ctx: ServerContext, table: str) -> Any:
    # Never read, never executed: 1.5 ran this body as an SQL script.
    return respond(410, {"status": "410 Gone", "message": SQL_IMPORT_GONE})


@ROUTES.route("/db/<table>", "DELETE", write=True)
def delete_row(ctx: ServerContext, table: str) -> Any:
    _table(table)
    key = _one_key(table)
    if key is None:
        fail(400, f"name the row: ?{TABLE_KEYS[table]}=VALUE")
    if table == "jobs":
        ctx.delete_job(key)
    else:
        ctx.profiles.delete(key)
    return {"data": {"deleted": key}, "message": "row deleted"}
