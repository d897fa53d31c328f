"""HTML fragments and charts of the reports, from golden fio results and hand-made
comparisons (no fio needed)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.gating import Check, Limit
from pytest_fioloadgen.regression import Comparison
from pytest_fioloadgen.report import charts
from pytest_fioloadgen.report.html import RunView, history_sparkline, run_fragment
from pytest_fioloadgen.report.html_hooks import row_cells
from pytest_fioloadgen.report.summary import environment_facts, matrix_table, scaling_curves
from pytest_fioloadgen.store.base import RunRecord

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
        charts.latency_percentiles(result),
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
    svg = charts.latency_percentiles(result_of("randrw-w4.json"))
    assert ">read<" in svg and ">write<" in svg
    assert svg.count('class="line reactive nofill"') == 2


def test_an_unbalanced_worker_is_drawn_in_the_warning_colour():
    result = result_of("randread-w4.json")
    slow = result.workers[0]
    from dataclasses import replace

    slowed = replace(slow, read=replace(slow.read, iops=slow.read.iops / 4))
    unbalanced = replace(result, workers=(slowed, *result.workers[1:]))
    svg = charts.worker_iops(unbalanced)
    bars = svg.split('<g class="bar"')[1:]
    assert [charts.WARNING_COLOR in bar for bar in bars] == [True, False, False, False]
    assert "slowest at" in svg
    assert charts.WARNING_COLOR not in charts.worker_iops(result)


def test_a_large_matrix_gets_several_scaling_charts():
    curves = {f"p{i} on t": [(1, 10.0), (2, 19.0)] for i in range(13)}
    made = charts.scaling(curves)
    assert len(made) == 3
    assert made[0].count("ideal<") == charts.CURVES_PER_CHART
    assert charts.scaling({}) == []


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


def test_fragment_shows_baseline_delta_and_verdict_from_comparisons():
    result = result_of("randread-w2.json")
    limit = Limit(metric="read_lat_p99_ms", bound="max", value=0.001, source="t.toml")
    view = RunView(
        title="randread-w2-<local>",
        result=result,
        record=record(),
        verdict="fail",
        checks=(Check(limit, result.metrics["read_lat_p99_ms"]),),
        comparisons=(comparison(), comparison("read_lat_p999_ms", "unchanged", 1.0)),
    )
    html = run_fragment(view)
    assert "20,000 ± 150 (n=10)" in html
    assert "-12.5%" in html
    assert ">regression<" in html and ">fail<" in html and ">unchanged<" in html
    assert "read_lat_p999_ms" in html  # a compared metric outside the headline set
    assert "max 0.001" in html
    # user text is escaped
    assert "randread-w2-&lt;local&gt;" in html and "&lt;override&gt;" in html
    assert "<local>" not in html


def test_sparkline_marks_the_current_run_oldest_first():
    history = [record(f"r{i}", iops=100.0 + i, started=float(i)) for i in range(5, 0, -1)]
    html = history_sparkline(history, "r3")
    assert html is not None and "5 runs" in html
    assert history_sparkline([], "r1") is None


def test_results_table_cells():
    class Outcome:
        def __init__(self, status, comparisons):
            self.result = result_of("randrw-w4.json")
            self.comparisons = comparisons
            self.verdict = type("V", (), {"status": status})()

    cells = row_cells([Outcome("pass", (comparison(),))])
    assert cells["fiodelta"].endswith("</span>-12.5%")
    assert cells["fioverdict"] == "regression"
    assert cells["fioiops"].split("</span>")[1].replace(",", "").isdigit()
    two = row_cells([Outcome("pass", ()), Outcome("fail", ())])
    assert two["fioverdict"] == "fail" and two["fioiops"].count("<br>") == 1


def test_results_columns_sort_as_numbers_although_pytest_html_compares_text():
    class Outcome:
        def __init__(self, iops, delta):
            result = result_of("randread-w1.json")
            self.result = type("R", (), {"metrics": {**result.metrics, "iops": iops}})()
            self.comparisons = (comparison(delta=delta),)
            self.verdict = type("V", (), {"status": "pass"})()

    rows = [row_cells([Outcome(iops, delta)]) for iops, delta in ((9000, -20.0), (10000, 3.0))]
    assert rows[0]["fioiops"] < rows[1]["fioiops"]
    assert rows[0]["fiodelta"] < rows[1]["fiodelta"]


def test_environment_facts_are_flat_and_escaped():
    facts = environment_facts({"host": "<vm>", "targets": {"a": {"fs": "ext4"}}})
    assert facts == {"host": "&lt;vm&gt;", "targets": "a=fs=ext4"}


@pytest.fixture
def outcomes():
    class Case:
        def __init__(self, profile, workers, target):
            self.profile = profile
            self.workers = workers
            self.target = target

    made = []
    for name, workers, iops in (("rr<1>", 1, 100.0), ("rr<1>", 2, 180.0), ("sw", 1, 50.0)):
        prof = type("P", (), {"name": name})()
        outcome = type(
            "O",
            (),
            {
                "case": Case(prof, workers, "local"),
                "result": type("R", (), {"metrics": {"iops": iops}})(),
                "verdict": type("V", (), {"status": "pass"})(),
                "comparisons": (),
            },
        )()
        made.append(outcome)
    return made


def test_matrix_and_scaling_curves(outcomes):
    html = matrix_table(outcomes)
    assert "rr&lt;1&gt;" in html and "180 IOPS" in html and "<th>2 workers</th>" in html
    assert scaling_curves(outcomes) == {"rr<1> on local": [(1, 100.0), (2, 180.0)]}
