"""fio_run.max_iops_under: a bisection over rate_iops, every probe recorded, the answer a
metric with its own history (pytester, real fio)."""

from __future__ import annotations

import json

import pytest

from pytest_fioloadgen.store import open_store

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
PROFILE = (
    "# deep queue\n[global]\nioengine=libaio\ndirect=1\niodepth=32\nsize=64m\nruntime=1\n"
    "ramp_time=0\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
)
TEST = """
import json
from pathlib import Path

def test_sla(fio_run):
    # The target: four times this disk's queue-depth-1 p99, which a queue of 32 misses
    # uncapped on any disk that queues (the search must then cap the rate). Eight probes
    # reach a rate near 1/128 of the uncapped one, where a noisy VM's p99 is back near
    # the queue-depth-1 figure.
    single = fio_run("rr", iodepth=1)
    target = 4 * single.read_lat_p99_ms
    found = fio_run.max_iops_under(p99_ms=target, case_or_profile="rr", probes=8)
    Path("sla.json").write_text(json.dumps({
        "target": target,
        "iops": found.iops,
        "probes": [[p.rate_iops, p.iops, p.p99_ms, p.passed, p.run_id] for p in found.probes],
        "answer_run": found.outcome.record.run_id,
    }))
    assert found.iops > 0
"""


def test_max_iops_under_finds_a_rate_whose_p99_meets_the_target(pytester: pytest.Pytester):
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "rr.fio").write_text(PROFILE)
    pytester.makepyfile(test_latency_sla=TEST)
    result = pytester.runpytest(
        "--fio-profiles-dir", str(directory), "--fio-store", "h.db", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    found = json.loads((pytester.path / "sla.json").read_text())
    store = open_store(str(pytester.path / "h.db"))
    try:
        runs = {run.run_id: run for run in store.query()}
    finally:
        store.close()
    probes = found["probes"]
    assert probes[0][0] is None  # the uncapped ceiling first
    assert len(runs) == 1 + len(probes) + 1  # qd1 run, every probe, the answer
    passing = [p for p in probes if p[3]]
    best = max(passing, key=lambda p: p[1])
    # The answer is a recorded probe whose recorded p99 is under the target.
    recorded = runs[best[4]]
    assert recorded.metrics["read_lat_p99_ms"] <= found["target"]
    assert found["iops"] == pytest.approx(recorded.metrics["read_iops"])
    if best[0] is not None:
        assert f"rate_iops={best[0]}" in recorded.profile_text
    answer = runs[found["answer_run"]]
    assert answer.metrics["sla_iops"] == pytest.approx(found["iops"])
    assert answer.test_id == f"test_latency_sla.py::test_sla@sla-p99-{found['target']:g}ms"
    # Its own history key, apart from every probe's.
    assert answer.history_key not in {runs[p[4]].history_key for p in probes}
    assert any(note.startswith("latency SLA search: highest read IOPS") for note in answer.notes)
    result.stdout.fnmatch_lines(["test_sla@sla-p99-*  rr-w1-local *"])


MARKED = """
import json
from pathlib import Path

import pytest

@pytest.mark.fio(profile="rr", max_iops_under={"p99_ms": 10000, "probes": 3})
def test_marked(fio_case, fio_run):
    answer = fio_run()
    Path("answer.json").write_text(json.dumps(answer.metrics))
"""


def test_the_marker_form_makes_fio_run_search(pytester: pytest.Pytester):
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "rr.fio").write_text(PROFILE)
    pytester.makepyfile(test_marked=MARKED)
    result = pytester.runpytest(
        "--fio-profiles-dir", str(directory), "--fio-store", "h.db", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    answer = json.loads((pytester.path / "answer.json").read_text())
    # A 10 s target: the uncapped first probe meets it, and it is the answer.
    assert answer["sla_iops"] == pytest.approx(answer["read_iops"])
    assert answer["sla_iops"] > 0
    result.stdout.fnmatch_lines(["test_marked@sla-p99-10000ms  rr-w1-local *"])


def test_a_bad_marker_form_is_one_line_at_collection(pytester: pytest.Pytester):
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "rr.fio").write_text(PROFILE)
    pytester.makepyfile(test_marked=MARKED.replace('"p99_ms": 10000', '"p99_ms": -1'))
    result = pytester.runpytest(
        "--collect-only", "--fio-profiles-dir", str(directory), "-p", "no:cacheprovider"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*test_marked.py::test_marked: marker fio on test_marked: max_iops_under: p99_ms must be*"]
    )
