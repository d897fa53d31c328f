"""fioloadgen db export --format fio-json and job show --store: a stored run as fio's
standalone json+ documents, read by fio's own fio_jsonplus_clat2csv, and imported back
as the same run; one run shown from a store without a server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.store import open_store

DATA = Path(__file__).parent.parent / "data" / "imports"
GOLDEN = Path(__file__).parent.parent / "data" / "golden"
CLAT2CSV = "/usr/bin/fio_jsonplus_clat2csv"


def stored_run(uri: str, source: Path) -> str:
    assert (
        main(
            [
                "db",
                "import",
                "--from",
                "fio-json",
                str(source),
                "--profile",
                "mix",
                "--target",
                "nvme",
                "--store",
                uri,
            ]
        )
        == 0
    )
    return str(open_store(uri).query(limit=1)[0].run_id)


def export(uri: str, run_id: str, out: Path) -> tuple[list[Path], Path]:
    assert (
        main(
            [
                "db",
                "export",
                "--id",
                run_id,
                "--store",
                uri,
                "--format",
                "fio-json",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return sorted(out.glob("*.json")), out / "merged" / f"{run_id}.json"


@pytest.mark.skipif(not Path(CLAT2CSV).exists(), reason="Debian's fio ships fio_jsonplus_clat2csv")
def test_fio_jsonplus_clat2csv_validates_every_exported_document(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    # Four workers of a read/write mix, as a run made here stores it (client/server json+).
    run_id = stored_run(uri, GOLDEN / "randrw-w4.json")
    workers, merged = export(uri, run_id, tmp_path / "out")
    assert len(workers) == 4
    for document in [*workers, merged]:
        csv = tmp_path / f"{document.stem}.csv"
        for extra in ([], ["--validate"]):
            done = subprocess.run(
                [CLAT2CSV, str(document), str(csv), *extra],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        assert "validated" in done.stdout
        # What readers group runs by (fio-plot needs all four), fio's defaults included.
        for job in json.loads(document.read_text())["jobs"]:
            options = {
                **json.loads(document.read_text()).get("global options", {}),
                **job["job options"],
            }
            assert {"rw", "bs", "iodepth", "numjobs"} <= set(options)
    # The merged document's figures are the run's: its bins are every worker's.
    stored = open_store(uri).get(run_id)
    mine = parse_result(json.loads(merged.read_text()))
    assert mine.metrics["iops"] == pytest.approx(stored.metrics["iops"])
    assert mine.metrics["read_lat_p99_ms"] == pytest.approx(stored.metrics["read_lat_p99_ms"])
    assert mine.metrics["write_lat_mean_ms"] == pytest.approx(stored.metrics["write_lat_mean_ms"])


def test_exported_worker_documents_import_back_as_the_same_run(tmp_path: Path) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    run_id = stored_run(first, GOLDEN / "randrw-w4.json")
    out = tmp_path / "out"
    export(first, run_id, out)
    second = f"tinydb:///{tmp_path / 'second.json'}"
    assert (
        main(
            [
                "db",
                "import",
                "--from",
                "fio-json",
                str(out),
                "--workers",
                "4",
                "--profile",
                "mix",
                "--target",
                "nvme",
                "--store",
                second,
            ]
        )
        == 0
    )
    [back] = open_store(second).query()
    original = open_store(first).get(run_id)
    assert back.workers == original.workers == 4
    assert set(back.metrics) == set(original.metrics)
    assert "iops_per_worker" in back.metrics
    for name, value in original.metrics.items():
        assert back.metrics[name] == pytest.approx(value, rel=1e-9), name
    assert back.spectrum == original.spectrum


def test_job_show_reads_a_store_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    run_id = stored_run(uri, DATA / "standalone-json.json")
    capsys.readouterr()
    assert main(["job", "show", run_id, "--store", uri]) == 0
    shown = capsys.readouterr().out
    assert f"id       : {run_id}" in shown
    assert "imported : yes, from fio-json" in shown and "verdict  : none" in shown
    assert main(["job", "show", run_id, "--raw", "--store", uri]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(
        (DATA / "standalone-json.json").read_text()
    )


def test_export_of_an_unknown_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'history.db'}"
    stored_run(uri, DATA / "standalone-json.json")
    assert (
        main(
            [
                "db",
                "export",
                "--id",
                "nope",
                "--store",
                uri,
                "--format",
                "fio-json",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run 'nope'" in err[0]
