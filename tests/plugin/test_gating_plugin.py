"""Regression gating through the plugin: options, verdicts, messages, exports (real fio).

A rate-limited profile makes IOPS steady (about 400 per worker); history is built from a
real first run whose record is copied with scaled figures, so the current run meets a
baseline of the same history key that is known to be faster or slower. Only IOPS is gated
here (the thresholds file's [gating] metrics): the latency of a nearly idle rate-limited
job varies by a third from run to run, and the copies would pin it to one value.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest

from pytest_fioloadgen.store import open_store

STEADY = """# Rate-limited random read: steady IOPS.
[global]
ioengine=psync
size=4m
runtime=1
time_based
rate_iops=400
[steady]
rw=randread
bs=4k
"""

TEST = """
def test_storage(fio_case, fio_run):
    fio_run(fio_case)
"""

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""


@pytest.fixture
def project(pytester):
    pytester.makeini(INI)
    directory = pytester.mkdir("profiles")
    (directory / "steady.fio").write_text(STEADY)
    pytester.makepyfile(test_storage=TEST)
    pytester.makefile(".toml", limits=GATE_IOPS_ONLY)
    return pytester


GATE_IOPS_ONLY = '[gating]\nmetrics = ["iops"]\n'


def run(pytester, *args):
    return pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--fio-profiles-dir",
        "profiles",
        "--fio-store",
        "history.db",
        "--fio-thresholds",
        "limits.toml",
        *args,
    )


def seed(pytester, factor, *, count=4, labels=None, name="history.db"):
    """Replace the newest real run by ``count`` copies with IOPS scaled by ``factor``."""
    store = open_store(str(pytester.path / name))
    try:
        real = store.query(with_raw=True)[0]
        store.delete(real.run_id)
        seeded = []
        for number in range(count):
            metrics = dict(real.metrics)
            # Small, realistic spread around the scaled figure.
            metrics["iops"] = real.metrics["iops"] * factor * (1 + (number - 1.5) * 0.002)
            copy = dataclasses.replace(
                real,
                run_id=f"seed-{factor}-{number}",
                session_id=f"seed-session-{number}",
                started_at=real.started_at - 1000 + number,
                metrics=metrics,
                labels=labels if labels is not None else real.labels,
            )
            store.record(copy)
            seeded.append(copy.run_id)
        return seeded
    finally:
        store.close()


def test_first_run_reports_too_little_history(project):
    result = run(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "regression gating starts after 3 recorded runs of each case's key (every case: 0 "
            "baseline run(s), auto: last 0 of up to 20 runs); to gate from the next session, "
            "seed now with --fio-repeat 3, or pin runs of several sessions: fioloadgen baseline "
            "set NAME --sessions A,B,C, then --fio-baseline NAME",
        ]
    )


def test_regression_fails_the_test_with_every_number(project):
    run(project).assert_outcomes(passed=1)
    # 20% slower: past the 10% tolerance, short of the 3x that always gets a re-run.
    seed(project, 1.25)
    # One run, no confirmation: the single-sample prediction interval decides.
    result = run(project, "--junitxml", "junit.xml", "--fio-confirm", "0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "steady-w1-local: regression: worse than baseline: iops -*",
            "*iops regression: current * (n=1) vs baseline * ± * (n=4, auto: last 4 of up to 20 runs), "
            "delta -*%, tolerance 10%, prediction-interval p=*, key *",
            "*REGRESSION steady-w1-local: iops regression*",
        ]
    )
    store = open_store(str(project.path / "history.db"))
    newest = store.query(limit=1)[0]
    store.close()
    assert newest.verdict == "regression"
    properties = {
        prop.get("name"): prop.get("value")
        for prop in ET.parse(project.path / "junit.xml").iter("property")
    }
    assert properties["fio_verdict"] == "regression"
    assert properties["fio_history_key"] == newest.history_key
    assert float(properties["fio_iops"]) == pytest.approx(newest.metrics["iops"], rel=1e-6)
    assert float(properties["fio_iops_delta_pct"]) < -15


def test_a_change_far_beyond_its_tolerance_is_always_run_again(project):
    """-50% IOPS is 5x the 10% tolerance: even with --fio-confirm 0 one confirmation run
    follows, and both runs are recorded (the first as suspect)."""
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0)
    result = run(project, "--fio-confirm", "0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["steady-w1-local: regression (confirmed by 1 re-run(s)): worse than baseline: iops -*"]
    )
    store = open_store(str(project.path / "history.db"))
    newest = store.query(limit=2)
    store.close()
    assert [run.verdict for run in newest] == ["regression", "suspect"]
    assert newest[1].evidence["reason"].startswith("looks worse, confirming: iops -")


def test_improvement_is_reported_and_passes(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 0.5)
    result = run(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*steady-w1-local*improved",
            "*1 improved*",
            "  improved steady-w1-local: iops improvement: *delta +*",
        ]
    )


def test_tolerance_from_the_thresholds_file(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0)
    project.makefile(".toml", limits=GATE_IOPS_ONLY + "[profile.steady.tolerance]\niops = 80\n")
    result = run(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 regression(s)*"])


def test_confirmation_reruns_record_every_sample(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0)
    result = run(project, "--fio-confirm", "2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*steady-w1-local: regression (confirmed by 2 re-run(s)): worse than baseline: *",
            "*(n=3) vs baseline*welch-t*",
        ]
    )
    store = open_store(str(project.path / "history.db"))
    session = store.query(limit=1)[0].session_id
    verdicts = [r.verdict for r in reversed(store.query(session_id=session))]
    store.close()
    assert verdicts == ["suspect", "suspect", "regression"]


def test_one_run_is_confirmed_once_by_default(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0)
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*steady-w1-local: regression (confirmed by 1 re-run(s)): worse than baseline: *",
            "*(n=2) vs baseline*",
        ]
    )


def test_baseline_none_disables_gating(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0)
    result = run(project, "--fio-baseline", "none")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["regression gating off: --fio-baseline none"])


def test_named_baseline(project):
    run(project).assert_outcomes(passed=1)
    run(project).assert_outcomes(passed=1)
    fast = seed(project, 2.0)
    store = open_store(str(project.path / "history.db"))
    store.pin_baseline("golden", fast)
    store.close()
    seed(project, 1.0, count=3)  # recent history says nothing changed...
    result = run(project, "--fio-baseline", "golden")
    result.assert_outcomes(failed=1)  # ...but the pinned baseline was twice as fast
    result.stdout.fnmatch_lines(["*pinned baseline 'golden'*"])


def test_unknown_named_baseline_is_a_usage_error(project):
    result = run(project, "--fio-baseline", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --fio-baseline: history store *history.db has no baseline 'nosuch'"]
    )


def test_baseline_labels_filter_the_history(project):
    run(project).assert_outcomes(passed=1)
    seed(project, 2.0, labels={"branch": "dev"})
    result = run(project, "--fio-baseline-label", "branch=main")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*0 baseline run(s)*with branch=main*"])


def test_bad_gating_options(project):
    result = run(project, "--fio-confirm", "-1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --fio-confirm: '-1' is not a non-negative integer"])
    result = run(project, "--fio-baseline", "../x")
    result.stderr.fnmatch_lines(
        ["ERROR: --fio-baseline: '../x' is not auto, none or a baseline name"]
    )
    project.makefile(".toml", limits="[gating]\nalpha = 2\n")
    result = run(project)
    result.stderr.fnmatch_lines(["ERROR: thresholds file *limits.toml*: key gating.alpha: *"])


def test_exports_and_scaling_row(project):
    result = run(
        project,
        "--fio-workers",
        "1,2",
        "--fio-bmf",
        "bmf.json",
        "--fio-github-benchmark",
        "gab",
        "--fio-json",
        "session.json",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["scaling steady/local: w1 1.00  w2 *"])
    bmf = json.loads((project.path / "bmf.json").read_text())
    # Named by test and case: the same profile in two tests is two benchmarks.
    assert set(bmf) == {"test_storage/steady-w1-local", "test_storage/steady-w2-local"}
    iops = bmf["test_storage/steady-w2-local"]["iops"]
    assert iops["lower_value"] <= iops["value"] <= iops["upper_value"]
    assert 600 < iops["value"] < 1000  # two workers at 400 IOPS each
    bigger = json.loads((project.path / "gab" / "bigger-is-better.json").read_text())
    smaller = json.loads((project.path / "gab" / "smaller-is-better.json").read_text())
    assert {"name": "test_storage/steady-w1-local iops", "unit": "IOPS"}.items() <= next(
        e for e in bigger if e["name"] == "test_storage/steady-w1-local iops"
    ).items()
    assert all(e["unit"] == "ms" for e in smaller)
    assert any(e["name"] == "test_storage/steady-w2-local read_lat_p99_ms" for e in smaller)
    session = json.loads((project.path / "session.json").read_text())
    assert session["runs"][1]["metrics"]["scaling_efficiency"] > 0.5
    assert session["runs"][0]["comparisons"][0]["status"] == "insufficient-history"


def test_cache_suspicion_with_a_configured_ceiling(project):
    result = run(project, "--fio-read-ceiling", "0.001")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*steady-w1-local*(cache?)",
            "cache? steady-w1-local: likely cache hit: read * MiB/s exceeds the configured ceiling 0.0 MiB/s*",
        ]
    )


def test_repeats_are_all_stored_and_compared_at_the_last(project):
    result = run(project, "--fio-repeat", "3")
    result.assert_outcomes(passed=3)
    store = open_store(str(project.path / "history.db"))
    runs = store.query()
    store.close()
    assert sorted(r.repeat for r in runs) == [0, 1, 2]
    assert len({r.history_key for r in runs}) == 1
    # Compared once, at the last repeat: a first session, so too little history.
    result.stdout.fnmatch_lines(["regression gating starts after 3 *(every case: 0 baseline*"])
