"""The fioloadgen client commands against a live server, and the executor with real fio."""

from __future__ import annotations

import json
import time

import pytest
import requests
from fioloadgen_server.jobsdb import QUEUED, Job

from pytest_fioloadgen.cli import main

GOOD = "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


@pytest.fixture
def served(start_server, monkeypatch):
    def serve(**kwargs):
        live = start_server(**kwargs)
        monkeypatch.setenv("FIO_API_URL", live.url)
        monkeypatch.setenv("FIO_API_TOKEN", live.token)
        return live

    return serve


def test_status_profiles_and_errors(served, capsys, tmp_path, monkeypatch):
    live = served()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "backend     : local" in out and "workers     : local=2" in out
    assert main(["profile", "ls"]) == 0
    assert "randread-4k" in capsys.readouterr().out
    job_file = tmp_path / "mine.fio"
    job_file.write_text(GOOD)
    assert main(["profile", "add", str(job_file)]) == 0
    assert capsys.readouterr().out == "profile 'mine' added\n"
    assert main(["profile", "show", "mine"]) == 0
    assert "rw=randread" in capsys.readouterr().out
    evil = tmp_path / "evil.fio"
    evil.write_text(GOOD + "exec_prerun=id\n")
    assert main(["profile", "add", str(evil)]) == 2
    assert "exec_prerun" in capsys.readouterr().err
    assert main(["profile", "rm", "mine"]) == 0
    assert main(["profile", "rm", "mine"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fioloadgen: error: ") and "no profile 'mine'" in err
    assert len(err.splitlines()) == 1
    # A wrong token: its own exit status, and the token is never printed.
    monkeypatch.setenv("FIO_API_TOKEN", "not-the-token-at-all")
    assert main(["profile", "rm", "whatever"]) == 4
    assert "not-the-token" not in capsys.readouterr().err
    # Unreachable: one line naming the server, exit status 3.
    monkeypatch.setenv("FIO_API_URL", "http://127.0.0.1:9")
    assert main(["status"]) == 3
    assert "cannot be reached" in capsys.readouterr().err
    monkeypatch.delenv("FIO_API_URL")
    assert main(["status"]) == 2
    assert "--url" in capsys.readouterr().err
    assert main(["status", "--url", live.url]) == 0


def test_job_ls_pages_with_the_cursor_it_prints(served, capsys):
    live = served()
    for number in range(5):
        live.server.ctx.jobs.add(
            Job(
                id=f"q{number}",
                title=f"waiting {number}",
                profile="randread-4k",
                profile_text="[x]\nrw=read\n",
                workers=1,
                target="local",
                status=QUEUED,
                created=100.0 + number,
            )
        )
    listed: list[str] = []
    args = ["job", "ls", "--limit", "2"]
    while True:
        assert main(args) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("ID")
        rows = [line for line in lines[1:] if line.startswith("q")]
        listed += [row.split()[0] for row in rows]
        assert f"runs and jobs: {len(rows)} of 5" in lines
        hint = [line for line in lines if line.startswith("next page: ")]
        if not hint:
            break
        cursor = hint[0].split("--cursor ")[1].split()[0]
        args = ["job", "ls", "--limit", "2", "--cursor", cursor]
    assert listed == ["q4", "q3", "q2", "q1", "q0"]
    assert main(["job", "ls", "--cursor", "not-a-cursor!"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fioloadgen: error: --cursor 'not-a-cursor!' is not a page cursor")
    assert len(err.splitlines()) == 1


def test_local_profile_commands_still_read_files_without_a_server(capsys, monkeypatch):
    monkeypatch.delenv("FIO_API_URL", raising=False)
    assert main(["profile", "ls"]) == 0
    assert "randread-4k" in capsys.readouterr().out


@pytest.mark.slow
def test_run_wait_job_commands_and_db_round_trip(served, capsys, tmp_path):
    served(executor=True)
    status = main(
        [
            "run",
            "--profile",
            "randread-4k",
            "--workers",
            "2",
            "--title",
            "cli run",
            "--wait",
            "--poll",
            "0.2",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    job_id = out.splitlines()[0].removeprefix("queued job ")
    assert "status   : complete" in out and "  iops" in out
    assert main(["job", "ls"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["job", "show", job_id, "--raw"]) == 0
    assert json.loads(capsys.readouterr().out)["client_stats"]
    export = tmp_path / "runs.json"
    assert main(["db", "export", "--id", job_id, "--out", str(export)]) == 0
    capsys.readouterr()
    # FIOLoadGen 1.5's verb forms do the same, each with one note naming the new form.
    assert main(["job", "--ls"]) == 0
    legacy = capsys.readouterr()
    assert job_id in legacy.out
    assert legacy.err == (
        "fioloadgen: note: `job --ls` is FIOLoadGen 1.5's form; "
        "the new form is `fioloadgen job ls`\n"
    )
    assert main(["job", "--show", job_id, "--raw"]) == 0
    legacy = capsys.readouterr()
    assert json.loads(legacy.out)["client_stats"]
    assert f"`fioloadgen job show {job_id} --raw`" in legacy.err
    assert main(["profile", "--ls"]) == 0
    assert "randread-4k" in capsys.readouterr().out
    assert main(["profile", "--show", "randread-4k"]) == 0
    assert "rw=randread" in capsys.readouterr().out
    dump = tmp_path / "dump.json"
    assert main(["db", "dump", "--out", str(dump)]) == 0
    legacy = capsys.readouterr()
    assert "`fioloadgen db export --out" in legacy.err
    assert json.loads(dump.read_text())["runs"]
    assert main(["job", "rerun", job_id]) == 0
    assert "a rerun of" in capsys.readouterr().out
    assert main(["job", "delete", job_id]) == 0
    assert main(["job", "show", job_id]) == 2
    capsys.readouterr()
    assert main(["db", "import", str(export)]) == 0
    assert capsys.readouterr().out == "imported 1 run(s), skipped 0 already present\n"
    assert main(["db", "import", str(export)]) == 0
    assert "skipped 1" in capsys.readouterr().out


@pytest.mark.slow
def test_run_asks_for_more_workers_than_the_server_started_with(served, capsys):
    """As with FIOLoadGen's fiocli: any count up to the configured maximum; the server
    deploys them on demand (it started with one worker per target)."""
    live = served(executor=True, workers=None)
    assert live.server.ctx.executor.workers() == {"local": 1}
    status = main(["run", "--profile", "randread-4k", "--workers", "2", "--title", "two", "--wait"])
    out = capsys.readouterr().out
    assert status == 0, out
    job_id = out.splitlines()[0].removeprefix("queued job ")
    run = live.server.ctx.store.get(job_id)
    assert run.workers == 2 and len(run.raw["client_stats"]) >= 2
    assert live.server.ctx.executor.workers() == {"local": 2}


def test_executor_survives_a_failing_job(start_server):
    live = start_server(executor=True)
    jobs = live.server.ctx.jobs
    now = time.time()
    broken = [
        Job(
            id="too-many",
            title="w",
            profile="p",
            profile_text=GOOD,
            # More than serve --max-workers (16): refused, never deployed.
            workers=99,
            target="local",
            status=QUEUED,
            created=now,
        ),
        Job(
            id="garbage",
            title="g",
            profile="p",
            profile_text="[x\nnot a job",
            workers=1,
            target="local",
            status=QUEUED,
            created=now,
        ),
    ]
    for job in broken:
        jobs.add(job)
    good = requests.post(
        live.url + "/api/v1/jobs",
        json={"profile": "randread-4k", "workers": 1, "title": "after failures"},
        headers=live.auth,
        timeout=10,
    ).json()["data"]["id"]
    deadline = time.time() + 60
    while jobs.get(good).status in ("queued", "running"):
        assert time.time() < deadline
        time.sleep(0.2)
    assert jobs.get("too-many").status == "failed"
    assert "workers" in jobs.get("too-many").error
    assert jobs.get("garbage").status == "failed"
    assert jobs.get(good).status == "complete"
    run = live.server.ctx.store.get(good)
    assert run.metrics["iops"] > 0 and run.labels["job_title"] == "after failures"
    # Every job has the test part "job": jobs of one profile and size share a history.
    assert run.test_id == "job"
