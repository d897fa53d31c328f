"""Kept answers (server.answer_cache) over real HTTP and a real sqlite history: the job
list and run pages are encoded once per generation, answer 304 to their ETag, and are
read again after every kind of change (a run recorded by another writer of the file, a
run deleted through the API, a baseline pinned, a job queued); the profiles directory is
read again when a file in it changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.store.sqlite import SQLiteStore

T0 = 1_700_000_000.0


def run(number: int) -> RunRecord:
    return RunRecord(
        run_id=f"run-{number:03d}",
        session_id="s1",
        profile_name="randread",
        profile_hash="h" * 64,
        profile_text="[job]\nrw=randread\n",
        workers=2,
        backend="local",
        target="fast",
        started_at=T0 + number * 60,
        finished_at=T0 + number * 60 + 30,
        metrics={"iops": 1000.0 + number, "read_lat_p99_ms": 2.0},
        labels={},
        test_id="tests/test_io.py::test_io",
        verdict="pass",
        history_key="k" * 16,
    )


def record(store_path: Path, *numbers: int) -> None:
    """Recorded as the plugin does: another connection to the server's file."""
    with SQLiteStore(store_path) as store:
        for number in numbers:
            store.record(run(number))


def ids(answer: requests.Response) -> list[str]:
    return [entry["id"] for entry in answer.json()["data"]]


def test_job_list_answers_304_to_its_etag_and_changes_with_the_history(start_server) -> None:
    live = start_server()
    record(live.store_path, 1, 2)
    url = f"{live.url}/api/v1/jobs?limit=20"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200
    assert ids(first) == ["run-002", "run-001"]
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"

    same = requests.get(url, headers={"If-None-Match": tag}, timeout=10)
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["ETag"] == tag

    # Another process records a run: the kept page is stale, the ETag no longer matches.
    record(live.store_path, 3)
    after = requests.get(url, headers={"If-None-Match": tag}, timeout=10)
    assert after.status_code == 200
    assert ids(after) == ["run-003", "run-002", "run-001"]
    assert after.json()["total"] == 3
    assert after.headers["ETag"] != tag

    # Deleted through the API (this server's own connection writes).
    deleted = requests.delete(f"{live.url}/api/v1/jobs/run-002", headers=live.auth, timeout=10)
    assert deleted.status_code == 200
    assert ids(requests.get(url, timeout=10)) == ["run-003", "run-001"]

    # A job queued (the job database) is listed first at once.
    from fioloadgen_server.jobsdb import QUEUED, Job

    live.server.ctx.jobs.add(
        Job(
            id="queued-1",
            title="queued",
            profile="randread",
            profile_text="[job]\nrw=randread\n",
            workers=1,
            target="fast",
            status=QUEUED,
            created=time.time(),
        )
    )
    assert ids(requests.get(url, timeout=10)) == ["queued-1", "run-003", "run-001"]
    # Other answers are never kept.
    status = requests.get(f"{live.url}/api/v1/status", timeout=10)
    assert status.headers["Cache-Control"] == "no-store"
    assert "ETag" not in status.headers


def test_run_page_is_encoded_once_until_a_pin_or_a_delete(start_server) -> None:
    live = start_server()
    record(live.store_path, 1, 2)
    answers = live.server.ctx.answers
    url = f"{live.url}/api/v1/jobs/run-001"
    first = requests.get(url, timeout=10)
    assert first.status_code == 200
    assert first.json()["data"]["id"] == "run-001"
    misses = answers.misses
    again = requests.get(url, timeout=10)
    assert again.content == first.content
    assert answers.misses == misses  # served as kept
    assert (
        requests.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10).status_code
        == 304
    )

    pinned = requests.put(
        f"{live.url}/api/v1/baselines/golden",
        json={"run_ids": ["run-001"]},
        headers=live.auth,
        timeout=10,
    )
    assert pinned.status_code == 200
    requests.get(url, timeout=10)
    assert answers.misses == misses + 1  # read again after the pin

    requests.delete(f"{live.url}/api/v1/baselines/golden", headers=live.auth, timeout=10)
    gone = requests.delete(url, headers=live.auth, timeout=10)
    assert gone.status_code == 200
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 404
    assert "ETag" not in missing.headers


def test_profiles_are_read_again_when_a_file_changes(tmp_path: Path) -> None:
    from fioloadgen_server.jobsdb import JobDB
    from fioloadgen_server.profiles_repo import ProfileRepository

    directory = tmp_path / "profiles"
    directory.mkdir()
    job = directory / "seq.fio"
    job.write_text("; sequential reads\n[job]\nrw=read\n")
    repo = ProfileRepository(directory, JobDB(tmp_path / "jobs.db"))
    assert repo.all()["seq"].text.endswith("rw=read\n")
    assert repo.all()["seq"].text.endswith("rw=read\n")

    # Same size, new content: the modification time says it changed.
    job.write_text("; sequential write\n[job]\nrw=writ\n")
    stamp = job.stat().st_mtime_ns + 1_000_000
    os.utime(job, ns=(stamp, stamp))
    assert repo.all()["seq"].text.endswith("rw=writ\n")

    (directory / "rand.fio").write_text("[job]\nrw=randread\n")
    assert sorted(repo.all()) == ["rand", "seq"]
    (directory / "rand.fio").unlink()
    assert sorted(repo.all()) == ["seq"]

    # A link's target can change without anything in the directory changing: never kept.
    (directory / "texts").mkdir()
    real = directory / "texts" / "real.txt"
    real.write_text("[job]\nrw=read\n")
    (directory / "linked.fio").symlink_to(real)
    assert repo.all()["linked"].text == "[job]\nrw=read\n"
    real.write_text("[job]\nrw=randwrite\n")
    assert repo.all()["linked"].text == "[job]\nrw=randwrite\n"
