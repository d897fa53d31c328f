"""fioloadgen db import --from fioloadgen-db|fio-json, on real data: FIOLoadGen databases
made with its own schema statements holding fio output written by real fio runs
(tests/data/make_import_data.py), and plain fio output of both shapes, with and without
histogram bins."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_fioloadgen.apiclient import ApiClient
from pytest_fioloadgen.cli import main
from pytest_fioloadgen.identity import history_key
from pytest_fioloadgen.store import RunRecord, open_store

DATA = Path(__file__).parent.parent / "data" / "imports"
RANDREAD = (DATA / "randread.fio").read_text()

#: FIOLoadGen 1.x's schema statements (fiotools/server/db.py setup_db), verbatim.
PROFILES_TABLE = """ CREATE TABLE IF NOT EXISTS profiles (
                            name text PRIMARY KEY,
                            spec text,
                            created integer,
                            updated integer
                            ); """
JOBS_TABLE = """ CREATE TABLE IF NOT EXISTS jobs (
                        id text PRIMARY KEY,
                        title text NOT NULL,
                        profile text NOT NULL,
                        profile_spec text,
                        storageclass text,
                        workers integer NOT NULL,
                        status text NOT NULL,
                        started integer,
                        ended integer,
                        raw_json text,
                        summary text,
                        type text,
                        raw_output text,
                        provider text,
                        platform text,
                        FOREIGN KEY(profile) REFERENCES profiles (name)
                        ); """
#: Before its migrations: no profile_spec, no storageclass (they were appended later).
OLD_JOBS_TABLE = JOBS_TABLE.replace("profile_spec text,", "").replace("storageclass text,", "")
#: A profile the safety policy refuses (fio would run a command on the worker).
UNSAFE = "[global]\nexec_prerun=rm -rf /\n\n[workload]\nrw=read\n"


def raw(name: str) -> str:
    return (DATA / name).read_text()


def client_entries(name: str) -> list[dict[str, Any]]:
    document = json.loads(raw(name))
    return [e for e in document["client_stats"] if e["jobname"] != "All clients"]


def fioloadgen_db(path: Path, *, old_schema: bool = False) -> Path:
    """A FIOLoadGen database: a completed one-worker job and two-worker job, a failed
    job, a queued one, a complete job whose raw JSON is cut short, and a profile the
    policy refuses. Rows are inserted by column name, as FIOLoadGen's INSERTs fill them."""
    with sqlite3.connect(path) as conn:
        conn.execute(PROFILES_TABLE)
        conn.execute(OLD_JOBS_TABLE if old_schema else JOBS_TABLE)
        for name, spec in (("randread", RANDREAD), ("dangerous", UNSAFE)):
            conn.execute("INSERT INTO profiles VALUES (?,?,?,?)", (name, spec, 1, 1))
        w2 = raw("fioloadgen-randread-w2.json")
        jobs = [
            # fiocli's default --workers: 9999, "all of them".
            ("a-w1", "one", 9999, "complete", raw("fioloadgen-randread-w1.json")),
            ("b-w2", "two", 2, "complete", w2),
            ("c-failed", "broken", 2, "failed", ""),
            ("d-queued", "later", 2, "queued", None),
            ("e-cut", "cut", 2, "complete", w2[: len(w2) // 2]),
        ]
        for number, (job_id, title, workers, status, output) in enumerate(jobs):
            row: dict[str, Any] = {
                "id": job_id,
                "title": title,
                "profile": "randread",
                "workers": workers,
                "status": status,
                "started": 1_700_000_000 + number * 100,
                "ended": 1_700_000_030 + number * 100,
                "raw_json": output,
                "summary": "{}",
                "type": "adhoc",
                "provider": "aws",
                "platform": "openshift",
            }
            if not old_schema:
                row |= {"profile_spec": RANDREAD, "storageclass": "gp3"}
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO jobs ({columns}) VALUES ({marks})", tuple(row.values()))
    conn.close()
    return path


def runs(uri: str) -> dict[str, RunRecord]:
    store = open_store(uri)
    try:
        found = {run.labels.get("job_title", ""): run for run in store.query(with_raw=True)}
    finally:
        store.close()
    return found


def weighted_mean_ms(entries: list[dict[str, Any]], direction: str) -> float:
    blocks = [entry[direction]["clat_ns"] for entry in entries]
    total = sum(block["N"] for block in blocks)
    return sum(block["mean"] * block["N"] for block in blocks) / total / 1e6


def test_a_fioloadgen_database_imports_with_one_summary_and_again_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = fioloadgen_db(tmp_path / "fioservice.db")
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    argv = ["db", "import", "--from", "fioloadgen-db", str(source), "--store", uri]

    status = main([*argv, "--profiles-into", str(tmp_path / "profiles")])
    out = capsys.readouterr().out.splitlines()
    assert status == 1  # a refused row: the exit says so
    assert out[-1] == "imported 2 run(s), 0 already present, skipped 2 unfinished, refused 1"
    assert "skipped: fioservice.db jobs row 3 (job c-failed): status failed" in "\n".join(out)
    assert any(
        line.startswith("skipped: fioservice.db jobs row 4 (job d-queued): status queued")
        for line in out
    )
    [refused] = [line for line in out if line.startswith("refused: ")]
    assert refused.startswith("refused: fioservice.db jobs row 5 (job e-cut): raw_json is not")
    assert "truncated" in refused
    # The profiles: the safe one written, the unsafe one refused with the policy's reason.
    assert (tmp_path / "profiles" / "randread").read_text() == RANDREAD
    assert not (tmp_path / "profiles" / "dangerous").exists()
    assert any(line.startswith("profile refused: ") and "exec_prerun" in line for line in out)

    first = runs(uri)
    assert sorted(first) == ["one", "two"]
    assert main(argv) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "imported 0 run(s), 2 already present, skipped 2 unfinished, refused 1"
    )
    again = runs(uri)
    assert {t: r.run_id for t, r in again.items()} == {t: r.run_id for t, r in first.items()}


def test_imported_fioloadgen_jobs_are_merged_exactly_and_marked(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    main(
        [
            "db",
            "import",
            "--from",
            "fioloadgen-db",
            str(fioloadgen_db(tmp_path / "f.db")),
            "--store",
            uri,
        ]
    )
    found = runs(uri)
    one, two = found["one"], found["two"]
    for run in (one, two):
        assert run.labels["imported-from"] == "fioloadgen"
        assert run.labels["provider"] == "aws" and run.labels["platform"] == "openshift"
        assert run.verdict == "none" and run.test_id == "job" and run.status == "complete"
        assert run.target == "gp3" and run.backend == "kubernetes"
        assert run.profile_text == RANDREAD
        assert run.fingerprint["imported_from"] == "fioloadgen"
    assert (one.started_at, one.finished_at) == (1_700_000_000, 1_700_000_030)
    assert one.workers == 1 and not any("the source says" in note for note in one.notes)
    # Two workers: rates add up, the mean is weighted by I/O counts, no percentile at all
    # (json without bins: several jobs' percentiles cannot be merged), and a note says so.
    entries = client_entries("fioloadgen-randread-w2.json")
    assert two.workers == 2
    assert two.metrics["read_iops"] == pytest.approx(sum(e["read"]["iops"] for e in entries))
    assert two.metrics["iops_per_worker"] == pytest.approx(two.metrics["iops"] / 2)
    assert two.metrics["read_lat_mean_ms"] == pytest.approx(weighted_mean_ms(entries, "read"))
    assert two.metrics["read_lat_max_ms"] == pytest.approx(
        max(e["read"]["clat_ns"]["max"] for e in entries) / 1e6
    )
    assert not [name for name in two.metrics if "_lat_p" in name]
    assert any("no read latency percentiles" in note for note in two.notes)
    # One worker, one job: fio's own percentiles are exact and kept.
    [entry] = client_entries("fioloadgen-randread-w1.json")
    assert one.metrics["read_lat_p99_ms"] == pytest.approx(
        entry["read"]["clat_ns"]["percentile"]["99.000000"] / 1e6
    )
    # Imported runs have their own history: not the key a job run here with the same
    # profile, workers, target and fio version would get.
    assert one.history_key != two.history_key
    made_here = {k: v for k, v in one.fingerprint.items() if k != "imported_from"}
    assert one.history_key != history_key(
        test="job",
        profile_hash=one.profile_hash,
        workers=one.workers,
        backend=one.backend,
        target=one.target,
        fingerprint=made_here,
    )


def test_a_database_from_before_the_migrations_reads_columns_by_name(tmp_path: Path) -> None:
    source = fioloadgen_db(tmp_path / "old.db", old_schema=True)
    with sqlite3.connect(source) as conn:  # migrated: the columns appended at the end
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
    conn.close()
    assert "profile_spec" not in columns
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    main(
        [
            "db",
            "import",
            "--from",
            "fioloadgen-db",
            str(source),
            "--target",
            "ceph-rbd",
            "--store",
            uri,
        ]
    )
    two = runs(uri)["two"]
    assert two.target == "ceph-rbd"
    assert two.profile_text == RANDREAD  # from the profiles table, and said so
    assert any("no profile_spec" in note for note in two.notes)


def test_same_as_files_imported_runs_under_an_existing_history_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    fio_json(uri, DATA / "standalone-jsonplus.json")
    [anchor] = open_store(uri).query()
    source = str(fioloadgen_db(tmp_path / "f.db"))
    capsys.readouterr()
    main(
        [
            "db",
            "import",
            "--from",
            "fioloadgen-db",
            source,
            "--same-as",
            anchor.run_id,
            "--store",
            uri,
        ]
    )
    out = capsys.readouterr().out
    one = runs(uri)["one"]
    assert one.history_key == anchor.history_key
    assert any(anchor.run_id in note and "--same-as" in note for note in one.notes)
    # A run of another worker count is never the same measurement: refused, not filed.
    assert "refused: f.db jobs row 2 (job b-w2): --same-as" in out
    assert "that run had 1 worker(s), this one 2" in out
    assert "two" not in runs(uri)


def test_same_as_a_profile_and_target_takes_the_key_of_runs_made_here(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    made_here = RunRecord(
        run_id="made-here",
        session_id="s",
        profile_name="randread",
        profile_hash="h",
        profile_text=RANDREAD,
        workers=2,
        backend="kubernetes",
        target="gp3",
        started_at=1_600_000_000,
        finished_at=1_600_000_030,
        test_id="job",
        history_key="00112233aabbccdd",
    )
    open_store(uri).record(made_here)
    main(
        [
            "db",
            "import",
            "--from",
            "fioloadgen-db",
            str(fioloadgen_db(tmp_path / "f.db")),
            "--same-as",
            "randread@gp3",
            "--store",
            uri,
        ]
    )
    found = runs(uri)
    assert found["two"].history_key == "00112233aabbccdd"
    assert "one" not in found  # no one-worker run of randread on gp3 was made here


def fio_json(uri: str, *paths: Path | str, extra: tuple[str, ...] = ()) -> int:
    return main(
        [
            "db",
            "import",
            "--from",
            "fio-json",
            *map(str, paths),
            "--profile",
            "randread",
            "--target",
            "nvme",
            *extra,
            "--store",
            uri,
        ]
    )


def test_plain_fio_output_of_both_shapes_with_and_without_bins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"tinydb:///{tmp_path / 'history.json'}"
    names = ["client-jsonplus-w2.json", "standalone-json.json", "standalone-jsonplus.json"]
    assert fio_json(uri, *(DATA / name for name in names)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("imported 3 run(s)")
    store = open_store(uri)
    by_file = {run.fingerprint["source"]["files"][0]: run for run in store.query()}
    store.close()
    client, binless, binned = (by_file[name] for name in names)
    assert client.workers == 2 and binless.workers == 1 and binned.workers == 1
    # json+ of two workers: percentiles from the summed bins, and a spectrum.
    assert "read_lat_p99_ms" in client.metrics and client.spectrum["read"]
    # Standalone json: one job, fio's own percentiles; no bins, no spectrum.
    [job] = json.loads(raw("standalone-json.json"))["jobs"]
    assert binless.metrics["read_lat_p50_ms"] == pytest.approx(
        job["read"]["clat_ns"]["percentile"]["50.000000"] / 1e6
    )
    assert binless.spectrum == {}
    assert binned.spectrum["read"]
    for run in (client, binless, binned):
        assert run.labels["imported-from"] == "fio-json" and run.verdict == "none"
        assert "[workload]" in run.profile_text and "rw=randread" in run.profile_text


def test_one_file_per_worker_imports_as_one_run_with_its_bins_merged(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    files = [DATA / "standalone-jsonplus.json", DATA / "standalone-jsonplus-b.json"]
    assert fio_json(uri, *files, extra=("--workers", "2")) == 0
    [run] = open_store(uri).query(with_raw=True)
    jobs = [json.loads(path.read_text())["jobs"][0] for path in files]
    assert run.workers == 2
    assert run.metrics["iops"] == pytest.approx(sum(j["read"]["iops"] for j in jobs))
    assert run.metrics["iops_per_worker"] == pytest.approx(run.metrics["iops"] / 2)
    # The merged p99 is the summed histogram's: between the two workers' own p99s.
    own = sorted(j["read"]["clat_ns"]["percentile"]["99.000000"] / 1e6 for j in jobs)
    assert own[0] <= run.metrics["read_lat_p99_ms"] <= own[1]


def test_a_bad_file_is_one_line_naming_it_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "outputs"
    directory.mkdir()
    (directory / "a.json").write_text(raw("standalone-json.json"))
    text = raw("standalone-jsonplus.json")
    (directory / "b.json").write_text(text[: len(text) // 3])
    (directory / "c.json").write_text(raw("standalone-jsonplus-b.json"))
    # fio's keys, not its types: refused too, the import goes on.
    shaped = json.loads(raw("standalone-json.json"))
    shaped["timestamp"] = "noon"
    (directory / "d.json").write_text(json.dumps({**shaped, "jobs": [{"read": "fast"}]}))
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    assert fio_json(uri, directory) == 1
    out = capsys.readouterr().out.splitlines()
    cut, shaped_wrong = [line for line in out if line.startswith("refused:")]
    assert cut.startswith(f"refused: {directory / 'b.json'} (file 2 of 4): ")
    assert shaped_wrong.startswith(f"refused: {directory / 'd.json'} (file 4 of 4): ")
    assert out[-1] == "imported 2 run(s), 0 already present, skipped 0 unfinished, refused 2"
    assert len(open_store(uri).query()) == 2
    # Fixed and imported again: only the missing run is added, the others keep their ids.
    (directory / "b.json").write_text(text)
    (directory / "d.json").unlink()
    assert fio_json(uri, directory) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("imported 1 run(s), 2 already")


def test_import_into_a_results_server(
    tmp_path: Path, http_store_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fio_json(http_store_uri, DATA / "standalone-json.json") == 0
    assert fio_json(http_store_uri, DATA / "standalone-json.json") == 0
    [run] = open_store(http_store_uri).query()
    # Listed by the server as the UI lists it, marked imported on its page.
    api = ApiClient.from_environment(http_store_uri)
    [listed] = api.get("/jobs")["data"]
    assert listed["id"] == run.run_id and listed["source"] == "imported"
    job = api.get(f"/jobs/{run.run_id}")["data"]
    assert job["labels"]["imported-from"] == "fio-json" and job["verdict"] == "none"
    capsys.readouterr()
    assert main(["job", "ls", "--url", http_store_uri]) == 0
    assert "(imported from fio-json)" in capsys.readouterr().out
    assert main(["job", "show", run.run_id, "--url", http_store_uri]) == 0
    assert "imported : yes, from fio-json" in capsys.readouterr().out


def test_imported_runs_compare_like_any_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    fio_json(uri, DATA / "standalone-jsonplus.json", DATA / "standalone-jsonplus-b.json")
    a, b = sorted(run.run_id for run in open_store(uri).query())
    capsys.readouterr()
    assert main(["compare", f"run:{a}", f"run:{b}", "--store", uri]) in (0, 1)
    out = capsys.readouterr().out
    assert "iops" in out
    # Each side says its runs were imported, and from where.
    assert "(1 runs, 1 imported (fio-json))" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "fio-json", "x.json"], "needs --profile NAME and --target T"),
        (["--from", "fioloadgen-db", "missing.db"], "FIOLoadGen database missing.db: no such"),
        (["--from", "fio-json", "--profile", "p", "--target", "t", "nowhere"], "nowhere: no such"),
    ],
)
def test_mistakes_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["db", "import", *argv, "--store", str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_file_that_is_no_fioloadgen_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert (
        main(
            [
                "db",
                "import",
                "--from",
                "fioloadgen-db",
                str(path),
                "--store",
                str(tmp_path / "h.db"),
            ]
        )
        == 2
    )
    assert "has no jobs table" in capsys.readouterr().err


def test_a_terminal_sees_a_progress_bar(tmp_path: Path) -> None:
    """On a terminal's stderr the bar is drawn and wiped; a pipe gets the summary only."""
    directory = tmp_path / "outputs"
    directory.mkdir()
    for number in range(3):
        document = json.loads(raw("standalone-json.json"))
        document["timestamp"] += number
        (directory / f"{number}.json").write_text(json.dumps(document))
    controller, terminal = pty.openpty()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_fioloadgen.cli",
            "db",
            "import",
            "--from",
            "fio-json",
            str(directory),
            "--profile",
            "p",
            "--target",
            "t",
            "--store",
            str(tmp_path / "h.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
        timeout=120,
        check=False,
    )
    os.close(terminal)
    drawn = os.read(controller, 65536).decode()
    os.close(controller)
    assert done.returncode == 0
    assert "importing [##########....................] 1/3 files" in drawn
    assert "importing [##############################] 3/3 files" in drawn
    assert drawn.endswith("\r\x1b[K")
    assert done.stdout.splitlines()[-1].startswith("imported 3 run(s)")


def test_a_run_of_several_files_with_a_malformed_one_is_refused_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "w1.json"
    good.write_text(raw("standalone-jsonplus.json"))
    odd = json.loads(raw("standalone-jsonplus-b.json"))
    odd["timestamp"] = "noon"  # fio's key, not its type
    bad = tmp_path / "w2.json"
    bad.write_text(json.dumps(odd))
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    assert fio_json(uri, good, bad, extra=("--workers", "2")) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(
        f"refused: run of {good} (file 1 of 2), {bad} (file 2 of 2): not fio output of a"
        " known shape (ValueError("
    )
    assert open_store(uri).query() == []
