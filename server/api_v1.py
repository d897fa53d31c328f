"""The REST API under /api/v1 (documented in openapi.py; a test keeps the two in step)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import bottle

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.fio.results import METRIC_NAMES
from pytest_fioloadgen.report.run_document import derived
from pytest_fioloadgen.store.base import RunQuery, check_baseline_name
from pytest_fioloadgen.store.selection import SessionSummary, sessions
from pytest_fioloadgen.store.selection import resolve as resolve_selection
from pytest_fioloadgen.store.wire import baseline_to_json, run_from_json, run_to_json
from pytest_fioloadgen.verdicts.comparing import DEFAULT_METRICS as DEFAULT_COMPARED
from pytest_fioloadgen.verdicts.comparing import any_regression, compare_sets, unpaired
from pytest_fioloadgen.verdicts.status import STATUSES as STATUS_VALUES

from .builder import build_job_file
from .context import ServerContext
from .http import (
    Handler,
    RateLimiter,
    dumps,
    fail,
    handled,
    has_token,
    json_object,
    query,
    query_all,
    query_choice,
    query_int,
    rate_limit,
    require_token,
    respond,
)
from .jobsdb import MAX_PAGE, STATES
from .limits import ANONYMOUS_BULK_RUNS
from .openapi import openapi_document
from .profiles_repo import check_profile_name
from .streaming import RunStream
from .views import history_document, run_detail

PREFIX = "/api/v1"
EXPORT_FORMAT = "fioloadgen-runs"
EXPORT_VERSION = 1
MAX_COMPARE = 12
#: A compare of two sets takes at most this many runs per set (100 sessions of 18 cases
#: fit); resolving the names reads every session's runs, so the pool bounds it in time too.
MAX_SET_RUNS = 2000
MAX_SERIES = 5000
#: Profile-builder previews per client address: a form clicked by hand, not a load test.
BUILDER_RATE_PER_S = 5.0
BUILDER_BURST = 20
_RUN_FILTERS = (
    "profile_name",
    "profile_hash",
    "backend",
    "target",
    "session_id",
    "history_key",
)
METRICS = METRIC_NAMES
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")


def _time_param(name: str, raw: str | None) -> float | None:
    """A time bound: seconds since the epoch."""
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        fail(400, f"query parameter {name}={raw!r} is not a time (seconds since the epoch)")
    if not 0 <= value <= 2**34:
        fail(400, f"query parameter {name}={raw!r} is not a time (seconds since the epoch)")
    return value


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


def _session_json(summary: SessionSummary) -> dict[str, Any]:
    return {
        "session_id": summary.session_id,
        "started_at": summary.started_at,
        "runs": summary.runs,
        "labels": dict(summary.labels),
        "verdicts": dict(summary.verdicts),
        "kind": summary.kind,
    }


def register(app: bottle.Bottle, ctx: ServerContext) -> None:
    config = ctx.config
    builder_rate = RateLimiter(BUILDER_RATE_PER_S, BUILDER_BURST)

    def writer() -> None:
        require_token(ctx.token)

    def route(path: str, method: str = "GET") -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            app.route(PREFIX + path, method, handled(handler))
            return handler

        return decorate

    # -- status, schema ------------------------------------------------------------
    @route("/status")
    def status() -> Any:
        return {"data": ctx.status()}

    @route("/openapi.json")
    def openapi() -> Any:
        return openapi_document()

    # -- profiles ------------------------------------------------------------------
    @route("/profiles")
    def profiles() -> Any:
        return {"data": [entry.to_json() for entry in ctx.profiles.all().values()]}

    @route("/profiles/<name>")
    def profile(name: str) -> Any:
        check_profile_name(name)
        return {"data": ctx.profiles.get(name).to_json(with_text=True)}

    @route("/profiles/<name>", "PUT")
    def put_profile(name: str) -> Any:
        writer()
        document = json_object(config.max_body)
        if "spec" in document:
            spec = document["spec"]
            if not isinstance(spec, dict):
                fail(400, "field 'spec' must be an object")
            text = build_job_file(spec)
        else:
            text = _str_field(document, "text")
        existed = ctx.profiles.put(name, text)
        entry = ctx.profiles.get(name)
        return respond(200 if existed else 201, {"data": entry.to_json(with_text=True)})

    @route("/profiles/<name>", "DELETE")
    def delete_profile(name: str) -> Any:
        writer()
        ctx.profiles.delete(name)
        return {"data": {"name": name, "deleted": True}}

    @route("/profile-builder", "POST")
    def build_profile() -> Any:
        # A preview: nothing is stored and no fio process runs (builder.py checks every
        # parameter in Python, the safety policy runs on the result), so no token is needed;
        # a bounded rate per client keeps it cheap. Saving it (PUT /profiles) runs fio.
        rate_limit(builder_rate, "profile-builder")
        text = build_job_file(json_object(config.max_body))
        ctx.profiles.check_policy("custom", text)
        return {"data": {"text": text}}

    # -- jobs ----------------------------------------------------------------------
    @route("/jobs", "POST")
    def submit() -> Any:
        writer()
        document = json_object(config.max_body)
        name = _str_field(document, "profile")
        check_profile_name(name)
        text = None
        if "spec" in document:
            spec = document["spec"]
            if not isinstance(spec, dict):
                fail(400, "field 'spec' must be an object")
            text = build_job_file(spec)
        job = ctx.submit(
            profile=name,
            workers=_int_field(document, "workers"),
            target=_str_field(document, "target", required=False)
            or next(iter(ctx.executor.workers())),
            title=_str_field(document, "title"),
            labels=_labels(document),
            profile_text=text,
        )
        return respond(202, {"data": job.to_json()})

    def _search() -> RunQuery:
        """The search fields of a listing (every given one must match)."""
        labels: dict[str, str] = {}
        for pair in query_all("label"):
            key, sep, value = pair.partition("=")
            if not sep:
                fail(400, f"label filter {pair!r} is not KEY=VALUE")
            labels[key] = value
        since = query("since")
        until = query("until")
        return RunQuery(
            profile_name=query("profile") or query("profile_name") or None,
            history_key=query("key") or query("history_key") or None,
            test=query("test") or None,
            session_id=query("session") or query("session_id") or None,
            verdict=query_choice("verdict", STATUS_VALUES, None),
            target=query("target") or None,
            labels=labels or None,
            since=_time_param("since", since),
            until=_time_param("until", until),
            text=query("q") or query("title") or None,
        )

    @route("/jobs")
    def jobs() -> Any:
        """Every run with its queue state: jobs without a run yet, then the history's
        runs (from the plugin, the http store and server jobs alike), newest first."""
        offset = query_int("offset", 0, 0, 10**9)
        limit = query_int("limit", 50, 1, MAX_PAGE)
        entries, total = ctx.catalog.page(
            _search(), state=query_choice("status", STATES, None), offset=offset, limit=limit
        )
        return {"data": entries, "total": total, "limit": limit, "offset": offset}

    @route("/jobs/<job_id>")
    def job(job_id: str) -> Any:
        document = ctx.catalog.detail(job_id)
        if document is None:
            fail(404, f"no job or run {job_id!r}")
        return {"data": document}

    @route("/jobs/<job_id>/raw")
    def job_raw(job_id: str) -> Any:
        try:
            run = ctx.store.get(job_id)
        except StoreError:
            run = None
        if run is None or run.raw is None:
            job = ctx.jobs.find(job_id)
            state = job.status if job is not None else "unknown"
            fail(404, f"{job_id!r} has no fio output ({state})")
        return {"data": run.raw}

    @route("/jobs/<job_id>", "DELETE")
    def delete_job(job_id: str) -> Any:
        writer()
        ctx.delete_job(job_id)
        return {"data": {"id": job_id, "deleted": True}}

    @route("/jobs/<job_id>/rerun", "POST")
    def rerun(job_id: str) -> Any:
        writer()
        return respond(202, {"data": ctx.rerun(job_id).to_json()})

    @route("/jobs/<job_id>/cancel", "POST")
    def cancel(job_id: str) -> Any:
        writer()
        return {"data": ctx.jobs.cancel(job_id).to_json()}

    # -- runs (the history store over HTTP: the http store's backend) --------------
    @route("/runs")
    def runs() -> Any:
        filters: dict[str, Any] = {name: query(name) for name in _RUN_FILTERS}
        filters = {name: value for name, value in filters.items() if value}
        workers = query("workers")
        if workers:
            filters["workers"] = query_int("workers", 1, 0, 10**6)
        status = query("status")
        if status:
            filters["status"] = status
        labels: dict[str, str] = {}
        for pair in query_all("label"):
            key, sep, value = pair.partition("=")
            if not sep:
                fail(400, f"label filter {pair!r} is not KEY=VALUE")
            labels[key] = value
        limit = None if not query("limit") else query_int("limit", 0, 0, 10**7)
        with_raw = query_choice("with_raw", ("true", "false"), "false") == "true"
        return _runs_answer(
            lambda cap: ctx.store.run_ids(
                **filters, labels=labels or None, limit=_lower(limit, cap)
            ),
            at_most=limit,
            with_raw=with_raw,
            what="this listing",
            head='{"data":[',
        )

    @route("/runs", "POST")
    def record_run() -> Any:
        writer()
        run = run_from_json(json_object(config.max_bulk_body))
        ctx.store.record(run)
        return respond(201, {"data": {"run_id": run.run_id}})

    @route("/runs/search")
    def search_runs() -> Any:
        """The store's search (the http store's backend): a page and the total."""
        offset = query_int("offset", 0, 0, 10**9)
        limit = query_int("limit", 50, 0, MAX_PAGE)
        found = ctx.store.search(_search(), offset=offset, limit=limit)
        return {
            "data": [run_to_json(run, with_raw=False) for run in found.runs],
            "total": found.total,
            "offset": offset,
            "limit": limit,
        }

    @route("/runs/<run_id>")
    def get_run(run_id: str) -> Any:
        return {"data": run_to_json(ctx.store.get(run_id))}

    @route("/runs/<run_id>", "DELETE")
    def delete_run(run_id: str) -> Any:
        writer()
        deleted = ctx.store.delete(run_id)
        job = ctx.jobs.find(run_id)
        if job is not None and job.status != "running":
            ctx.jobs.delete(run_id)
        if not deleted:
            return respond(404, {"message": f"no run {run_id!r}", "data": {"deleted": False}})
        return {"data": {"run_id": run_id, "deleted": True}}

    # -- baselines -----------------------------------------------------------------
    @route("/baselines")
    def baselines() -> Any:
        return {"data": [baseline_to_json(b) for b in ctx.store.baselines()]}

    @route("/baselines/<name>")
    def baseline(name: str) -> Any:
        return {"data": baseline_to_json(ctx.store.get_baseline(name))}

    @route("/baselines/<name>", "PUT")
    def pin(name: str) -> Any:
        writer()
        check_baseline_name(name)
        document = json_object(config.max_body)
        run_ids = document.get("run_ids")
        if not isinstance(run_ids, list) or not all(isinstance(r, str) for r in run_ids):
            fail(400, "field 'run_ids' must be a list of run ids")
        note = _str_field(document, "note", required=False)
        return {"data": baseline_to_json(ctx.store.pin_baseline(name, run_ids, note=note))}

    @route("/baselines/<name>", "DELETE")
    def unpin(name: str) -> Any:
        writer()
        if not ctx.store.delete_baseline(name):
            return respond(404, {"message": f"no baseline {name!r}", "data": {"deleted": False}})
        return {"data": {"name": name, "deleted": True}}

    # -- history, compare ----------------------------------------------------------
    @route("/history")
    def history_keys() -> Any:
        limit = query_int("limit", 2000, 1, 20000)
        return ctx.work.run("the history keys", lambda: {"data": _recent_keys(limit)})

    def _recent_keys(limit: int) -> list[dict[str, Any]]:
        keys: dict[str, dict[str, Any]] = {}
        for run in ctx.store.query(limit=limit):
            if not run.history_key:
                continue
            entry = keys.setdefault(
                run.history_key,
                {
                    "history_key": run.history_key,
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

    @route("/history/<key>")
    def history(key: str) -> Any:
        metric = _metric(query("metric"))
        limit = query_int("limit", 1000, 1, MAX_SERIES)
        document = ctx.work.run(
            f"the history of {key[:40]!r}",
            lambda: history_document(
                ctx.store, key, metric, limit=limit, thresholds=ctx.thresholds
            ),
        )
        if document is None:
            fail(404, f"no runs with history key {key!r}")
        return {"data": document}

    @route("/compare")
    def compare() -> Any:
        ids = [item for item in (query("ids") or "").split(",") if item]
        if not 1 <= len(ids) <= MAX_COMPARE:
            fail(400, f"ids must name 1 to {MAX_COMPARE} runs, comma separated")
        return ctx.work.run("this compare", lambda: _side_by_side(list(dict.fromkeys(ids))))

    def _side_by_side(ids: list[str]) -> dict[str, Any]:
        compared = []
        for run_id in ids:
            run = ctx.store.get(run_id)
            job = ctx.jobs.find(run_id)
            compared.append(
                {
                    **run_to_json(run, with_raw=False),
                    "title": job.title if job else run.labels.get("job_title", run.test_id),
                    **run_detail(run),
                    # For overlaid time series on the compare page.
                    "timeseries": derived(run.raw)["timeseries"],
                }
            )
        return {"data": compared, "metrics": list(METRICS)}

    @route("/sessions")
    def list_sessions() -> Any:
        """Plugin sessions (and with jobs=1 the server's jobs), newest first."""
        include_jobs = query("jobs") in ("1", "true")
        limit = query_int("limit", 100, 1, 10000)

        def listed() -> dict[str, Any]:
            found = sessions(ctx.store, include_jobs=include_jobs)
            return {"data": [_session_json(summary) for summary in found[:limit]]}

        return ctx.work.run("the session list", listed)

    @route("/compare/sets")
    def compare_two_sets() -> Any:
        """Two sets of runs by name (as ``fioloadgen compare A B``): per key and metric the
        medians, delta and the gate's statistical verdict."""
        names = {side: (query(side) or "").strip() for side in ("a", "b")}
        if not all(names.values()):
            fail(400, "a and b must each name runs: a session, baseline, run, K=V or latest")
        last = query_int("last", 5, 1, 100)
        metrics = tuple(_metric(m) for m in (query("metrics") or "").split(",") if m)
        return ctx.work.run(
            "this compare", lambda: _compare_sets(names["a"], names["b"], last, metrics)
        )

    def _compare_sets(
        name_a: str, name_b: str, last: int, metrics: tuple[str, ...]
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
                "a": {
                    "name": before.name,
                    "description": before.description,
                    "runs": [run.run_id for run in before.runs],
                },
                "b": {
                    "name": after.name,
                    "description": after.description,
                    "runs": [run.run_id for run in after.runs],
                },
                "rows": [row.as_dict() for row in rows],
                "only_in_a": only_a,
                "only_in_b": only_b,
                "regression": any_regression(rows),
            }
        }

    # -- export / import (JSON, never SQL) -----------------------------------------
    @route("/export")
    def export() -> Any:
        ids = list(dict.fromkeys(item for item in (query("ids") or "").split(",") if item))
        profile_name = query("profile_name") or None
        limit = query_int("limit", 1000, 1, 100000)

        def chosen(cap: int | None) -> list[str]:
            if not ids:
                return ctx.store.run_ids(profile_name=profile_name, limit=_lower(limit, cap))
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
            chosen, at_most=len(ids) or limit, with_raw=True, what="this export", head=head
        )

    def _runs_answer(
        chosen: Callable[[int | None], list[str]],
        *,
        at_most: int | None,
        with_raw: bool,
        what: str,
        head: str,
    ) -> Any:
        """The runs ``chosen(cap)`` names (at most ``cap`` of them when it is given; the
        read holds at most ``at_most``, None: no bound), as ``head``, a JSON array of them
        and ``]}``.

        A bulk read (it may hold more than one fio document, or more than
        ANONYMOUS_BULK_RUNS runs) takes a bulk slot before anything is read, so a refusal
        costs nothing, and streams; beyond ANONYMOUS_BULK_RUNS runs with their documents
        it needs the token (one more id than that is all it looks up to know). Others are
        built in memory.
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

    @route("/import", "POST")
    def import_runs() -> Any:
        writer()
        document = json_object(config.max_bulk_body)
        if document.get("format") != EXPORT_FORMAT or document.get("version") != EXPORT_VERSION:
            fail(400, f"not a {EXPORT_FORMAT} version {EXPORT_VERSION} document")
        items = document.get("runs")
        if not isinstance(items, list):
            fail(400, "field 'runs' must be a list")
        runs = [run_from_json(item, where=f"runs[{i}]") for i, item in enumerate(items)]
        imported, skipped = [], []
        for run in runs:
            if _known(run.run_id):
                skipped.append(run.run_id)
                continue
            ctx.store.record(run)
            imported.append(run.run_id)
        return {"data": {"imported": imported, "skipped": skipped}}

    def _known(run_id: str) -> bool:
        try:
            ctx.store.get(run_id)
        except StoreError:
            return False
        return True
