"""The sweep a run was a point of, stored with it (RunRecord.sweep), read back by every
store, and the response curve of its siblings a run page draws (response_curve's
sweep_document): runs stored before sweeps were kept load as runs outside a sweep."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from test_store_contract import make_run

from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.report.response_curve import run_sweep, sweep_document
from pytest_fioloadgen.report.run_document import run_document, run_flags
from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.store.tinydb_store import TinyDBStore
from pytest_fioloadgen.store.wire import run_from_json, run_to_json

AXES = {"iodepth": ["1", "8", "32"], "bs": ["4k", "64k"]}


def swept(run_id: str, iodepth: str, bs: str = "4k", **changes: object) -> RunRecord:
    """A run of the iodepth x bs sweep; IOPS and latency grow with the queue depth."""
    depth = int(iodepth)
    fields: dict[str, object] = {
        "session_id": "s1",
        "test_id": f"tests/test_q.py::test_q[rr-qd{iodepth}-bs{bs}-w1-local]",
        "sweep": {
            "axes": AXES,
            "point": {"iodepth": iodepth, "bs": bs},
            "fixed": {"rw": "randread"},
        },
        "metrics": {
            "iops": 1000.0 * depth**0.5,
            "read_iops": 1000.0 * depth**0.5,
            "read_lat_mean_ms": 0.1 * depth,
            "read_lat_p99_ms": 0.3 * depth,
        },
        "raw": None,
        "fingerprint": {"host": "vm"},
        "profile_text": "[rr]\nrw=randread\nbs=4k\n",
    }
    fields.update(changes)
    return make_run(run_id, **fields)


def test_a_case_of_a_sweep_records_its_axes_point_and_fixed_overrides() -> None:
    case = Case(
        parse_profile("[rr]\nrw=randread\n", name="rr"),
        workers=1,
        target="local",
        overrides=(("iodepth", "8"), ("bs", "4k"), ("rw", "randread")),
        swept=("iodepth", "bs"),
        sweep=(("iodepth", ("1", "8", "32")), ("bs", ("4k", "64k"))),
    )
    assert case.sweep_record() == {
        "axes": {"iodepth": ["1", "8", "32"], "bs": ["4k", "64k"]},
        "point": {"iodepth": "8", "bs": "4k"},
        "fixed": {"rw": "randread"},
    }
    assert dataclasses.replace(case, sweep=()).sweep_record() == {}


@pytest.mark.parametrize("kind", ["sqlite", "tinydb"])
def test_every_store_keeps_the_sweep(tmp_path: Path, kind: str) -> None:
    store = SQLiteStore(tmp_path / "h.db") if kind == "sqlite" else TinyDBStore(tmp_path / "h.json")
    try:
        store.record(swept("a", "8"))
        store.record(make_run("plain"))
        assert store.get("a").sweep == swept("a", "8").sweep
        assert store.get("plain").sweep == {}
        (listed,) = [r for r in store.query(session_id="s1") if r.run_id == "a"]
        assert listed.sweep["point"] == {"iodepth": "8", "bs": "4k"}
    finally:
        store.close()


def test_an_old_sqlite_file_without_the_column_loads_its_runs_outside_a_sweep(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    store = SQLiteStore(path)
    store.record(make_run("old"))
    store.close()
    # The file as a version before the sweep was kept wrote it.
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE runs DROP COLUMN sweep")
    store = SQLiteStore(path)
    try:
        old = store.get("old")
        assert old.sweep == {}
        assert run_sweep(old) is None
        store.record(swept("new", "1"))
        assert store.get("new").sweep["axes"] == AXES
    finally:
        store.close()


def test_an_old_tinydb_file_without_the_field_loads_its_runs_outside_a_sweep(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.json"
    store = TinyDBStore(path)
    store.record(make_run("old"))
    store.close()
    document = json.loads(path.read_text())
    for run in document["runs"].values():
        del run["sweep"]
    path.write_text(json.dumps(document))
    store = TinyDBStore(path)
    try:
        assert store.get("old").sweep == {}
    finally:
        store.close()


def test_the_wire_form_keeps_the_sweep_and_an_old_document_has_none() -> None:
    run = swept("a", "8")
    assert run_from_json(run_to_json(run)).sweep == run.sweep
    old = run_to_json(make_run("old"))
    del old["sweep"]
    assert run_from_json(old).sweep == {}


def test_the_curve_is_the_mean_of_the_siblings_of_the_same_session_and_sweep() -> None:
    run = swept("q8", "8")
    session = [
        run,
        swept("q1", "1"),
        swept("q1-r2", "1", metrics={"iops": 3000.0, "read_iops": 3000.0,
                                     "read_lat_mean_ms": 0.3, "read_lat_p99_ms": 0.5}),
        swept("q32", "32"),
        # Not siblings: another block size (the other axis), another test, other fixed
        # overrides, a failed run, a run outside a sweep.
        swept("b64", "1", bs="64k"),
        swept("other-test", "16", test_id="tests/test_q.py::test_other[rr-qd16]"),
        swept("other-fixed", "16", sweep={"axes": AXES, "point": {"iodepth": "16", "bs": "4k"},
                                          "fixed": {"rw": "randwrite"}}),
        swept("failed", "16", status="failed"),
        make_run("plain", session_id="s1"),
    ]  # fmt: skip
    document = sweep_document(run, session)
    assert document is not None
    assert document["axis"] == "iodepth"
    assert document["point"] == {"iodepth": "8", "bs": "4k"}
    curve = document["curve"]
    assert curve["unit"] == "IOPS" and curve["direction"] == "read"
    assert [p["value"] for p in curve["points"]] == ["1", "8", "32"]
    first, middle, last = curve["points"]
    assert first["run_ids"] == ["q1", "q1-r2"]
    assert first["throughput"] == pytest.approx((1000.0 + 3000.0) / 2)
    assert first["mean_ms"] == pytest.approx((0.1 + 0.3) / 2)
    assert first["p99_ms"] == pytest.approx((0.3 + 0.5) / 2)
    assert middle["current"] and not first["current"] and not last["current"]
    assert last["throughput"] == pytest.approx(1000.0 * 32**0.5)
    assert last["mean_ms"] == pytest.approx(3.2)


def test_a_sequential_profile_is_drawn_in_bandwidth() -> None:
    bw = {"bw_mib_s": 100.0, "read_iops": 100.0, "read_lat_mean_ms": 1.0, "read_lat_p99_ms": 2.0}
    runs = [
        swept(f"s{d}", d, profile_text="[seq]\nrw=read\nbs=1m\n", metrics={**bw, "bw_mib_s": 100.0 * int(d)})
        for d in ("1", "8")
    ]  # fmt: skip
    curve = sweep_document(runs[0], runs)["curve"]  # type: ignore[index]
    assert curve["unit"] == "MiB/s"
    assert [p["throughput"] for p in curve["points"]] == [100.0, 800.0]


def test_one_point_alone_has_no_curve_and_runs_outside_a_sweep_have_no_sweep() -> None:
    run = swept("q8", "8")
    alone = sweep_document(run, [run])
    assert alone is not None and alone["curve"] is None
    assert sweep_document(make_run("plain"), [run]) is None
    for damaged in ({"axes": "iodepth"}, {"axes": {"iodepth": [1, 8]}}, {"axes": {}},
                    {"axes": AXES, "point": ["8"]}):  # fmt: skip
        assert sweep_document(swept("d", "8", sweep=damaged), [run]) is None


def test_the_run_document_carries_the_sweep_and_the_stored_flags() -> None:
    run = swept(
        "q8",
        "8",
        verdict="unstable",
        evidence={
            "reason": "iops varies 31 % over the repeats",
            "timeline": {"findings": [
                {"code": "TL003", "message": "workers' IOPS vary 40 %"},
                {"code": "TL004", "message": "stall 2.0-4.0 s"},
            ]},
        },
        notes=("likely cache hit: 9000 MiB/s above the target's ceiling",),
        labels={"imported-from": "fio-json"},
    )  # fmt: skip
    document = run_document(run, key_title="t", key_page="p.html", session_runs=[swept("q1", "1")])
    assert document["sweep"]["curve"]["points"][1]["run_ids"] == ["q8"]
    assert [f["flag"] for f in document["flags"]] == [
        "cache?", "unstable", "imbalance", "stalls", "imported",
    ]  # fmt: skip
    assert document["flags"][1]["detail"] == "iops varies 31 % over the repeats"
    assert run_flags(make_run("quiet")) == []
    assert run_document(make_run("plain"), key_title="t", key_page="p")["sweep"] is None


def test_a_site_rebuilt_after_a_new_sweep_point_redraws_its_siblings_curves(tmp_path: Path) -> None:
    from pytest_fioloadgen.report.site import build_site, run_data_path

    def curve_of(run_id: str) -> list[str]:
        text = (tmp_path / "site" / run_data_path(run_id)).read_text()
        document = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        return [point["value"] for point in document["sweep"]["curve"]["points"]]

    store = SQLiteStore(tmp_path / "h.db")
    try:
        # Each point is a key of its own (the identity scheme): the siblings are other keys.
        for depth in ("1", "8"):
            store.record(swept(f"q{depth}", depth, history_key=f"key-{depth}"))
        build_site(store, tmp_path / "site", processes=1)
        assert curve_of("q1") == ["1", "8"]
        store.record(swept("q32", "32", history_key="key-32"))
        summary = build_site(store, tmp_path / "site", processes=1)
        assert not summary.full and summary.keys_written == 1
        assert curve_of("q1") == curve_of("q8") == curve_of("q32") == ["1", "8", "32"]
    finally:
        store.close()
