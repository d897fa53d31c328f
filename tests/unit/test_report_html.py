"""HTML fragments and charts of the reports, from golden fio results and hand-made
comparisons (no fio needed)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pytest_fioloadgen.cases import Case, CaseOutcome
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.fio.spectrum import run_spectrum
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.report import charts
from pytest_fioloadgen.report.html import RunView, history_sparkline, run_fragment
from pytest_fioloadgen.report.html_hooks import row_cells
from pytest_fioloadgen.report.summary import environment_facts, matrix_table, scaling_curves
from pytest_fioloadgen.store.base import RunRecord
from pytest_fioloadgen.verdicts.gating import decide
from pytest_fioloadgen.verdicts.regression import Comparison
from pytest_fioloadgen.verdicts.thresholds import Check, Limit, LimitChecks

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def result_of(name):
    return parse_result(json.loads((GOLDEN / name).read_text()))


def record(run_id="r1", *, iops=1000.0, key="k" * 16, started=1.0, test_id="<b>t</b>"):
    return RunRecord(
        run_id=run_id,
        session_id="s",
        profile_name="randread",
        profile_hash="h",
        profile_text="",
        workers=2,
        backend="local",
        target="local",
        started_at=started,
        finished_at=started + 1,
        metrics={"iops": iops},
        history_key=key,
        notes=("size=4m <override>",),
        test_id=test_id,
    )


def comparison(metric="iops", status="regression", delta=-12.5):
    return Comparison(
        metric=metric,
        status=status,
        history_key="k" * 16,
        baseline="auto: last 10 runs",
        baseline_center=20000.0,
        baseline_spread=150.0,
        baseline_n=10,
        current=17500.0,
        current_n=1,
        delta_pct=delta,
        tolerance_pct=5.0,
        test="mann-whitney-u",
        p_value=0.003,
    )


def svg_root(svg):
    return ElementTree.fromstring(svg)


def test_charts_are_valid_svg_without_scripts():
    result = result_of("randrw-w4.json")
    for svg in (
        charts.percentile_distribution(run_spectrum(result)),
        charts.worker_iops(result),
        charts.sparkline([1.0, 2.0, 3.0], 2),
        *charts.scaling({"a on b": [(1, 10.0), (2, 19.0)]}),
    ):
        assert svg is not None
        root = svg_root(svg)
        assert root.tag.endswith("svg")
        assert "<script" not in svg and "<desc" not in svg
        assert "fioloadgen-chart" in root.attrib["class"]


def test_latency_chart_has_read_and_write_lines():
    svg = charts.percentile_distribution(run_spectrum(result_of("randrw-w4.json")))
    assert ">read this run<" in svg and ">write this run<" in svg
    assert svg.count('class="line reactive nofill"') == 2


def test_an_unbalanced_worker_is_drawn_in_the_warning_colour():
    result = result_of("randread-w4.json")
    slow = result.workers[0]
    slowed = replace(slow, read=replace(slow.read, iops=slow.read.iops / 4))
    unbalanced = replace(result, workers=(slowed, *result.workers[1:]))
    svg = charts.worker_iops(unbalanced)
    bars = svg.split('<g class="bar"')[1:]
    assert [charts.WARNING_COLOR in bar for bar in bars] == [True, False, False, False]
    assert "slowest at" in svg
    assert charts.WARNING_COLOR not in charts.worker_iops(result)


def test_scaling_is_small_multiples_measured_solid_ideal_dashed_grey():
    curves = {"4k on t": [(1, 29000.0), (2, 55000.0)], "1m on t": [(1, 300.0), (2, 310.0)]}
    made = charts.scaling(curves)
    assert len(made) == 2  # one panel per curve, each on its own scale
    one_mib = made[0]
    assert ">1m on t<" in one_mib and "29k" not in one_mib
    assert "measured IOPS<" in one_mib and "ideal (linear)<" in one_mib
    assert "stroke:#999999" in one_mib and "stroke-dasharray:6,4" in one_mib  # grey, dashed
    assert ">50.0k<" in made[1]  # SI ticks, never 5e+04
    assert "e+0" not in made[1]
    assert charts.scaling({}) == []


def test_latency_by_percentile_is_the_hdrhistogram_plot_of_the_stored_spectrum():
    # Log latency against 1/(1-p): 50 %, 90 %, 99 %, 99.9 % equally apart, in percent.
    result = result_of("randread-w4.json")
    svg = charts.percentile_distribution(run_spectrum(result))
    assert "log axes" in svg and ">50%<" in svg and ">99.9%<" in svg
    assert "read this run<" in svg and ("ms<" in svg or "µs<" in svg)
    band = {"direction": "read", "detail": {"p50": {"low": 0.05, "high": 0.2}}}
    assert "read baseline band (high)" in charts.percentile_distribution(
        run_spectrum(result), [band]
    )
    assert charts.spans_decades([0.4, 8.0]) and not charts.spans_decades([0.4, 0.8])
    assert charts._log_labels([0.4, 8.0]) == [0.2, 0.5, 1, 2, 5, 10]


def test_stylesheet_is_scoped_to_our_charts():
    css = charts.chart_stylesheet()
    assert "svg.fioloadgen-chart .color-0" in css
    assert "#chart-" not in css and "&gt;" not in css


def test_timeseries_chart_per_worker():
    series = {
        "interval_ms": 500,
        "workers": {
            "w1": {"read_iops": [[500, 10.0], [1000, 12.0]], "read_lat_ms": [[500, 0.1]]},
            "w2": {"write_iops": [[500, 5.0], [1000, 6.0]]},
        },
    }
    iops = charts.timeseries(series, "iops")
    assert ">w1<" in iops and ">w2<" in iops
    assert ">w1 read<" in charts.timeseries(series, "lat")
    assert charts.timeseries({"workers": {}}, "iops") is None


def stored(result, checks=(), comparisons=(), **fields):
    """A record as the session stores it: the verdict decided once, with its evidence."""
    verdict = decide(LimitChecks(tuple(checks)), comparisons)
    return replace(
        record(**fields),
        metrics=dict(result.metrics),
        verdict=verdict.status.value,
        evidence=verdict.evidence(),
    ), verdict


def test_fragment_shows_the_stored_verdict_with_baseline_delta_and_checks():
    result = result_of("randread-w2.json")
    limit = Limit(metric="read_lat_p99_ms", bound="max", value=0.001, source="t.toml")
    run, _verdict = stored(
        result,
        checks=(Check(limit, result.metrics["read_lat_p99_ms"]),),
        comparisons=(comparison(), comparison("read_lat_p999_ms", "unchanged", 1.0)),
    )
    html = run_fragment(RunView(title="randread-w2-<local>", result=result, record=run))
    assert "20.0k ± 150 (n=10)" in html
    assert "-12.5%" in html
    assert ">regression<" in html and ">fail<" in html and ">unchanged<" in html
    assert 'data-status="fail"' in html.split("</h4>")[0]  # the run's one status
    assert "read_lat_p999_ms" in html  # a compared metric outside the headline set
    assert "max 0.001" in html
    # user text is escaped
    assert "randread-w2-&lt;local&gt;" in html and "&lt;override&gt;" in html
    assert "<local>" not in html


def test_a_view_renders_the_stored_status_even_if_the_evidence_says_otherwise():
    """The fragment never recomputes: a record stored as 'suspect' reads 'suspect'."""
    result = result_of("randread-w2.json")
    run, _ = stored(result, comparisons=(comparison(),))
    html = run_fragment(RunView("x", result, replace(run, verdict="suspect")))
    assert 'data-status="suspect"' in html.split("</h4>")[0]


def test_sparkline_marks_the_current_run_oldest_first():
    history = [record(f"r{i}", iops=100.0 + i, started=float(i)) for i in range(5, 0, -1)]
    html = history_sparkline(history, "r3")
    assert html is not None and "5 runs" in html
    assert history_sparkline([], "r1") is None


def outcome_of(result, *, comparisons=(), checks=(), profile="rr", workers=2, test="t::a"):
    run, verdict = stored(result, checks=checks, comparisons=comparisons)
    case = Case(parse_profile(f"[{profile}]\nrw=read\n", name=profile), workers, "local", test=test)
    return CaseOutcome(case, result, verdict, run, case.profile)


def test_results_table_cells():
    result = result_of("randrw-w4.json")
    cells = row_cells([outcome_of(result, comparisons=(comparison(),))])
    assert cells["fiodelta"].endswith("</span>-12.5%")
    assert 'data-status="regression"' in cells["fioverdict"]
    assert cells["fioiops"].split("</span>")[1] == "47.4k"
    assert cells["fiop99"].split("</span>")[1].startswith(("read ", "write "))
    limit = Limit(metric="iops", bound="min", value=10**9, source="t.toml")
    failing = outcome_of(result, checks=(Check(limit, result.metrics["iops"]),))
    two = row_cells([outcome_of(result), failing])
    assert 'data-status="fail"' in two["fioverdict"] and two["fioiops"].count("<br>") == 1


def test_results_columns_sort_as_numbers_although_pytest_html_compares_text():
    base = result_of("randread-w1.json")
    rows = []
    for iops, delta in ((9000, -20.0), (10000, 3.0)):
        result = replace(base, metrics={**base.metrics, "iops": float(iops)})
        rows.append(row_cells([outcome_of(result, comparisons=(comparison(delta=delta),))]))
    assert rows[0]["fioiops"] < rows[1]["fioiops"]
    assert rows[0]["fiodelta"] < rows[1]["fiodelta"]


def test_environment_facts_are_flat_and_escaped():
    facts = environment_facts({"host": "<vm>", "targets": {"a": {"fs": "ext4"}}})
    assert facts == {"host": "&lt;vm&gt;", "targets": "a=fs=ext4"}


@pytest.fixture
def outcomes():
    made = []
    base = result_of("randread-w1.json")
    for name, workers, iops in (("rr1", 1, 100.0), ("rr1", 2, 180.0), ("sw", 1, 50.0)):
        result = replace(base, metrics={**base.metrics, "iops": iops})
        made.append(outcome_of(result, profile=name, workers=workers, test="t.py::test_a"))
    return made


def test_matrix_and_scaling_curves(outcomes):
    html = matrix_table(outcomes)
    assert "test_a rr1" in html and "180 IOPS" in html and "<th>2 workers</th>" in html
    assert scaling_curves(outcomes) == {"test_a rr1 on local": [(1, 100.0), (2, 180.0)]}


def test_the_matrix_never_merges_different_tests_or_overrides(outcomes):
    base = outcomes[0]
    other_test = replace(base, case=replace(base.case, test="t.py::test_b"))
    other_bs = replace(base, case=replace(base.case, overrides=(("bs", "16k"),)))
    html = matrix_table([base, other_test, other_bs])
    assert "(x" not in html  # three cells, no "(x3)"
    assert "test_a rr1" in html and "test_b rr1" in html and "test_a rr1-bs16k" in html
