"""Time series from fio's averaged logs (log files captured from real fio 3.33 runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_fioloadgen.fio import timeseries
from pytest_fioloadgen.fio.results import parse_result
from pytest_fioloadgen.fio.runner import with_timeseries

DATA = Path(__file__).parent.parent / "data"


def test_interval_aims_at_about_120_points_but_not_below_250_ms():
    assert timeseries.log_interval_ms(1) == 250
    assert timeseries.log_interval_ms(60) == 500
    assert timeseries.log_interval_ms(600) == 5000


def test_logging_header_comes_first_so_the_profile_still_wins():
    text = timeseries.with_logging("[global]\nwrite_iops_log=mine\n[a]\nrw=read\n", 500)
    assert text.startswith("[global]\nwrite_iops_log=fioloadgen\n")
    assert "log_avg_msec=500" in text
    assert text.index("write_iops_log=fioloadgen") < text.index("write_iops_log=mine")


def test_collect_maps_hosts_to_workers_and_sums_jobs(tmp_path):
    for path in (DATA / "timeseries").iterdir():
        shutil.copy(path, tmp_path)
    series = timeseries.collect(
        tmp_path, [("127.0.0.1", "127.0.0.1:8765"), ("127.0.0.2", "127.0.0.2:8765")], 500
    )
    assert series is not None
    assert series["interval_ms"] == 500
    workers = series["workers"]
    # Two jobs (iops.1 and iops.2) on 127.0.0.1: their windows add up.
    one = dict((t, v) for t, v in workers["127.0.0.1:8765"]["read_iops"])
    assert one[500] == 456 + 404
    two = workers["127.0.0.2:8765"]
    assert [t for t, _v in two["read_iops"]][:3] == [500, 1000, 1500]
    assert two["write_iops"][0][1] == 9498
    # Latency is logged in ns and kept in ms.
    assert two["read_lat_ms"][0] == [500, 0.0957]


def test_workers_sharing_a_host_get_no_series(tmp_path):
    for path in (DATA / "timeseries").iterdir():
        shutil.copy(path, tmp_path)
    series = timeseries.collect(
        tmp_path, [("127.0.0.1", "127.0.0.1:1"), ("127.0.0.1", "127.0.0.1:2")], 500
    )
    assert series is None


def test_series_are_kept_in_the_raw_document_and_read_back():
    import json

    document = json.loads((DATA / "golden" / "randread-w2.json").read_text())
    result = parse_result(document)
    series = {"interval_ms": 500, "workers": {"w": {"read_iops": [[500, 1.0]]}}}
    kept = with_timeseries(result, series)
    assert timeseries.timeseries_of(kept.raw) == series
    assert kept.metrics == result.metrics
    assert timeseries.timeseries_of(result.raw) is None
    assert with_timeseries(result, None) is result


def test_logs_without_job_numbers_are_read_too(tmp_path):
    (tmp_path / "fioloadgen_iops.log.10.0.0.5").write_text(
        "500, 100, 0, 0, 0\n1000, 110, 0, 0, 0\n"
    )
    series = timeseries.collect(tmp_path, [("10.0.0.5", "10.0.0.5:8765")], 500)
    assert series["workers"]["10.0.0.5:8765"]["read_iops"] == [[500, 100.0], [1000, 110.0]]
