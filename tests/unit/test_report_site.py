"""The static history site and `fioloadgen report`, from a store of golden runs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.report.site import build_site
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.store.base import RunRecord

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


def test_site_has_an_index_a_page_per_key_and_per_run(store_uri, tmp_path):
    out = tmp_path / "site"
    store = open_store(store_uri)
    summary = build_site(store, out, change_points={"a" * 16: ["a2"]})
    store.close()
    assert (summary.keys, summary.runs) == (2, 6)
    index = (out / "index.html").read_text()
    assert index.count('href="keys/') == 2
    assert "fast&lt;ssd&gt;" in index and "<ssd>" not in index
    key_page = (out / "keys" / ("a" * 16 + ".html")).read_text()
    data = json.loads(re.search(r'id="trend-data">(.*?)</script>', key_page).group(1))
    assert data["change"] == [False, False, True, False]
    assert data["charts"][0]["series"]["iops"] == [1000.0, 1001.0, 1002.0, 1003.0]
    assert "(change point)" in key_page
    run_page = (out / "runs" / "a0.html").read_text()
    assert "fioloadgen-chart" in run_page and "fio-workers" in run_page
    assert "&lt;script&gt;alert(1)" in run_page and "<script>alert" not in run_page
    failed = (out / "runs" / "b1.html").read_text()
    assert "worker &lt;w0&gt; did not report" in failed
    assert (out / "assets" / "chart.umd.min.js").stat().st_size > 100_000
    assert (out / "assets" / "chartjs-LICENSE.md").exists()


def test_pages_load_nothing_from_the_network(store_uri, tmp_path):
    out = tmp_path / "site"
    store = open_store(store_uri)
    build_site(store, out)
    store.close()
    for page in out.rglob("*.html"):
        text = page.read_text()
        for ref in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not re.match(r"^[a-z]+://", ref), (page, ref)
            if not ref.startswith("#"):
                assert (page.parent / ref).resolve().exists(), (page, ref)


def test_thresholds_are_drawn_on_the_trend(store_uri, tmp_path):
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("[defaults]\niops = 900\nread_lat_p99_ms = 5\n")
    out = tmp_path / "site"
    assert (
        main(["report", "--store", store_uri, "--out", str(out), "--thresholds", str(thresholds)])
        == 0
    )
    key_page = (out / "keys" / ("a" * 16 + ".html")).read_text()
    data = json.loads(re.search(r'id="trend-data">(.*?)</script>', key_page).group(1))
    iops_chart, latency_chart = data["charts"]
    assert iops_chart["thresholds"]["iops"][0]["value"] == 900
    assert latency_chart["thresholds"]["read_lat_p99_ms"][0]["bound"] == "max"


def test_cli_prints_where_the_site_is(store_uri, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["report", "--store", store_uri, "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 history keys and 6 runs" in said and (out / "index.html").as_uri() in said


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
    """Without given change points the site marks the run where IOPS shifted level."""
    rng = random.Random(3)
    store = open_store(str(tmp_path / "shift.db"))
    for number in range(24):
        level = 1000 if number < 12 else 700
        store.record(run(f"s{number:02d}", "c" * 16, 1000.0 + number, iops=rng.gauss(level, 10)))
    out = tmp_path / "site"
    build_site(store, out)
    store.close()
    page = (out / "keys" / f"{'c' * 16}.html").read_text()
    assert page.count("(change point)") == 1
    assert re.search(r'runs/s12\.html">[^<]*</a> \(change point\)', page)
