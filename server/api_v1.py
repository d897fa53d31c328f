"""The REST API under /api/v1 (documented in openapi.py; a test keeps the two in step).

Module-level handlers declared in ``ROUTES`` (server.routing): ``ROUTES.app(ctx)`` is the
bottle app server.app mounts at ``PREFIX``. Writers are declared ``write=True``; the
token is checked by routing's plugin, never in a handler.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import bottle

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.fio.results import METRIC_NAMES
from pytest_fioloadgen.report.key_history import key_document, key_title
from pytest_fioloadgen.report.overview import DEFAULT_DAYS
from pytest_fioloadgen.report.run_document import derived
from pytest_fioloadgen.store.base import check_baseline_name
from pytest_fioloadgen.store.query import Cursor, PageSize, RunQuery, from_params
from pytest_fioloadgen.store.selection import SessionSummary, sessions
from pytest_fioloadgen.store.selection import resolve as resolve_selection
from pytest_fioloadgen.store.wire import baseline_to_json, run_from_json, run_to_json
from pytest_fioloadgen.verdicts.comparing import DEFAULT_METRICS as DEFAULT_COMPARED
from pytest_fioloadgen.verdicts.comparing import any_regression, compare_sets, unpaired

from .answer_cache import request_key
from .builder import build_job_file
from .context import ServerContext
from .http import (
    dumps,
    fail,
    has_token,
    json_object,
    query,
    query_choice,
    query_int,
    query_params,
    rate_limit,
    require_token,
    respond,
)
from .jobsdb import MAX_PAGE, STATES
from .limits import ANONYMOUS_BULK_RUNS
from .overview import MAX_DAYS
from .profiles_repo import check_profile_name
from .routing import Routes
from .streaming import RunStream
from .views import run_detail

PREFIX = "/api/v1"
ROUTES = Routes()
EXPORT_FORMAT = "fioloadgen-runs"
EXPORT_VERSION = 1
MAX_COMPARE = 12
#: A compare of two sets takes at most this many runs per set (100 sessions of 18 cases
#: fit); resolving the names reads every session's runs, so the pool bounds it in time too.
MAX_SET_RUNS = 2000
MAX_SERIES = 5000
MAX_HISTORY_KEYS = 20000
MAX_SESSIONS = 10000
#: ``compare/sets``: a label set means the newest ``last`` sessions carrying the labels.
MAX_LAST_SESSIONS = 100
#: The ``limit`` of each run listing: the job list (the UI's and ``job ls``), the store's
#: search (the http store's), ``/runs`` (every run unless limited: a bulk read, streamed)
#: and the export.
JOB_PAGE = PageSize(default=50, low=1, high=MAX_PAGE)
SEARCH_PAGE = PageSize(default=50, low=0, high=MAX_PAGE)
RUNS_PAGE = PageSize(default=None, low=0, high=10**7)
EXPORT_PAGE = PageSize(default=1000, low=1, high=100000)
METRICS = METRIC_NAMES
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")


def run_query(page: PageSize, *, skip: tuple[str, ...] = ()) -> RunQuery:
    """The run query of this request's parameters (store.query.from_params)."""
    return from_params(query_params(), page=page, skip=skip)


def _next(cursor: Cursor | None) -> str | None:
    return None if cursor is None else cursor.encode()


def _lower(limit: int | None, cap: int | None) -> int | None:
    """The smaller of two optional bounds (None: no bound)."""
    if limit is None or cap is None:
        return cap if limit is None else limit
    return min(limit, cap)


def _metric(name: str | None) -> str:
    metric = name or "iops"
    if metric not in METRICS:
        fail(400, f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    return metric


def _int_field(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        fail(400, f"field {key!r} must be an integer")
    if isinstance(value, str) and not _INTEGER.match(value):
        # int() would also take Arabic-Indic digits, " 1 " or "1_0"; a count is ASCII digits.
        fail(400, f"field {key!r} = {value[:40]!r} is not an integer")
    return int(value)


def _str_field(document: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        fail(400, f"field {key!r} must be a string")
    return value


def _labels(document: dict[str, Any]) -> dict[str, str]:
    labels = document.get("labels", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 256
        for k, v in labels.items()
    ):
        fail(400, "field 'labels' must be an object of short strings")
    return labels


def _spec_job_file(document: dict[str, Any]) -> str | None:
    """The job file a request's ``spec`` describes (builder.py), None when it has none."""
    if "spec" not in document:
        return None
    spec = document["spec"]
    if not isinstance(spec, dict):
        fail(400, "field 'spec' must be an object")
    return build_job_file(spec)


def _session_json(summary: SessionSummary) -> dict[str, Any]:
    return {
        "session_id": summary.session_id,
        "started_at": summary.started_at,
        "runs": summary.runs,
        "labels": dict(summary.labels),
        "verdicts": dict(summary.verdicts),
        "kind": summary.kind,
    }


# -- status, schema ----------------------------------------------------------------
@ROUTES.get("/status")
def status(ctx: ServerContext) -> Any:
    return {"data": ctx.status()}


@ROUTES.get("/openapi.json")
def openapi(ctx: ServerContext) -> Any:
    # Imported here: the document imports the bounds it states from this module.
    from .openapi import openapi_document

    return openapi_document()


# -- profiles ----------------------------------------------------------------------
@ROUTES.get("/profiles")
def profiles(ctx: ServerContext) -> Any:
    return {"data": [entry.to_json() for entry in ctx.profiles.all().values()]}


@ROUTES.get("/profiles/<name>")
def profile(ctx: ServerContext, name: str) -> Any:
    check_profile_name(name)
    return {"data": ctx.profiles.get(name).to_json(with_text=True)}


@ROUTES.put("/profiles/<name>", write=True)
def put_profile(ctx: ServerContext, name: str) -> Any:
    document = json_object(ctx.config.max_body)
    text = _spec_job_file(document)
    if text is None:
        text = _str_field(document, "text")
    existed = ctx.profiles.put(name, text)
    entry = ctx.profiles.get(name)
    return respond(200 if existed else 201, {"data": entry.to_json(with_text=True)})


@ROUTES.delete("/profiles/<name>", write=True)
def delete_profile(ctx: ServerContext, name: str) -> Any:
    ctx.profiles.delete(name)
    return {"data": {"name": name, "deleted": True}}


@ROUTES.post("/profile-builder")
def build_profile(ctx: ServerContext) -> Any:
    # A preview: nothing is stored and no fio process runs (builder.py checks every
    # parameter in Python, the safety policy runs on the result), so no token is needed;
    # a bounded rate per client keeps it cheap. Saving it (PUT /profiles) runs fio.
    rate_limit(ctx.builder_rate, "profile-builder")
    text = build_job_file(json_object(ctx.config.max_body))
    ctx.profiles.check_policy("custom", text)
    return {"data": {"text": text}}


# -- jobs --------------------------------------------------------------------------
@ROUTES.post("/jobs", write=True)
def submit(ctx: ServerContext) -> Any:
    document = json_object(ctx.config.max_body)
    name = _str_field(document, "profile")
    check_profile_name(name)
    text = _spec_job_file(document)
    job = ctx.submit(
        profile=name,
        workers=_int_field(document, "workers"),
        target=_str_field(document, "target", required=False) or next(iter(ctx.executor.workers())),
        title=_str_field(document, "title"),
        labels=_labels(document),
        profile_text=text,
    )
    return respond(202, {"data": job.to_json()})


@ROUTES.get("/jobs")
def jobs(ctx: ServerContext) -> Any:
    """Every run with its queue state: jobs without a run yet, then the history's runs
    (from the plugin, the http store and server jobs alike), newest first."""
    # status is the queue state here (queued, running... complete, failed).
    state = query_choice("status", STATES, None)
    wanted = run_query(JOB_PAGE, skip=("status", "with_raw"))

    def listing() -> dict[str, Any]:
        page = ctx.catalog.page(wanted, state=state)
        return {
            "data": page.entries,
            "total": page.total,
            "limit": wanted.limit,
            "offset": wanted.offset,
            "next_cursor": _next(page.next),
        }

    # The generation is read before the page: a write in between is a new generation.
    return ctx.answers.answer(request_key(), ctx.generation(), listing)


@ROUTES.get("/jobs/<job_id>")
def job(ctx: ServerContext, job_id: str) -> Any:
    def detail() -> dict[str, Any]:
        document = ctx.catalog.detail(job_id)
        if document is None:
            fail(404, f"no job or run {job_id!r}")
        return {"data": document}

    # A recorded run never changes: its page (derived from its fio output) is encoded
    # once; a rerun, a delete or a pin is a new generation and reads it again.
    return ctx.answers.answer(request_key(), ctx.generation(), detail)


@ROUTES.get("/jobs/<job_id>/raw")
def job_raw(ctx: ServerContext, job_id: str) -> Any:
    try:
        run = ctx.store.get(job_id)
    except StoreError:
        run = None
    if run is None or run.raw is None:
        found = ctx.jobs.find(job_id)
        state = found.status if found is not None else "unknown"
        fail(404, f"{job_id!r} has no fio output ({state})")
    return {"data": run.raw}


@ROUTES.delete("/jobs/<job_id>", write=True)
def delete_job(ctx: ServerContext, job_id: str) -> Any:
    ctx.delete_job(job_id)
    return {"data": {"id": job_id, "deleted": True}}


@ROUTES.post("/jobs/<job_id>/rerun", write=True)
def rerun(ctx: ServerContext, job_id: str) -> Any:
    return respond(202, {"data": ctx.rerun(job_id).to_json()})


@ROUTES.post("/jobs/<job_id>/cancel", write=True)
def cancel(ctx: ServerContext, job_id: str) -> Any:
    return {"data": ctx.jobs.cancel(job_id).to_json()}


# -- runs (the history store over HTTP: the http store's backend) ------------------
@ROUTES.get("/runs")
def runs(ctx: ServerContext) -> Any:
    wanted = run_query(RUNS_PAGE)
    return _runs_answer(
        ctx,
        lambda cap: ctx.store.run_ids(wanted, limit=_lower(wanted.limit, cap), with_raw=False),
        at_most=wanted.limit,
        with_raw=wanted.with_raw,
        what="this listing",
        head='{"data":[',
    )


@ROUTES.post("/runs", write=True)
def record_run(ctx: ServerContext) -> Any:
    run = run_from_json(json_object(ctx.config.max_bulk_body))
    ctx.store.record(run)
    return respond(201, {"data": {"run_id": run.run_id}})


@ROUTES.get("/runs/search")
def search_runs(ctx: ServerContext) -> Any:
    """The store's search (the http store's backend): a page and the total."""
    wanted = run_query(SEARCH_PAGE, skip=("with_raw",))
    found = ctx.store.search(wanted)
    return {
        "data": [run_to_json(run, with_raw=False) for run in found.runs],
        "total": found.total,
        "offset": wanted.offset,
        "limit": wanted.limit,
        "next_cursor": _next(found.next),
    }


@ROUTES.get("/runs/<run_id>")
def get_run(ctx: ServerContext, run_id: str) -> Any:
    return {"data": run_to_json(ctx.store.get(run_id))}


@ROUTES.delete("/runs/<run_id>", write=True)
def delete_run(ctx: ServerContext, run_id: str) -> Any:
    deleted = ctx.store.delete(run_id)
    found = ctx.jobs.find(run_id)
    if found is not None and found.status != "running":
        ctx.jobs.delete(run_id)
    if not deleted:
        return respond(404, {"message": f"no run {run_id!r}", "data": {"deleted": False}})
    return {"data": {"run_id": run_id, "deleted": True}}


# -- baselines ---------------------------------------------------------------------
@ROUTES.get("/baselines")
def baselines(ctx: ServerContext) -> Any:
    return {"data": [baseline_to_json(b) for b in ctx.store.baselines()]}


@ROUTES.get("/baselines/<name>")
def baseline(ctx: ServerContext, name: str) -> Any:
    return {"data": baseline_to_json(ctx.store.get_baseline(name))}


@ROUTES.put("/baselines/<name>", write=True)
def pin(ctx: ServerContext, name: str) -> Any:
    check_baseline_name(name)
    document = json_object(ctx.config.max_body)
    run_ids = document.get("run_ids")
    if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
        fail(400, "field 'run_ids' must be a list of run ids")
    note = _str_field(document, "note", required=False)
    return {"data": baseline_to_json(ctx.store.pin_baseline(name, run_ids, note=note))}


@ROUTES.delete("/baselines/<name>", write=True)
def unpin(ctx: ServerContext, name: str) -> Any:
    if not ctx.store.delete_baseline(name):
        return respond(404, {"message": f"no baseline {name!r}", "data": {"deleted": False}})
    return {"data": {"name": name, "deleted": True}}


# -- history, compare --------------------------------------------------------------
@ROUTES.get("/history")
def history_keys(ctx: ServerContext) -> Any:
    limit = query_int("limit", 2000, 1, MAX_HISTORY_KEYS)
    return ctx.work.run("the history keys", lambda: {"data": _recent_keys(ctx, limit)})


def _recent_keys(ctx: ServerContext, limit: int) -> list[dict[str, Any]]:
    keys: dict[str, dict[str, Any]] = {}
    for run in ctx.store.query(RunQuery(limit=limit)):
        if not run.history_key:
            continue
        # Newest first: a key's first run here is its latest (its verdict is shown).
        entry = keys.setdefault(
            run.history_key,
            {
                "history_key": run.history_key,
                "title": key_title(run.test_id, run.profile_name, run.workers, run.target),
                "test": run.test_id,
                "verdict": run.verdict,
                "profile": run.profile_name,
                "workers": run.workers,
                "backend": run.backend,
                "target": run.target,
                "runs": 0,
                "last_run": run.started_at,
            },
        )
        entry["runs"] += 1
    return list(keys.values())


@ROUTES.get("/overview")
def overview(ctx: ServerContext) -> Any:
    """What changed first: the UI's home (server.overview, report.overview)."""
    days = query_int("days", DEFAULT_DAYS, 1, MAX_DAYS)
    return ctx.work.run(
        "the overview", lambda: {"data": ctx.overview.document(ctx.store, days=days)}
    )


@ROUTES.get("/history/<key>")
def history(ctx: ServerContext, key: str) -> Any:
    metric = _metric(query("metric"))
    limit = query_int("limit", 1000, 1, MAX_SERIES)
    document = ctx.work.run(
        f"the history of {key[:40]!r}",
        lambda: key_document(ctx.store, key, metric, limit=limit, thresholds=ctx.thresholds),
    )
    if document is None:
        fail(404, f"no runs with history key {key!r}")
    return {"data": document}


def _ids(name: str) -> list[str]:
    """A comma separated list of run ids, each once, in order."""
    return list(dict.fromkeys(item for item in (query(name) or "").split(",") if item))


@ROUTES.get("/compare")
def compare(ctx: ServerContext) -> Any:
    ids = _ids("ids")
    if not 1 <= len(ids) <= MAX_COMPARE:
        fail(400, f"ids must name 1 to {MAX_COMPARE} runs, comma separated")
    return ctx.work.run("this compare", lambda: _side_by_side(ctx, ids))


def _side_by_side(ctx: ServerContext, ids: list[str]) -> dict[str, Any]:
    compared = []
    for run_id in ids:
        run = ctx.store.get(run_id)
        found = ctx.jobs.find(run_id)
        compared.append(
            {
                **run_to_json(run, with_raw=False),
                "title": found.title if found else run.labels.get("job_title", run.test_id),
                **run_detail(run),
                # For overlaid time series on the compare page.
                "timeseries": derived(run.raw)["timeseries"],
            }
        )
    return {"data": compared, "metrics": list(METRICS)}


@ROUTES.get("/sessions")
def list_sessions(ctx: ServerContext) -> Any:
    """Plugin sessions (and with jobs=1 the server's jobs), newest first."""
    include_jobs = query("jobs") in ("1", "true")
    limit = query_int("limit", 100, 1, MAX_SESSIONS)

    def listed() -> dict[str, Any]:
        found = sessions(ctx.store, include_jobs=include_jobs)
        return {"data": [_session_json(summary) for summary in found[:limit]]}

    return ctx.work.run("the session list", listed)


@ROUTES.get("/compare/sets")
def compare_two_sets(ctx: ServerContext) -> Any:
    """Two sets of runs by name (as ``fioloadgen compare A B``): per key and metric the
    medians, delta and the gate's statistical verdict."""
    names = {side: (query(side) or "").strip() for side in ("a", "b")}
    if not all(names.values()):
        fail(400, "a and b must each name runs: a session, baseline, run, K=V or latest")
    last = query_int("last", 5, 1, MAX_LAST_SESSIONS)
    metrics = tuple(_metric(m) for m in (query("metrics") or "").split(",") if m)
    return ctx.work.run(
        "this compare", lambda: _compare_sets(ctx, names["a"], names["b"], last, metrics)
    )


def _compare_sets(
    ctx: ServerContext, name_a: str, name_b: str, last: int, metrics: tuple[str, ...]
) -> dict[str, Any]:
    selected = []
    for side, name in (("a", name_a), ("b", name_b)):
        try:
            selection = resolve_selection(ctx.store, name, last=last)
        except StoreError as err:
            fail(404, str(err))
        if len(selection.runs) > MAX_SET_RUNS:
            fail(
                400,
                f"{side}={name[:80]!r} is {len(selection.runs)} runs; a compare takes at "
                f"most {MAX_SET_RUNS} per set (ask for fewer sessions: last=)",
            )
        selected.append(selection)
    before, after = selected
    rows = compare_sets(
        before.runs,
        after.runs,
        metrics=metrics or DEFAULT_COMPARED,
        baseline_description=before.description,
    )
    only_a, only_b = unpaired(before.runs, after.runs)
    return {
        "data": {
            **{
                side: {
                    "name": chosen.name,
                    "description": chosen.description,
                    "runs": [run.run_id for run in chosen.runs],
                }
                for side, chosen in (("a", before), ("b", after))
            },
            "rows": [row.as_dict() for row in rows],
            "only_in_a": only_a,
            "only_in_b": only_b,
            "regression": any_regression(rows),
        }
    }


# -- export / import (JSON, never SQL) ---------------------------------------------
@ROUTES.get("/export")
def export(ctx: ServerContext) -> Any:
    ids = _ids("ids")
    wanted = run_query(EXPORT_PAGE, skip=("with_raw",))

    def chosen(cap: int | None) -> list[str]:
        if not ids:
            return ctx.store.run_ids(replace(wanted, limit=_lower(wanted.limit, cap)))
        present = {run_id for run_id, _text in ctx.store.runs_json(ids, with_raw=False)}
        missing = [run_id for run_id in ids if run_id not in present]
        if missing:
            fail(404, f"history store {ctx.store.uri} has no run {missing[0]!r}")
        return ids

    head = (
        f'{{"format":{dumps(EXPORT_FORMAT)},"version":{EXPORT_VERSION},'
        f'"exported_at":{dumps(time.time())},"runs":['
    )
    return _runs_answer(
        ctx, chosen, at_most=len(ids) or wanted.limit, with_raw=True, what="this export", head=head
    )


def _runs_answer(
    ctx: ServerContext,
    chosen: Callable[[int | None], list[str]],
    *,
    at_most: int | None,
    with_raw: bool,
    what: str,
    head: str,
) -> Any:
    """The runs ``chosen(cap)`` names (at most ``cap`` of them when it is given; the read
    holds at most ``at_most``, None: no bound), as ``head``, a JSON array of them and
    ``]}``.

    A bulk read (it may hold more than one fio document, or more than ANONYMOUS_BULK_RUNS
    runs) takes a bulk slot before anything is read, so a refusal costs nothing, and
    streams; beyond ANONYMOUS_BULK_RUNS runs with their documents it needs the token (one
    more id than that is all it looks up to know). Others are built in memory.
    """
    bulk = at_most is None or at_most > (1 if with_raw else ANONYMOUS_BULK_RUNS)
    if not bulk:
        found = ctx.store.runs_json(chosen(None), with_raw=with_raw)
        bottle.response.content_type = "application/json"
        return head + ",".join(text for _id, text in found) + "]}"
    with_token = has_token(ctx.token)
    release = ctx.streams.take(what, with_token=with_token)
    try:
        anonymous_raw = with_raw and not with_token
        ids = chosen(ANONYMOUS_BULK_RUNS + 1 if anonymous_raw else None)
        if anonymous_raw and len(ids) > ANONYMOUS_BULK_RUNS:
            require_token(
                ctx.token,
                f"{what} holds more than {ANONYMOUS_BULK_RUNS} runs with their fio "
                "documents: that needs the server's token (Authorization: Bearer TOKEN)",
            )
    except BaseException:
        release()
        raise
    bottle.response.content_type = "application/json"
    return RunStream(ctx.store, ids, with_raw=with_raw, head=head, tail="]}", release=release)


@ROUTES.post("/import", write=True)
def import_runs(ctx: ServerContext) -> Any:
    document = json_object(ctx.config.max_bulk_body)
    if document.get("format") != EXPORT_FORMAT or document.get("version") != EXPORT_VERSION:
        fail(400, f"not a {EXPORT_FORMAT} version {EXPORT_VERSION} document")
    items = document.get("runs")
    if not isinstance(items, list):
        fail(400, "field 'runs' must be a list")
    runs = [run_from_json(item, where=f"runs[{i}]") for i, item in enumerate(items)]
    imported, skipped = [], []
    for run in runs:
        if _known(ctx, run.run_id):
            skipped.append(run.run_id)
            continue
        ctx.store.record(run)
        imported.append(run.run_id)
    return {"data": {"imported": imported, "skipped": skipped}}


def _known(ctx: ServerContext, run_id: str) -> bool:
    try:
        ctx.store.get(run_id)
    except StoreError:
        return False
    return True
