"""Every run is first-class in the server: runs a plugin session recorded straight into
the store, runs recorded through the http store and server jobs are one list, searchable,
each with the same run page document; the list and the export agree."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fioloadgen_server.app import build_context, create_app
from fioloadgen_server.jobsdb import COMPLETE, FAILED, QUEUED, Job
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


# -- pages by cursor --------------------------------------------------------------------


def queued_job(job_id, created, **fields):
    fields.setdefault("status", QUEUED)
    return Job(
        id=job_id,
        title=f"waiting {job_id}",
        profile="randread-4k",
        profile_text="[x]\nrw=read\n",
        workers=1,
        target="local",
        created=created,
        **fields,
    )


@pytest.fixture
def crowded(ctx):
    """Six pending jobs (one failed before fio ran, one older than every run) and nine
    runs, their sort keys tied in pairs: the id orders them."""
    for number in range(5):
        ctx.jobs.add(queued_job(f"q{number}", 1000.0 + number // 2))
    ctx.jobs.add(queued_job("q-old", 50.0, status=FAILED, error="fio did not start"))
    for number in range(9):
        test = "job" if number % 3 == 0 else "bench/test_s.py::test_storage[rr-w1-local]"
        ctx.store.record(plugin_run(f"r{number}", started=100.0 + number // 2, test=test))
    return ctx


def walk(client, query, limit):
    """Every page of the job list in turn, following next_cursor: the ids in order."""
    seen, cursor = [], None
    while True:
        page = body(
            client.get(
                f"/api/v1/jobs?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
            )
        )
        assert page["total"] == len(ids(client, f"?limit=500{query}"))
        seen += [entry["id"] for entry in page["data"]]
        assert len(seen) <= page["total"], "a page repeats entries"
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        # Only the last page is short.
        assert len(page["data"]) == limit


def test_the_job_list_orders_pending_jobs_then_runs_newest_first(client, crowded):
    pending = ["q4", "q3", "q2", "q1", "q0", "q-old"]
    runs = ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    assert ids(client, "?limit=500") == pending + runs


@pytest.mark.parametrize(
    "query", ["", "&test=job", "&status=queued", "&status=complete", "&q=waiting", "&since=101"]
)
def test_cursor_pages_give_every_entry_once_in_order(client, crowded, query):
    everything = ids(client, f"?limit=500{query}")
    assert everything  # each query selects something
    for limit in range(1, len(everything) + 2):
        assert walk(client, query, limit) == everything, f"limit={limit}"


def test_a_cursor_page_is_not_shifted_by_newer_entries(client, crowded, ctx):
    everything = ids(client, "?limit=500")
    among_pending = body(client.get("/api/v1/jobs?limit=4"))
    among_runs = body(client.get("/api/v1/jobs?limit=8"))
    assert everything[6:8] == ["r8", "r7"]  # the six pending jobs come first
    # Queued and recorded since: an offset would now repeat what the first pages showed.
    ctx.jobs.add(queued_job("q-new", 2000.0))
    ctx.store.record(plugin_run("r-new", started=900.0))

    def rest(page):
        after = body(client.get(f"/api/v1/jobs?limit=500&cursor={page['next_cursor']}"))
        return [entry["id"] for entry in after["data"]]

    # The new job sorts before both cursors; the new run after the pending jobs' cursor.
    assert rest(among_pending) == [*everything[4:6], "r-new", *everything[6:]]
    assert rest(among_runs) == everything[8:]


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/runs", "/api/v1/runs/search"])
@pytest.mark.parametrize(
    "cursor",
    [
        "!!",
        "WzFd",  # [1]: JSON, not a cursor
        "WyJhIiwiYiJd",  # ["a","b"]: the time is not a number
        "W05hTiwiYSJd",  # [NaN,"a"]
        "WzEsImEiLDJd",  # [1,"a",2]: not the pending flag
        "x" * 5000,
    ],
)
def test_a_bad_cursor_is_a_one_line_400_naming_it(client, crowded, path, cursor):
    response = client.get(f"{path}?cursor={cursor}&limit=2")
    assert response.status_code == 400
    message = body(response)["message"]
    assert message.startswith("query parameter cursor=") and "is not a page cursor" in message
    assert "\n" not in message and len(message) < 300
