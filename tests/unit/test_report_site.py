"""The static history site and `fioloadgen report`, from a store of golden runs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.report.site import build_site, file_name, run_data_path
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.verdicts.thresholds import Thresholds

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def run(run_id, key, started, *, golden="randread-w2.json", status="complete", iops=1000.0):
    raw = json.loads((GOLDEN / golden).read_text()) if status == "complete" else None
    return RunRecord(
        run_id=run_id,
        session_id="s1",
        profile_name="randread-4k",
        profile_hash="h",
        profile_text="[rr]\nrw=randread\n# <script>alert(1)</script>\n",
        workers=2,
        backend="local",
        target="fast<ssd>",
        started_at=started,
        finished_at=started + 1,
        status=status,
        metrics={"iops": iops, "read_lat_p99_ms": 0.2} if status == "complete" else {},
        labels={"git_commit": "abc123"},
        fingerprint={"host": "vm", "fio_version": "fio-3.33"},
        raw=raw,
        verdict="pass" if status == "complete" else "error",
        error="" if status == "complete" else "worker <w0> did not report",
        history_key=key,
    )


@pytest.fixture
def store_uri(tmp_path):
    uri = str(tmp_path / "history.db")
    store = open_store(uri)
    for index in range(4):
        store.record(run(f"a{index}", "a" * 16, 100.0 + index, iops=1000.0 + index))
    store.record(run("b0", "b" * 16, 50.0, golden="randrw-w4.json"))
    store.record(run("b1", "b" * 16, 60.0, status="failed"))
    store.close()
    return uri


def run_data(out: Path, run_id: str) -> dict:
    """The document a run's data file passes to fioloadgenRun."""
    text = (out / run_data_path(run_id)).read_text()
    assert text.startswith("fioloadgenRun(") and text.endswith(");\n")
    return json.loads(text[len("fioloadgenRun(") : -3])


def key_data(out: Path, key: str) -> dict:
    """The key document a key page embeds (report/key_history.py)."""
    page = (out / "keys" / f"{key}.html").read_text()
    block = re.search(r'id="key-data">(.*?)</script>', page).group(1)
    assert "</" not in block  # user text cannot end the script element
    return json.loads(block)


def overview_of(out: Path) -> dict:
    """The overview document the site's index embeds."""
    index = (out / "index.html").read_text()
    block = re.search(r'id="overview-data">(.*?)</script>', index).group(1)
    assert "</" not in block  # user text cannot end the script element
    return json.loads(block)


def test_site_has_an_index_a_page_per_key_and_data_per_run(store_uri, tmp_path):
    out = tmp_path / "site"
    store = open_store(store_uri)
    summary = build_site(store, out)
    store.close()
    assert (summary.keys, summary.runs, summary.runs_written, summary.full) == (2, 6, 6, True)
    index = (out / "index.html").read_text()
    # The overview (report/overview.py), drawn by assets/overview.js from its JSON block.
    overview = overview_of(out)
    rows = {row["history_key"]: row for row in overview["rows"]}
    assert {key: row["page"] for key, row in rows.items()} == {
        "a" * 16: f"keys/{'a' * 16}.html",
        "b" * 16: f"keys/{'b' * 16}.html",
    }
    assert (rows["a" * 16]["backend"], rows["a" * 16]["target"]) == ("local", "fast<ssd>")
    assert rows["a" * 16]["spark"] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert rows["a" * 16]["last"] == 1003.0 and rows["b" * 16]["runs"] == 2
    assert "overview.js" in index
    # A key page: every metric of the key's runs for assets/keypage.js, titled by its
    # test, profile, workers and target (no test here: recorded without one).
    key_page = key_data(out, "a" * 16)
    assert key_page["title"] == "randread-4k · w2 · fast<ssd>"
    assert key_page["metrics"] == ["iops", "read_lat_p99_ms"]
    assert key_page["series"]["iops"]["values"] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert [run["run_id"] for run in key_page["runs"]] == ["a0", "a1", "a2", "a3"]
    assert (
        "<title>randread-4k · w2 · fast&lt;ssd&gt;</title>"
        in (out / "keys" / ("a" * 16 + ".html")).read_text()
    )
    # One page shows every run, from the run's data file.
    assert "run.js" in (out / "run.html").read_text()
    assert sorted(p.name for p in (out / "runs").rglob("*.js")) == [
        "a0.js",
        "a1.js",
        "a2.js",
        "a3.js",
        "b0.js",
        "b1.js",
    ]
    document = run_data(out, "a0")
    assert document["run"]["profile_text"].endswith("# <script>alert(1)</script>\n")
    assert document["run"]["fingerprint"] == {"host": "vm", "fio_version": "fio-3.33"}
    assert document["key"] == {
        "history_key": "a" * 16,
        "title": "randread-4k · w2 · fast<ssd>",
        "page": f"keys/{'a' * 16}.html",
    }
    assert "raw" not in document["run"]
    derived = document["derived"]
    assert len(derived["per_worker"]) == 2 and derived["per_worker"][0]["iops"] > 0
    assert derived["latency"]["read"]["histogram"] and derived["latency"]["read"]["samples"] > 0
    failed = run_data(out, "b1")
    assert failed["run"]["error"] == "worker <w0> did not report"
    assert failed["derived"]["per_worker"] == []
    assert (out / "assets" / "chart.umd.min.js").stat().st_size > 100_000
    assert (out / "assets" / "chartjs-LICENSE.md").exists()
    assert (out / "assets" / "run.js").exists()


def test_pages_load_nothing_from_the_network(store_uri, tmp_path):
    out = tmp_path / "site"
    store = open_store(store_uri)
    build_site(store, out)
    store.close()
    for page in out.rglob("*.html"):
        text = page.read_text()
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not re.match(r"^[a-z]+://", ref), (page, ref)
            target = ref.split("#", 1)[0]
            if target:
                assert (page.parent / target).resolve().exists(), (page, ref)


def test_thresholds_are_drawn_on_the_trend(store_uri, tmp_path):
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("[defaults]\niops = 900\nread_lat_p99_ms = 5\n")
    out = tmp_path / "site"
    assert (
        main(["report", "--store", store_uri, "--out", str(out), "--thresholds", str(thresholds)])
        == 0
    )
    series = key_data(out, "a" * 16)["series"]
    assert series["iops"]["thresholds"][0]["value"] == 900
    assert series["read_lat_p99_ms"]["thresholds"][0]["bound"] == "max"


def test_cli_prints_where_the_site_is(store_uri, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "built the site of 2 history keys and 6 runs" in said
    assert (out / "index.html").as_uri() in said and "(2 key pages and 6 runs written)" in said
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 0
    assert "updated the site of 2 history keys and 6 runs" in capsys.readouterr().out


def test_cli_errors_are_one_line_naming_the_input(tmp_path, capsys):
    missing = tmp_path / "nope.db"
    assert main(["report", "--store", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"fioloadgen: error: history store '{missing}' does not exist"
    )
    assert not missing.exists()
    bad_thresholds = tmp_path / "t.toml"
    bad_thresholds.write_text("[defaults]\niopz = 1\n")
    store = tmp_path / "h.db"
    open_store(str(store)).close()
    code = main(
        [
            "report",
            "--store",
            str(store),
            "--out",
            str(tmp_path / "o"),
            "--thresholds",
            str(bad_thresholds),
        ]
    )
    assert code == 2
    assert "key defaults.iopz: unknown name 'iopz'" in capsys.readouterr().err


def test_change_points_are_detected_from_the_history(tmp_path):
    """The site's key page marks the run where IOPS shifted level (the key's summary),
    with its baseline band."""
    rng = random.Random(3)
    store = open_store(str(tmp_path / "shift.db"))
    for number in range(24):
        level = 1000 if number < 12 else 700
        store.record(run(f"s{number:02d}", "c" * 16, 1000.0 + number, iops=rng.gauss(level, 10)))
    out = tmp_path / "site"
    build_site(store, out)
    store.close()
    iops = key_data(out, "c" * 16)["series"]["iops"]
    assert [change["run_id"] for change in iops["change_points"]] == ["s12"]
    assert iops["change_points"][0]["direction"] == "regression"
    assert 650 < iops["baseline_band"]["center"] < 750


def _mtimes(out: Path) -> dict[str, int]:
    return {
        str(path.relative_to(out)): path.stat().st_mtime_ns
        for path in out.rglob("*")
        if path.is_file() and path.name != ".fioloadgen-site.json"
    }


def test_an_update_writes_only_new_runs_and_their_keys(store_uri, tmp_path):
    out = tmp_path / "site"
    store = open_store(store_uri)
    build_site(store, out)
    before = _mtimes(out)
    store.record(run("a4", "a" * 16, 104.0, iops=1004.0))
    store.delete("b1")
    summary = build_site(store, out)
    after = _mtimes(out)
    changed = {name for name in after if after[name] != before.get(name)}
    fixed = {"index.html", "run.html", "compare.html"} | {
        n for n in after if n.startswith("assets/")
    }
    assert changed - fixed == {
        f"keys/{'a' * 16}.html",
        f"keys/{'b' * 16}.html",
        run_data_path("a4"),
    }
    assert not (out / run_data_path("b1")).exists()
    assert (summary.keys, summary.runs, summary.keys_written, summary.runs_written) == (2, 6, 2, 1)
    assert not summary.full
    assert overview_of(out)["runs"] == 6
    # Nothing new: nothing but the index and the fixed files is written.
    again = build_site(store, out)
    assert (again.keys_written, again.runs_written) == (0, 0)
    # New thresholds change what every key page draws, not the runs.
    limits = tmp_path / "t.toml"
    limits.write_text("[defaults]\niops = 900\n")
    redrawn = build_site(store, out, thresholds=Thresholds.load(limits))
    assert (redrawn.keys_written, redrawn.runs_written) == (2, 0)
    assert build_site(store, out, full=True).runs_written == 6
    store.close()
    # The site of another store is rebuilt, never mixed.
    other = open_store(str(tmp_path / "other.db"))
    other.record(run("z0", "c" * 16, 1.0))
    rebuilt = build_site(other, out)
    other.close()
    assert rebuilt.full and (rebuilt.keys, rebuilt.runs) == (1, 1)
    assert not (out / "keys" / f"{'a' * 16}.html").exists()
    assert not (out / run_data_path("a0")).exists()


def test_an_update_reads_only_the_new_runs_fio_documents(store_uri, tmp_path, monkeypatch):
    """A site update (and a key's trend) never decompresses a document it does not show."""
    from pytest_fioloadgen.store import sqlite as sqlite_store

    out = tmp_path / "site"
    store = open_store(store_uri)
    build_site(store, out)
    store.record(run("a4", "a" * 16, 104.0, iops=1004.0))
    opened = []
    real = sqlite_store.zlib.decompress
    monkeypatch.setattr(
        sqlite_store.zlib, "decompress", lambda data: opened.append(1) or real(data)
    )
    build_site(store, out)
    assert len(opened) == 1
    from pytest_fioloadgen.verdicts.summaries import key_trend

    key_trend(store, "a" * 16, "iops")
    assert len(opened) == 1
    store.close()


def test_odd_run_ids_get_distinct_files_inside_the_site():
    ids = ["a0", "A0", "a/../b", "..", ".", "", "ü", "a b", "~61", "x" * 40]
    names = [file_name(run_id) for run_id in ids]
    assert len(set(names)) == len(ids)
    for run_id in ids:
        path = run_data_path(run_id)
        assert path.startswith("runs/") and path.count("/") == 2 and ".." not in path
    assert run_data_path("ab12") == "runs/ab/ab12.js"
    assert run_data_path("..") == "runs/2e/~2e2e.js"
    assert run_data_path("") == "runs/__/~.js"


def test_run_data_written_by_worker_processes_is_the_same(store_uri, tmp_path):
    store = open_store(store_uri)
    build_site(store, tmp_path / "one", processes=1)
    build_site(store, tmp_path / "two", processes=2)
    store.close()
    for path in (tmp_path / "one" / "runs").rglob("*.js"):
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        assert twin.read_text() == path.read_text()
    assert len(list((tmp_path / "two" / "runs").rglob("*.js"))) == 6
