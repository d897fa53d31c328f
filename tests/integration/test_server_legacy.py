"""FIOLoadGen 1.5 clients against the new server, over real HTTP.

FIOLoadGen's code is not vendored here: ``Fiocli15`` below repeats, call for call, the
requests the unchanged 1.5 ``fiocli`` sends and the way it reads the answers (as
docs/legacy-api.md records them: the base ``http://`` + FIO_API_ADDRESS +
``/api``, credentials only from the address, the doubly encoded job record, the exact
status codes it checks), so each test fails where fiocli would crash, hang or complain.
"""

from __future__ import annotations

import datetime
import json
import time

import pytest
import requests


class Fiocli15:
    """fiocli 1.5's behaviour, returning what it would print (and raising where it crashes)."""

    def __init__(self, address: str):
        self.url = f"http://{address}/api"

    def ping(self) -> None:
        requests.get(f"{self.url}/ping", timeout=2)

    def status(self) -> list[str]:
        r = requests.get(f"{self.url}/status", timeout=2)
        if r.status_code != 200:
            return [f"Failed to retrieve web service status [{r.status_code}]"]
        js = r.json()["data"]
        workers = js["workers"]
        width = max(len(k) for k in workers)
        out = [
            f"Target      : {js['target']}",
            f"Debug Mode  : {'Yes' if js['debug_mode'] else 'No'}",
        ]
        out += ["Workers"] + [f"  {sc:<{width}} : {workers[sc]}" for sc in workers]
        running = f"Yes ({js['active_job_id']})" if js["task_active"] else "No"
        out += [f"Job running : {running}", f"Jobs queued : {js['tasks_queued']}"]
        out.append(f"Uptime      : {datetime.timedelta(seconds=int(js['run_time']))}")
        return out

    def profile_ls(self) -> list[str]:
        self.ping()
        return [f"- {p['name']}" for p in requests.get(f"{self.url}/profile").json()["data"]]

    def profile_show(self, name: str) -> str:
        self.ping()
        names = [p["name"] for p in requests.get(f"{self.url}/profile").json()["data"]]
        if name not in names:
            return f"The server doesn't have a profile called '{name}'."
        return requests.get(f"{self.url}/profile/{name}").json()["data"]

    def profile_refresh(self) -> list[str]:
        self.ping()
        requests.get(f"{self.url}/profile").json()["data"]
        r = requests.get(f"{self.url}/profile?refresh=true")
        if r.status_code != 200:
            return [f"Profile refresh failed: {r.status_code}"]
        summary = r.json()["summary"]
        return [f" - {k:<11s}: {len(summary[k]):>2}" for k in summary]

    def profile_add(self, name: str, text: str) -> str:
        self.ping()
        r = requests.put(
            f"{self.url}/profile/{name}",
            data=json.dumps({"data": text}),
            headers={"Content-Type": "application/json"},
        )
        return "profile upload successful" if r.status_code == 200 else r.json().get("message")

    def profile_rm(self, name: str) -> str:
        self.ping()
        r = requests.delete(f"{self.url}/profile/{name}")
        return "profile deleted" if r.status_code == 200 else r.json().get("message")

    def run(self, profile: str, title: str, storageclass: str, workers=9999, wait=False):
        self.ping()
        r = requests.post(
            f"{self.url}/job/{profile}",
            json={
                "workers": workers,
                "title": title,
                "provider": "aws",
                "platform": "openshift",
                "storageclass": storageclass,
            },
            headers={"Content-type": "application/json"},
        )
        if r.status_code != 202:
            return [f"- Job request failed ({r.status_code}). {r.json()['message']}"], None
        uuid = r.json()["data"]["uuid"]
        out = [f"- Request queued with uuid = {uuid}"]
        if wait:
            deadline = time.time() + 90  # fiocli has none: it would spin forever
            while True:
                c = requests.get(f"{self.url}/job/{uuid}")
                if c.status_code != 200:
                    out.append(f"- Request failed with status code {c.status_code}")
                    return out, uuid
                if json.loads(c.json()["data"])["status"] in ["complete", "failed"]:
                    break
                assert time.time() < deadline, "fiocli --wait would never return"
                time.sleep(0.5)
            out += self._summary(c)
        return out, uuid

    def _summary(self, response) -> list[str]:
        data = json.loads(response.json()["data"])
        out = []
        for k in ["id", "title", "started", "profile", "workers", "status"]:
            if k == "started":
                started = data["started"]
                stamp = datetime.datetime.fromtimestamp(started) if started else None
                out.append(
                    f"Run Date : {stamp:%Y-%m-%d %H:%M:%S}" if stamp else "Run Date : pending"
                )
            else:
                out.append(f"{k.title():<9}: {data[k]}")
        if data.get("summary"):
            out.append("Summary  :")
            js = json.loads(data["summary"])
            out.append(f"  Total_Iops: {int(js['total_iops']):,}")
            out += [f"  {k.title()}: {v}" for k, v in js.items()]
        else:
            out.append("Summary  : Unavailable (missing)")
        return out

    def job_ls(self, queued=False) -> list[str]:
        self.ping()
        data = requests.get(f"{self.url}/job?fields=id,status,title,ended").json()["data"]
        rows = sorted(data, key=lambda i: i["ended"] if i["ended"] else 9999999999, reverse=True)
        out = []
        for p in rows:
            if queued and p["status"] != "queued":
                continue
            end = (
                datetime.datetime.fromtimestamp(p["ended"]).strftime("%Y-%m-%d %H:%M:%S")
                if p["ended"]
                else "N/A"
            )
            out.append(f"{p['id']:<37}  {p['status']:<11}  {end:^19}  {p['title']}")
        return [*out, f"Jobs: {len(out):>3}"]

    def job_show(self, job_id: str, raw=False, with_spec=False) -> list[str]:
        self.ping()
        r = requests.get(f"{self.url}/job/{job_id}")
        if r.status_code == 404:
            return [f"Job with id '{job_id}', does not exist in the database"]
        if r.status_code != 200:
            return [f"Unknown status returned : {r.status_code}"]
        out = self._summary(r)
        record = json.loads(r.json()["data"])
        if with_spec and record["status"] == "complete":
            js = json.loads(record["raw_json"])
            out.append(js["fio version"])
            assert isinstance(js["global options"], dict)
            for client in js["client_stats"]:
                if client["jobname"] != "All clients":
                    assert isinstance(client["job options"], dict)
        if raw:
            out.append(json.dumps(json.loads(record["raw_json"]), indent=2))
        return out

    def job_delete(self, job_id: str) -> str:
        self.ping()
        r = requests.delete(f"{self.url}/job/{job_id}")
        if r.status_code == 200:
            return f"Queued job '{job_id}' has been marked for deletion"
        return f"{r.json().get('message')} [{r.status_code}]"

    def db_dump(self, table: str, query: str = "") -> tuple[int, bytes, str]:
        self.ping()
        r = requests.get(f"{self.url}/db/{table}{query}")
        return r.status_code, r.content, "" if r.status_code == 200 else r.json()["message"]

    def db_import(self, table: str, script: str) -> list[str]:
        self.ping()
        r = requests.post(f"{self.url}/db/{table}", json={"sql_script": script})
        if r.status_code == 200:
            return ["data import successful"]
        return [f"database import failed: {r.status_code}", f"Error: {r.json()['message']}"]


GOOD = "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


@pytest.fixture
def legacy(start_server):
    live = start_server(executor=True)
    address = live.url.removeprefix("http://")
    return live, Fiocli15(f"{live.token}:@{address}"), Fiocli15(address)


def test_status_and_profiles(legacy):
    _live, cli, anonymous = legacy
    out = anonymous.status()
    assert out[0] == "Target      : local"
    assert out[2:4] == ["Workers", "  local : 2"]
    assert out[4] == "Job running : No"
    assert "- randread-4k" in anonymous.profile_ls()
    assert "rw=randread" in anonymous.profile_show("randread-4k")
    assert anonymous.profile_show("nope").startswith("The server doesn't have")
    assert anonymous.profile_refresh() == ["Profile refresh failed: 401"]
    assert cli.profile_refresh()[0].startswith(" - processed  :")


def test_profile_add_and_rm_need_the_token_and_the_policy(legacy):
    _live, cli, anonymous = legacy
    assert "token" in anonymous.profile_add("mine", GOOD)
    assert cli.profile_add("mine", GOOD) == "profile upload successful"
    assert "already exists" in cli.profile_add("mine", GOOD)
    assert "exec_prerun" in cli.profile_add("evil", GOOD + "exec_prerun=id\n")
    assert "- mine" in cli.profile_ls()
    assert "token" in anonymous.profile_rm("mine")
    assert cli.profile_rm("mine") == "profile deleted"
    assert "no profile 'None'" in cli.profile_rm("None")


@pytest.mark.slow
def test_run_wait_show_raw_list_delete(legacy):
    _live, cli, anonymous = legacy
    refused, _ = anonymous.run("randread-4k", "no token", "local")
    assert refused[0].startswith("- Job request failed (401).")
    bad, _ = cli.run("randread-4k", "bad class", "gold")
    assert bad[0].startswith("- Job request failed (400). storageclass 'gold'")
    out, uuid = cli.run("randread-4k", "legacy run", "local", workers="2", wait=True)
    assert out[0] == f"- Request queued with uuid = {uuid}"
    assert f"Id       : {uuid}" in out
    assert "Status   : complete" in out
    assert "Workers  : 2" in out
    assert any(line.startswith("  Total_Iops: ") for line in out)
    assert any(line.startswith("  Read Ms Min/Avg/Max: ") for line in out)
    shown = cli.job_show(uuid, raw=True, with_spec=True)
    assert json.loads(shown[-1])["client_stats"]
    listing = cli.job_ls()
    assert any(line.startswith(uuid) and "complete" in line for line in listing)
    assert listing[-1] == "Jobs:   1"
    assert cli.job_ls(queued=True) == ["Jobs:   0"]
    assert anonymous.job_delete(uuid).endswith("[401]")
    assert cli.job_delete(uuid) == f"Queued job '{uuid}' has been marked for deletion"
    assert cli.job_show(uuid) == [f"Job with id '{uuid}', does not exist in the database"]


def test_every_final_state_reads_complete_or_failed(start_server):
    live = start_server()  # no executor: the jobs stay where the test puts them
    cli = Fiocli15(f"{live.token}:@{live.url.removeprefix('http://')}")
    jobs = live.server.ctx.jobs
    _out, cancelled = cli.run("randread-4k", "to cancel", "local", workers=1)
    jobs.cancel(cancelled)
    _out, interrupted = cli.run("randread-4k", "to interrupt", "local", workers=1)
    assert jobs.claim_next().id == interrupted
    jobs.interrupt_running()
    for uuid in (cancelled, interrupted):
        record = json.loads(requests.get(f"{cli.url}/job/{uuid}").json()["data"])
        assert record["status"] == "failed"
        # --raw parses raw_json whatever the status: never null.
        assert cli.job_show(uuid, raw=True)[-1] == "{}"


def test_job_fields_are_whitelisted(legacy):
    _live, cli, _anonymous = legacy
    ok = requests.get(f"{cli.url}/job?fields=id,status,title,ended")
    assert ok.status_code == 200 and ok.json()["data"] == []
    bad = requests.get(f"{cli.url}/job?fields=id,sqlite_version()")
    assert bad.status_code == 400 and "sqlite_version()" in bad.json()["message"]


def test_db_import_is_gone_and_exports_are_json_with_whitelists(legacy):
    _live, cli, anonymous = legacy
    script = 'BEGIN;\nINSERT INTO "jobs" VALUES(1);\nDROP TABLE jobs;\nCOMMIT;\n'
    for client in (cli, anonymous):
        out = client.db_import("jobs", script)
        assert out == [
            "database import failed: 410",
            "Error: legacy SQL import is disabled; use the new JSON import (fioloadgen db import)",
        ]
    status, content, _ = anonymous.db_dump("profiles")
    assert status == 200 and "randread-4k" in json.loads(content)["rows"][1]["name"]
    status, content, _ = anonymous.db_dump("profiles", "?name=randread-4k")
    assert status == 200 and len(json.loads(content)["rows"]) == 1
    assert anonymous.db_dump("profiles", "?name=nope")[0] == 404
    status, _content, message = anonymous.db_dump("jobs", "?id=1 OR 1=1")
    assert status == 404 and "no job" in message
    status, _content, message = anonymous.db_dump("jobs", "?status=queued")
    assert status == 400 and "id=VALUE" in message
    assert anonymous.db_dump("sqlite_master")[0] == 404


def test_errors_on_legacy_paths_are_json(legacy):
    _live, cli, _anonymous = legacy
    for method, path in (("GET", "/nope"), ("PATCH", "/job/x"), ("GET", "/job/x")):
        response = requests.request(method, cli.url + path)
        assert response.status_code >= 400
        assert isinstance(response.json()["message"], str)
