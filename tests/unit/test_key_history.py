"""A history key's page document (report/key_history.py): its title, the metrics its
picker offers, and the static site's every-metric document."""

from __future__ import annotations

import math

from pytest_fioloadgen.report.key_history import key_metrics, key_title, site_key_document
from pytest_fioloadgen.store.sqlite import SQLiteStore
from pytest_fioloadgen.verdicts.thresholds import Thresholds
from tests.overview_history import KEY_A
from tests.overview_history import run as history_run


def test_a_key_is_titled_by_test_profile_workers_and_target():
    assert (
        key_title("tests/test_perf.py::test_read[4k]", "randread-4k", 4, "fast")
        == "test_read[4k] · randread-4k · w4 · fast"
    )
    assert key_title("job", "seqwrite-1m", 2, "local") == "job · seqwrite-1m · w2 · local"
    # Recorded without a test: no "-" standing for it.
    assert key_title("", "randread-4k", 1, "t") == "randread-4k · w1 · t"


def test_the_picker_offers_the_measured_metrics_in_the_contract_order():
    runs = [
        {"write_lat_p99_ms": 2.0, "iops": 10.0, "made_up": 1.0},
        {"read_lat_mean_ms": math.nan, "read_iops": 5.0},
        {"read_lat_mean_ms": 0.5},
    ]
    assert key_metrics(runs) == ["iops", "read_iops", "read_lat_mean_ms", "write_lat_p99_ms"]
    assert key_metrics([]) == []


def test_the_site_document_holds_every_metric_with_gaps_and_overlays(tmp_path):
    store = SQLiteStore(tmp_path / "h.db")
    try:
        runs = []
        for number in range(8):
            metrics = {"iops": 1000.0 + number}
            if number % 2:
                metrics["read_lat_p99_ms"] = 0.5
            failed = number == 3
            record = history_run(
                number,
                KEY_A,
                1.0,
                metrics={} if failed else metrics,
                status="failed" if failed else "complete",
            )
            store.record(record)
            runs.append(record)
        limits = tmp_path / "t.toml"
        limits.write_text("[defaults]\niops = 900\n")
        document = site_key_document(
            store, KEY_A, runs, version=None, thresholds=Thresholds.load(limits)
        )
    finally:
        store.close()
    assert document["title"] == "test_a[w] · randread-4k · w1 · fast"
    assert document["metrics"] == ["iops", "read_lat_p99_ms"]
    # The failed run is no point of any metric; a run without a figure is a gap.
    assert [run["run_id"] for run in document["runs"]] == [
        run.run_id for run in runs if run.status == "complete"
    ]
    assert document["series"]["iops"]["values"] == [
        1000.0,
        1001.0,
        1002.0,
        1004.0,
        1005.0,
        1006.0,
        1007.0,
    ]
    assert document["series"]["read_lat_p99_ms"]["values"] == [
        None,
        0.5,
        None,
        None,
        0.5,
        None,
        0.5,
    ]
    assert document["series"]["iops"]["thresholds"][0]["value"] == 900
    assert document["series"]["read_lat_p99_ms"]["thresholds"] == []
    assert document["series"]["iops"]["baseline_band"]["center"] == 1004.0
