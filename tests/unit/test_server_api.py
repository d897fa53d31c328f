"""The results server's REST API, in-process through WSGI (no sockets, no executor)."""

from __future__ import annotations

import base64
import json

import pytest
from fioloadgen_server.app import build_context, create_app
from fioloadgen_server.jobsdb import JobFilter
from fioloadgen_server.openapi import openapi_document
from werkzeug.test import Client

from tests.conftest import server_config

GOOD = "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


@pytest.fixture
def ctx(tmp_path):
    context = build_context(server_config(tmp_path))
    yield context
    context.store.close()
    context.jobs.close()


@pytest.fixture
def client(ctx):
    return Client(create_app(ctx))


@pytest.fixture
def auth(ctx):
    return {"Authorization": f"Bearer {ctx.token}"}


def body(response):
    return json.loads(response.get_data(as_text=True))


def submit(client, auth, **fields):
    payload = {"profile": "randread-4k", "workers": 1, "title": "a run", **fields}
    return client.post("/api/v1/jobs", json=payload, headers=auth)


# -- status and errors -----------------------------------------------------------------


def test_status_reports_backend_workers_queue_and_version(client):
    response = client.get("/api/v1/status")
    assert response.status_code == 200
    data = body(response)["data"]
    assert data["backend"] == "local"
    assert data["workers"] == {"local": 2}
    assert data["queue_length"] == 0
    assert data["running_job"] is None
    assert data["version"]
    assert data["uptime_s"] >= 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/api/v1/status", 405),
        ("GET", "/api/v1/jobs/no-such-job", 404),
        ("GET", "/api/v1/runs/no-such-run", 404),
        ("GET", "/api/nothing", 404),
    ],
)
def test_every_error_is_json_with_a_message(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert isinstance(body(response)["message"], str)


def test_an_unexpected_exception_is_a_json_500_and_the_server_goes_on(ctx, client, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(ctx, "status", broken)
    response = client.get("/api/v1/status")
    assert response.status_code == 500
    assert "internal server error" in body(response)["message"]
    assert "boom" not in response.get_data(as_text=True)
    assert client.get("/api/v1/profiles").status_code == 200


# -- security --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-000000000"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Token abc"},
    ],
)
def test_writes_need_the_token(client, headers):
    response = submit(client, headers)
    assert response.status_code == 401
    assert "token" in body(response)["message"]
    assert client.put("/api/v1/profiles/x", json={"text": GOOD}, headers=headers).status_code == 401
    assert client.delete("/api/v1/jobs/x", headers=headers).status_code == 401
    assert client.post("/api/v1/import", json={}, headers=headers).status_code == 401


@pytest.mark.parametrize("form", ["{t}:", "user:{t}"])
def test_basic_credentials_carry_the_token_too(ctx, client, form):
    value = base64.b64encode(form.format(t=ctx.token).encode()).decode()
    response = submit(client, {"Authorization": f"Basic {value}"})
    assert response.status_code == 202


def test_token_file_is_private(ctx):
    assert (ctx.config.token_path.stat().st_mode & 0o777) == 0o600
    assert ctx.config.token_path.read_text().strip() == ctx.token


def test_cors_is_off_by_default(client):
    response = client.get("/api/v1/status", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert client.options("/api/v1/jobs").status_code in (404, 405)


def test_cors_allows_only_configured_origins(tmp_path):
    from dataclasses import replace

    config = replace(server_config(tmp_path), cors_origins=("http://ui.example",))
    context = build_context(config)
    try:
        client = Client(create_app(context))
        ok = client.get("/api/v1/status", headers={"Origin": "http://ui.example"})
        assert ok.headers["Access-Control-Allow-Origin"] == "http://ui.example"
        other = client.get("/api/v1/status", headers={"Origin": "http://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        assert (
            client.options("/api/v1/jobs", headers={"Origin": "http://ui.example"}).status_code
            == 204
        )
    finally:
        context.store.close()
        context.jobs.close()


def test_request_bodies_are_limited(client, auth):
    huge = {"text": "x" * (2 * 1024 * 1024)}
    response = client.put("/api/v1/profiles/big", json=huge, headers=auth)
    assert response.status_code == 413
    assert "limit" in body(response)["message"]


def test_bad_json_is_a_400_with_a_message(client, auth):
    response = client.post(
        "/api/v1/jobs", data="{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in body(response)["message"]


def test_ui_pages_forbid_inline_scripts(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    chart = client.get("/ui/vendor/chart.umd.min.js")
    assert chart.status_code == 200
    assert b"Chart.js v4.6.1" in chart.get_data()


# -- profiles --------------------------------------------------------------------------


def test_profiles_list_and_show(client):
    names = [entry["name"] for entry in body(client.get("/api/v1/profiles"))["data"]]
    assert "randread-4k" in names
    shown = body(client.get("/api/v1/profiles/randread-4k"))["data"]
    assert "rw=randread" in shown["text"]
    assert shown["read_only"] is True


def test_add_replace_and_delete_a_profile(client, auth):
    created = client.put("/api/v1/profiles/mine", json={"text": GOOD}, headers=auth)
    assert created.status_code == 201
    replaced = client.put(
        "/api/v1/profiles/mine", json={"text": GOOD.replace("4k", "8k")}, headers=auth
    )
    assert replaced.status_code == 200
    assert "bs=8k" in body(client.get("/api/v1/profiles/mine"))["data"]["text"]
    assert client.delete("/api/v1/profiles/mine", headers=auth).status_code == 200
    assert client.get("/api/v1/profiles/mine").status_code == 404
    assert client.delete("/api/v1/profiles/mine", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "exec_prerun=rm -rf /\n", "exec_prerun"),
        (GOOD.replace("psync", "external:/tmp/evil.so"), "ioengine"),
        (GOOD + "filename=/dev/sda\n", "filename"),
        ("[global]\nsize=4m\n", "no job section"),
        (GOOD + "bogus_option=1\n", "bogus_option"),
        # The reported escapes: a job name that is a path, a variable fio expands again.
        (
            "[../../../../tmp/pwn.sh]\nfilename_format=$jobname\nrw=write\nbuffer_pattern=0x2321\n",
            "job name '../../../../tmp/pwn.sh' is not allowed",
        ),
        # The server allows no variable: ${U} is refused before it could expand.
        (GOOD + "filename=$${U}{HOME}/x\n", "names an environment variable you did not"),
        (GOOD + "ioscheduler=none\n", "ioscheduler"),
    ],
)
def test_unsafe_or_invalid_profiles_are_refused_with_the_reason(client, auth, text, expected):
    response = client.put("/api/v1/profiles/bad", json={"text": text}, headers=auth)
    assert response.status_code == 400
    assert expected in body(response)["message"]
    assert client.get("/api/v1/profiles/bad").status_code == 404


@pytest.mark.parametrize("name", ["..", "a" * 25, "a b", "x;y", "é"])
def test_profile_names_are_validated(client, auth, name):
    response = client.put(f"/api/v1/profiles/{name}", json={"text": GOOD}, headers=auth)
    assert response.status_code in (400, 404)
    assert "message" in body(response)


def test_shipped_profiles_cannot_be_replaced_or_deleted(client, auth):
    assert (
        client.put("/api/v1/profiles/randread-4k", json={"text": GOOD}, headers=auth).status_code
        == 409
    )
    assert client.delete("/api/v1/profiles/randread-4k", headers=auth).status_code == 409


def test_custom_builder_makes_a_valid_job_file(client, auth):
    spec = {"pattern": "random", "read_pct": 70, "block_size": "16k", "iodepth": 8, "runtime": 5}
    preview = body(client.post("/api/v1/profile-builder", json=spec))["data"]["text"]
    assert "rw=randrw" in preview and "rwmixread=70" in preview and "bs=16k" in preview
    saved = client.put("/api/v1/profiles/built", json={"spec": spec}, headers=auth)
    assert saved.status_code == 201
    bad = client.post("/api/v1/profile-builder", json={**spec, "iodepth": 0})
    assert bad.status_code == 400
    assert "iodepth" in body(bad)["message"]


# -- jobs ------------------------------------------------------------------------------


def test_submit_queues_a_job(client, auth):
    response = submit(client, auth, title="first", labels={"ci": "yes"})
    assert response.status_code == 202
    job = body(response)["data"]
    assert job["status"] == "queued"
    assert job["expected_runtime"] == 3.0  # runtime 1 s + the shipped ramp_time of 2 s
    shown = body(client.get(f"/api/v1/jobs/{job['id']}"))["data"]
    assert shown["title"] == "first" and shown["labels"] == {"ci": "yes"}
    assert shown["run"] is None
    assert body(client.get("/api/v1/status"))["data"]["queue_length"] == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"profile": "nope"}, "no profile 'nope'"),
        ({"workers": 0}, "workers 0"),
        # Workers are deployed on demand up to serve --max-workers (16 by default).
        ({"workers": 17}, "workers 17 must be from 1 to 16"),
        ({"workers": "x"}, "workers"),
        ({"target": "elsewhere"}, "unknown target 'elsewhere'"),
        ({"title": ""}, "title"),
        ({"profile": "../etc/passwd"}, "profile name"),
    ],
)
def test_bad_submissions_are_refused(client, auth, fields, message):
    response = submit(client, auth, **fields)
    assert response.status_code in (400, 404)
    assert message in body(response)["message"]


def test_list_filters_and_pages_newest_first(ctx, client, auth):
    for title in ("alpha", "beta", "gamma"):
        submit(client, auth, title=title)
    page = body(client.get("/api/v1/jobs?limit=2"))
    assert [job["title"] for job in page["data"]] == ["gamma", "beta"]
    assert page["total"] == 3
    rest = body(client.get("/api/v1/jobs?limit=2&offset=2"))
    assert [job["title"] for job in rest["data"]] == ["alpha"]
    assert [j["title"] for j in body(client.get("/api/v1/jobs?q=mm"))["data"]] == ["gamma"]
    assert [j["title"] for j in body(client.get("/api/v1/jobs?title=mm"))["data"]] == ["gamma"]
    assert body(client.get("/api/v1/jobs?status=complete"))["data"] == []
    assert client.get("/api/v1/jobs?verdict=bogus").status_code == 400
    assert client.get("/api/v1/jobs?limit=100000").status_code == 400
    assert client.get("/api/v1/jobs?since=soon").status_code == 400
    assert body(client.get("/api/v1/jobs?q=%25"))["data"] == []


def test_cancel_delete_and_rerun(ctx, client, auth):
    first = body(submit(client, auth))["data"]["id"]
    cancelled = client.post(f"/api/v1/jobs/{first}/cancel", headers=auth)
    assert body(cancelled)["data"]["status"] == "cancelled"
    again = client.post(f"/api/v1/jobs/{first}/cancel", headers=auth)
    assert again.status_code == 409
    rerun = client.post(f"/api/v1/jobs/{first}/rerun", headers=auth)
    assert rerun.status_code == 202
    second = body(rerun)["data"]
    assert second["id"] != first and second["status"] == "queued"
    assert client.delete(f"/api/v1/jobs/{first}", headers=auth).status_code == 200
    assert client.get(f"/api/v1/jobs/{first}").status_code == 404
    claimed = ctx.jobs.claim_next()
    assert claimed.id == second["id"]
    running = client.delete(f"/api/v1/jobs/{second['id']}", headers=auth)
    assert running.status_code == 409
    assert "running" in body(running)["message"]


def test_queue_restart_semantics(ctx):
    from fioloadgen_server.jobsdb import JobDB

    ids = [
        ctx.submit(profile="randread-4k", workers=1, target="local", title=f"t{i}").id
        for i in range(3)
    ]
    assert ctx.jobs.claim_next().id == ids[0]
    ctx.jobs.close()
    reopened = JobDB(ctx.config.db_path)
    try:
        assert reopened.interrupt_running() == 1
        assert reopened.get(ids[0]).status == "interrupted"
        assert reopened.claim_next().id == ids[1]
        jobs, total = reopened.list(JobFilter(status="queued"))
        assert [job.id for job in jobs] == [ids[2]] and total == 1
    finally:
        ctx.jobs = reopened


def test_openapi_document_names_exactly_the_routes(ctx):
    app = create_app(ctx)
    routes = {
        (route.method.lower(), route.rule.removeprefix("/api/v1"))
        for route in app.routes
        if route.rule.startswith("/api/v1/") and route.method != "OPTIONS"
    }
    documented = {
        (method, path.replace("{", "<").replace("}", ">"))
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


# -- history, compare, export/import ---------------------------------------------------


def test_history_compare_export_import_round_trip(ctx, client, auth):
    from tests.unit.test_store_contract import make_run

    runs = [make_run(f"r{i}", started_at=100.0 + i, metrics={"iops": 1000.0 + i}) for i in range(3)]
    for run in runs:
        assert (
            client.post(
                "/api/v1/runs", json=json.loads(json.dumps(_wire(run))), headers=auth
            ).status_code
            == 201
        )
    history = body(client.get("/api/v1/history/0123456789abcdef?metric=iops"))["data"]
    assert [p["value"] for p in history["points"]] == [1000.0, 1001.0, 1002.0]
    assert history["thresholds"] == [] and history["change_points"] == []
    # Three runs are enough history for the auto-baseline band: median ± the iops tolerance.
    band = history["baseline_band"]
    assert band["center"] == 1001.0
    assert band["low"] == pytest.approx(900.9)
    assert band["high"] == pytest.approx(1101.1)
    assert client.get("/api/v1/history/0123456789abcdef?metric=nope").status_code == 400
    keys = body(client.get("/api/v1/history"))["data"]
    assert keys[0]["history_key"] == "0123456789abcdef" and keys[0]["runs"] == 3
    compared = body(client.get("/api/v1/compare?ids=r0,r2"))["data"]
    assert [run["run_id"] for run in compared] == ["r0", "r2"]
    exported = body(client.get("/api/v1/export?ids=r0,r1"))
    assert exported["format"] == "fioloadgen-runs" and len(exported["runs"]) == 2
    listed = body(client.get("/api/v1/jobs"))["data"]
    assert {job["id"] for job in listed} == {"r0", "r1", "r2"}
    assert client.delete("/api/v1/jobs/r0", headers=auth).status_code == 200
    imported = body(client.post("/api/v1/import", json=exported, headers=auth))["data"]
    assert imported == {"imported": ["r0"], "skipped": ["r1"]}
    assert client.get("/api/v1/runs/r0").status_code == 200
    bad = client.post("/api/v1/import", json={"format": "sql", "runs": []}, headers=auth)
    assert bad.status_code == 400


def _wire(run):
    from pytest_fioloadgen.store.wire import run_to_json

    return run_to_json(run)


def test_history_overlay_has_change_points_and_threshold_lines(ctx, client, auth, tmp_path):
    from pytest_fioloadgen.verdicts.thresholds import Thresholds
    from tests.unit.test_store_contract import make_run

    limits = tmp_path / "limits.toml"
    limits.write_text("[profile.randread-4k.workers.4]\niops = 850\n")
    ctx.thresholds = Thresholds.load(limits)
    for number in range(24):
        iops = (1000.0 if number < 12 else 700.0) + (number % 3)
        run = make_run(f"s{number:02d}", started_at=100.0 + number, metrics={"iops": iops})
        assert (
            client.post(
                "/api/v1/runs", json=json.loads(json.dumps(_wire(run))), headers=auth
            ).status_code
            == 201
        )
    history = body(client.get("/api/v1/history/0123456789abcdef?metric=iops"))["data"]
    (shift,) = history["change_points"]
    assert shift["run_id"] == "s12"
    assert shift["direction"] == "regression"
    assert shift["delta_pct"] == pytest.approx(-30, abs=1)
    assert history["thresholds"] == [
        {"label": f"{limits} [profile.randread-4k.workers.4]", "value": 850.0, "bound": "min"}
    ]
    assert history["baseline_band"]["center"] == pytest.approx(701, abs=2)


def test_history_reads_no_fio_document_and_computes_once(ctx, client, auth, monkeypatch):
    """A history page decompresses no raw document; its overlay is the key's cached
    summary, computed again only after a run of the key was recorded."""
    from pytest_fioloadgen.store import sqlite as sqlite_store
    from pytest_fioloadgen.verdicts import summaries as key_summary
    from tests.unit.test_store_contract import make_run

    for number in range(30):
        run = make_run(f"h{number:02d}", started_at=100.0 + number, metrics={"iops": 1000.0})
        assert client.post("/api/v1/runs", json=_wire(run), headers=auth).status_code == 201
    opened, computed = [], []
    decompress, summarize = sqlite_store.zlib.decompress, key_summary.summarize
    monkeypatch.setattr(
        sqlite_store.zlib, "decompress", lambda d: opened.append(1) or decompress(d)
    )
    monkeypatch.setattr(
        key_summary, "summarize", lambda *a, **k: computed.append(1) or summarize(*a, **k)
    )
    for _ in range(3):
        history = body(client.get("/api/v1/history/0123456789abcdef?metric=iops&limit=10"))
        assert len(history["data"]["points"]) == 10
    assert (len(opened), len(computed)) == (0, 1)
    extra = make_run("h99", started_at=500.0, metrics={"iops": 1000.0})
    assert client.post("/api/v1/runs", json=_wire(extra), headers=auth).status_code == 201
    body(client.get("/api/v1/history/0123456789abcdef?metric=iops"))
    assert len(computed) == 2


def test_sessions_and_two_named_sets_compared(ctx, client):
    from tests.unit.test_store_contract import make_run

    for side, level in (("old", 1000.0), ("new", 700.0)):
        for i in range(3):
            ctx.store.record(
                make_run(
                    f"{side}{i}",
                    session_id=f"s-{side}",
                    started_at=(200.0 if side == "new" else 100.0) + i,
                    metrics={"iops": level + i},
                    history_key="k" * 16,
                    test_id="t.py::test_x[p-w4-fast-r1]",
                )
            )
    listed = body(client.get("/api/v1/sessions"))["data"]
    assert [s["session_id"] for s in listed] == ["s-new", "s-old"]
    assert listed[0]["runs"] == 3 and listed[0]["kind"] == "plugin"
    compared = body(client.get("/api/v1/compare/sets?a=previous&b=latest&metrics=iops"))["data"]
    (row,) = compared["rows"]
    assert row["verdict"] == "regression" and row["delta_pct"] == pytest.approx(-30.0, abs=0.1)
    assert row["case"] == "test_x[p-w4-fast]" and compared["regression"] is True
    assert compared["a"]["runs"] == ["old2", "old1", "old0"]
    missing = client.get("/api/v1/compare/sets?a=nosuch&b=latest")
    assert missing.status_code == 404 and "'nosuch' is not a session" in body(missing)["message"]
    assert client.get("/api/v1/compare/sets?a=latest").status_code == 400
