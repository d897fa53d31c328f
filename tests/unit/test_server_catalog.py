"""Every run is first-class in the server: runs a plugin session recorded straight into
the store, runs recorded through the http store and server jobs are one list, searchable,
each with the same run page document; the list and the export agree."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fioloadgen_server.app import build_context, create_app
from fioloadgen_server.jobsdb import COMPLETE, QUEUED, Job
from test_store_contract import make_run
from werkzeug.test import Client

from tests.conftest import server_config


@pytest.fixture
def ctx(tmp_path):
    context = build_context(server_config(tmp_path))
    yield context
    context.store.close()
    context.jobs.close()


@pytest.fixture
def client(ctx):
    return Client(create_app(ctx))


def body(response):
    return json.loads(response.get_data(as_text=True))


def plugin_run(run_id, *, started, test="bench/test_s.py::test_storage[rr-w1-local]", **fields):
    run = make_run(run_id)
    return dataclasses.replace(
        run,
        target="local",
        workers=1,
        profile_text="[global]\nioengine=psync\nsize=4m\nruntime=1\n[rr]\nrw=randread\n",
        started_at=started,
        finished_at=started + 1,
        test_id=test,
        session_id=fields.pop("session", "s1"),
        verdict=fields.pop("verdict", "pass"),
        evidence={"reason": "1 threshold(s) held", "checks": [], "comparisons": []},
        **fields,
    )


@pytest.fixture
def mixed(ctx):
    """Two plugin runs, a server job's run, and a queued job."""
    ctx.store.record(plugin_run("p1", started=100.0))
    ctx.store.record(
        plugin_run(
            "p2",
            started=200.0,
            verdict="regression",
            session="s2",
            labels={"branch": "main"},
            test="bench/test_s.py::test_latency[lat-w2-local]",
        )
    )
    job_run = plugin_run("j1", started=300.0, test="job", labels={"job_title": "nightly"})
    ctx.store.record(job_run)
    ctx.jobs.add(
        Job(
            id="j1",
            title="nightly",
            profile=job_run.profile_name,
            profile_text=job_run.profile_text,
            workers=1,
            target="local",
            status=COMPLETE,
            created=299.0,
            history_key=job_run.history_key,
        )
    )
    ctx.jobs.add(
        Job(
            id="q1",
            title="waiting",
            profile="randread-4k",
            profile_text="[x]\nrw=read\n",
            workers=1,
            target="local",
            status=QUEUED,
            created=400.0,
        )
    )
    return ctx


def ids(client, query=""):
    return [entry["id"] for entry in body(client.get("/api/v1/jobs" + query))["data"]]


def test_plugin_runs_server_jobs_and_queued_jobs_are_one_list(client, mixed):
    page = body(client.get("/api/v1/jobs"))
    assert [entry["id"] for entry in page["data"]] == ["q1", "j1", "p2", "p1"]
    assert page["total"] == 4
    by_id = {entry["id"]: entry for entry in page["data"]}
    assert by_id["q1"]["status"] == "queued" and by_id["q1"]["verdict"] is None
    assert by_id["j1"]["title"] == "nightly" and by_id["j1"]["source"] == "queue"
    assert by_id["p2"]["verdict"] == "regression" and by_id["p2"]["source"] == "recorded"
    assert by_id["p1"]["title"] == "test_storage[rr-w1-local]"
    # The runs of the list are the runs an export holds.
    exported = body(client.get("/api/v1/export"))["runs"]
    assert sorted(run["run_id"] for run in exported) == ["j1", "p1", "p2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?verdict=regression", ["p2"]),
        ("?test=bench/test_s.py::test_storage", ["p1"]),
        ("?test=job", ["q1", "j1"]),
        ("?session=s2", ["p2"]),
        ("?label=branch=main", ["p2"]),
        ("?q=nightly", ["j1"]),
        ("?since=150&until=350", ["j1", "p2"]),
        ("?status=queued", ["q1"]),
        ("?status=complete", ["j1", "p2", "p1"]),
        ("?limit=2&offset=1", ["j1", "p2"]),
    ],
)
def test_the_list_is_searchable(client, mixed, query, expected):
    assert ids(client, query) == expected


def test_every_run_opens_a_run_document(client, mixed):
    for run_id in ("p1", "p2", "j1"):
        document = body(client.get(f"/api/v1/jobs/{run_id}"))["data"]
        assert document["run"]["run"]["run_id"] == run_id
        assert document["run"]["run"]["evidence"]["reason"] == "1 threshold(s) held"
        assert {"per_worker", "latency", "timeseries"} <= set(document["run"]["derived"])
        assert document["profile_text"]
    queued = body(client.get("/api/v1/jobs/q1"))["data"]
    assert queued["run"] is None and queued["status"] == "queued"
    assert client.get("/api/v1/jobs/nope").status_code == 404


def test_a_plugin_run_can_be_rerun_and_deleted(client, mixed, ctx):
    auth = {"Authorization": f"Bearer {ctx.token}"}
    rerun = client.post("/api/v1/jobs/p1/rerun", headers=auth)
    assert rerun.status_code == 202
    assert body(rerun)["data"]["labels"] == {"rerun_of": "p1"}
    assert client.delete("/api/v1/jobs/p1", headers=auth).status_code == 200
    assert "p1" not in ids(client)
    assert client.get("/api/v1/jobs/p1").status_code == 404


def test_the_store_search_travels_over_http(client, mixed):
    page = body(client.get("/api/v1/runs/search?verdict=pass&limit=1"))
    assert page["total"] == 2 and len(page["data"]) == 1
    assert page["data"][0]["run_id"] == "j1"
