"""Selections of runs, two sets compared, and the one number format."""

from __future__ import annotations

import pytest

from pytest_fioloadgen import numbers
from pytest_fioloadgen.exceptions import StoreError
from pytest_fioloadgen.store import RunRecord, open_store
from pytest_fioloadgen.store.selection import resolve, sessions
from pytest_fioloadgen.verdicts.comparing import case_label, compare_sets


def make(
    run_id,
    session,
    iops,
    *,
    key="k1",
    test_id="tests/t.py::test_x[p-w1-local-r1]",
    labels=None,
    at=0,
):
    return RunRecord(
        run_id=run_id,
        session_id=session,
        profile_name="p",
        profile_hash="h",
        profile_text="[x]\n",
        workers=1,
        backend="local",
        target="local",
        started_at=1_700_000_000 + at,
        finished_at=1_700_000_010 + at,
        metrics={"iops": iops, "read_lat_p99_ms": 1.0},
        labels=labels or {"branch": "main"},
        history_key=key,
        test_id=test_id,
        verdict="pass",
    )


@pytest.fixture
def store(tmp_path):
    store = open_store(str(tmp_path / "h.db"))
    for n, iops in enumerate((1000, 1010, 990)):
        store.record(make(f"a{n}", "aaaaaaaa-old", iops, at=n))
    for n, iops in enumerate((700, 705, 695)):
        store.record(make(f"b{n}", "bbbbbbbb-new", iops, at=100 + n, labels={"branch": "dev"}))
    store.record(make("j0", "job-1", 5, test_id="job", at=200))
    yield store
    store.close()


def test_sessions_are_plugin_sessions_unless_all(store):
    listed = sessions(store)
    assert [s.session_id for s in listed] == ["bbbbbbbb-new", "aaaaaaaa-old"]
    assert listed[0].runs == 3 and listed[0].verdicts == {"pass": 3}
    assert listed[0].labels == {"branch": "dev"} and listed[0].kind == "plugin"
    assert sessions(store, include_jobs=True)[0].kind == "job"


def test_names_resolve_to_the_same_runs_everywhere(store):
    assert len(resolve(store, "latest").runs) == 3
    assert {r.session_id for r in resolve(store, "previous").runs} == {"aaaaaaaa-old"}
    assert {r.session_id for r in resolve(store, "branch=dev").runs} == {"bbbbbbbb-new"}
    assert {r.run_id for r in resolve(store, "bbbbbb").runs} == {"b0", "b1", "b2"}  # a prefix
    assert [r.run_id for r in resolve(store, "run:a1").runs] == ["a1"]
    store.pin_baseline("gold", ["a0", "a1", "a2"])
    assert len(resolve(store, "gold").runs) == 3 and len(resolve(store, "baseline:gold").runs) == 3
    with pytest.raises(StoreError, match="'zz' is not a session, baseline, run"):
        resolve(store, "zz")
    with pytest.raises(StoreError, match="no plugin session whose runs all carry branch=x"):
        resolve(store, "branch=x")


def test_two_sets_pair_by_key_with_the_gates_statistics(store):
    rows = compare_sets(
        resolve(store, "previous").runs, resolve(store, "latest").runs, metrics=("iops",)
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row.baseline, row.current, row.baseline_n, row.current_n) == (1000, 700, 3, 3)
    assert row.delta_pct == pytest.approx(-30.0) and row.verdict == "regression"
    assert row.case == "test_x[p-w1-local]"
    # One run a side: no verdict, the delta still shown.
    single = compare_sets(
        resolve(store, "run:a0").runs, resolve(store, "run:b0").runs, metrics=("iops",)
    )
    assert single[0].verdict == "insufficient-history" and single[0].delta_pct == pytest.approx(
        -30.0
    )
    assert compare_sets(resolve(store, "run:a0").runs, [make("x", "s", 1, key="other")]) == []
    assert case_label(make("j", "s", 1, test_id="job")) == "job p-w1-local"


@pytest.mark.parametrize(
    ("value", "si", "latency"),
    [
        (29123, "29.1k", "29.1 s"),
        (1.2, "1.20", "1.20 ms"),
        (0.0412, "0.0412", "41.2 µs"),
        (120854, "121k", "121 s"),
        (999.96, "1.00k", "1.00 s"),
    ],
)
def test_three_significant_digits_and_a_unit(value, si, latency):
    assert numbers.si(value) == si
    assert numbers.latency(value) == latency


def test_metric_units_and_percentages():
    assert numbers.metric("read_lat_p99_ms", 8.0) == "8.00 ms"
    assert numbers.metric("bw_mib_s", 114.4) == "114 MiB/s"
    assert numbers.metric("iops", None) == "-"
    assert [numbers.percent(d) for d in (-0.012, 12.34, -250.0, None)] == [
        "-0.0%",
        "+12.3%",
        "-250%",
        "-",
    ]
    assert "e" not in numbers.sig3(0.000123) and numbers.sig3(0.000123) == "0.000123"
