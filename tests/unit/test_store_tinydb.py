"""TinyDB-specific behaviour: the file itself, foreign files, several writer processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from test_store_contract import make_run

from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.store.tinydb_store import TinyDBStore


def test_file_is_readable_json_with_compressed_raw(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    store = TinyDBStore(path)
    store.record(make_run("a"))
    document = json.loads(path.read_text())
    assert set(document) == {"meta", "runs", "raw"}
    (run,) = document["runs"].values()
    assert run["run_id"] == "a"
    assert run["metrics"]["iops"] == 12345.678
    (raw,) = document["raw"].values()
    assert isinstance(raw["fio_json_z"], str)
    assert "fio version" not in path.read_text()  # only inside the compressed blob


@pytest.mark.parametrize(
    "content", ['{"_default": {"1": {"x": 1}}}', "[1, 2]", "not json at all", '{"meta": {}}']
)
def test_foreign_or_damaged_file_is_refused_and_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / "history.json"
    path.write_text(content)
    with pytest.raises(StoreError, match=r"history store .*history\.json"):
        TinyDBStore(path).record(make_run())
    assert path.read_text() == content


def test_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(
        json.dumps({"meta": {"1": {"format": "pytest-fioloadgen-history", "version": 9}}})
    )
    with pytest.raises(StoreError, match="format version 9, this pytest-fioloadgen knows up to 4"):
        TinyDBStore(path)


def _writer(path: str, worker: int, count: int) -> None:
    store = TinyDBStore(path)
    for number in range(count):
        store.record(make_run(f"w{worker}-{number}"))


def test_several_writer_processes(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    TinyDBStore(path)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_writer, args=(str(path), w, 15)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert len(TinyDBStore(path).query()) == 60


def test_version_3_gives_older_runs_their_spectrum(tmp_path: Path) -> None:
    from dataclasses import replace

    from pytest_fioloadgen.fio.results import parse_result
    from pytest_fioloadgen.fio.spectrum import run_spectrum

    golden = Path(__file__).parents[1] / "data" / "golden" / "randrw-w4.json"
    raw = json.loads(golden.read_text())
    path = tmp_path / "h.json"
    store = TinyDBStore(path)
    store.record(replace(make_run("old"), raw=raw))
    store.close()
    document = json.loads(path.read_text())
    for run in document["runs"].values():
        run.pop("spectrum", None)
    document["meta"]["1"]["version"] = 2
    path.write_text(json.dumps(document))
    store = TinyDBStore(path)
    old = store.get("old")
    store.close()
    assert old.spectrum == run_spectrum(parse_result(raw))
    assert set(old.spectrum) == {"read", "write"}
    assert json.loads(path.read_text())["meta"]["1"]["version"] == 4


def test_version_4_gives_spectra_stored_before_p97_and_p98_the_new_rungs(tmp_path: Path) -> None:
    from dataclasses import replace

    from pytest_fioloadgen.fio.results import parse_result
    from pytest_fioloadgen.fio.spectrum import run_spectrum

    golden = Path(__file__).parents[1] / "data" / "golden" / "randrw-w4.json"
    path = tmp_path / "h.json"
    raw = json.loads(golden.read_text())
    complete = run_spectrum(parse_result(raw))
    store = TinyDBStore(path)
    store.record(replace(make_run("old"), raw=raw, spectrum=complete))
    store.close()
    document = json.loads(path.read_text())
    for run in document["runs"].values():
        for ladder in run["spectrum"].values():
            del ladder["p97"], ladder["p98"]
    document["meta"]["1"]["version"] = 3
    path.write_text(json.dumps(document))
    store = TinyDBStore(path)
    assert store.get("old").spectrum == complete
    store.close()
    assert json.loads(path.read_text())["meta"]["1"]["version"] == 4
