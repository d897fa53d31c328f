"""pytest-xdist: fio cases never overlap, other tests still run in parallel, and the
controller prints one summary and writes --fio-json with every worker's runs."""

from __future__ import annotations

import itertools
import json

import pytest

from pytest_fioloadgen.store import open_store

pytest.importorskip("xdist")

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
PROFILE = (
    "# quick\n[global]\nioengine=psync\ndirect=1\nsize=16m\nruntime=1\nramp_time=0\n"
    "time_based\n[rr]\nrw=randread\nbs=4k\n"
)
TESTS = """
import time

def test_storage(fio_case, fio_run):
    fio_run(fio_case)

def test_plain_a():
    time.sleep(0.5)

def test_plain_b():
    time.sleep(0.5)
"""


def test_two_xdist_workers_never_measure_at_the_same_time(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    for name in ("one", "two"):
        (directory / f"{name}.fio").write_text(PROFILE.replace("[rr]", f"[{name}]"))
    pytester.makepyfile(test_storage=TESTS)
    result = pytester.runpytest(
        "-n", "2", "--fio-profiles-dir", str(directory), "--fio-workers", "1,2",
        "--fio-store", "h.db", "--fio-json", "session.json", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=6)
    store = open_store(str(pytester.path / "h.db"))
    try:
        runs = sorted(store.query(), key=lambda run: run.started_at)
    finally:
        store.close()
    assert len(runs) == 4
    # One pytest invocation, one session in the history; both xdist workers ran cases
    # (each deploys its own fio servers) and each run says which.
    assert len({run.session_id for run in runs}) == 1
    ran_by = {note for run in runs for note in run.notes if "pytest-xdist worker" in note}
    assert ran_by == {"run by pytest-xdist worker gw0", "run by pytest-xdist worker gw1"}
    for before, after in itertools.pairwise(runs):
        assert after.started_at >= before.finished_at, (before.test_id, after.test_id)
    # One summary, on the controller, with every worker's runs.
    out = result.stdout.str()
    assert out.count("fioloadgen results") == 1
    result.stdout.fnmatch_lines(["test_storage  one-w1-local *", "*4 runs recorded in h.db*"])
    assert f"(session {runs[0].session_id})" in out
    document = json.loads((pytester.path / "session.json").read_text())
    assert len(document["runs"]) == 4
