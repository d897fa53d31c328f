"""fio JSON -> RunResult, on golden outputs captured from real client/server runs."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ResultError
from pytest_fioloadgen.fio.results import (
    METRIC_NAMES,
    NS_PER_MS,
    extract_json,
    parse_result,
    percentile_from_bins,
    worker_metrics,
)

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
GOLDEN_FILES = sorted(GOLDEN.glob("*.json"))
EXPECTED_WORKERS = {
    "randread-w1": 1,
    "randread-w2": 2,
    "randread-w4": 4,
    "seqwrite-w2": 2,
    "randrw-w4": 4,
    "two-sections-w2": 2,
    "phases-w2": 2,
}


def load(name: str) -> dict:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def client_entries(document: dict) -> list[dict]:
    return [e for e in document["client_stats"] if e["jobname"] != "All clients"]


def nearest_rank(values_by_count: Counter, percentile: float) -> int:
    """Independent percentile of a multiset: the smallest value whose rank reaches
    ceil(p/100 * N), computed in exact rational arithmetic on the expanded samples."""
    expanded = sorted(values_by_count.elements())
    rank = math.ceil(Fraction(str(percentile)) / 100 * len(expanded))
    return expanded[max(rank, 1) - 1]


def test_every_golden_file_is_covered():
    assert {path.stem for path in GOLDEN_FILES} == set(EXPECTED_WORKERS)


@pytest.mark.parametrize("name", sorted(EXPECTED_WORKERS))
def test_workers_are_found_per_client(name):
    result = parse_result(load(name))
    assert len(result.workers) == EXPECTED_WORKERS[name]
    assert all(worker.host.startswith("127.0.0.") and worker.port for worker in result.workers)
    assert set(result.metrics) <= set(METRIC_NAMES)


@pytest.mark.parametrize("name", ["randread-w1", "randread-w4", "seqwrite-w2", "randrw-w4"])
def test_single_job_worker_percentiles_match_fios_own(name):
    """Our percentile walk over one job's bins reproduces fio's reported percentiles, so
    the same walk over merged bins is fio's method applied to all I/Os."""
    for entry in client_entries(load(name)):
        for direction in ("read", "write"):
            clat = entry[direction]["clat_ns"]
            if not clat["N"]:
                continue
            bins = {int(k): v for k, v in clat["bins"].items()}
            for key, fio_value in clat["percentile"].items():
                assert percentile_from_bins(bins, float(key)) == fio_value, (name, direction, key)


@pytest.mark.parametrize("name", sorted(EXPECTED_WORKERS))
def test_merged_percentiles_equal_percentiles_of_the_union_of_bins(name):
    document = load(name)
    result = parse_result(document)
    for direction, stats in (("read", result.read), ("write", result.write)):
        union: Counter = Counter()
        for entry in client_entries(document):
            for value, count in entry[direction]["clat_ns"].get("bins", {}).items():
                union[int(value)] += count
        if not union:
            assert stats.latency is None
            assert f"{direction}_lat_p99_ms" not in result.metrics
            continue
        assert stats.latency is not None
        assert stats.latency.samples == sum(union.values())
        for suffix, pct in (("p50", 50), ("p95", 95), ("p99", 99), ("p999", 99.9)):
            expected_ms = nearest_rank(union, pct) / NS_PER_MS
            assert result.metrics[f"{direction}_lat_{suffix}_ms"] == expected_ms


def test_merged_p99_is_not_the_average_of_worker_p99s():
    """The FIOLoadGen mistake: on real 4-worker data the two differ."""
    result = parse_result(load("randrw-w4"))
    averaged = sum(w.read.latency.p99_ms for w in result.workers) / len(result.workers)
    assert result.read.latency.p99_ms != pytest.approx(averaged, rel=1e-9)


@pytest.mark.parametrize("name", ["randread-w2", "randread-w4", "randrw-w4", "seqwrite-w2"])
def test_merged_throughput_sums_workers_and_agrees_with_fios_aggregate(name):
    document = load(name)
    result = parse_result(document)
    entries = client_entries(document)
    assert result.metrics["read_iops"] == pytest.approx(sum(e["read"]["iops"] for e in entries))
    assert result.metrics["write_iops"] == pytest.approx(sum(e["write"]["iops"] for e in entries))
    assert result.read.io_bytes == sum(e["read"]["io_bytes"] for e in entries)
    # fio's own aggregate divides all I/O by the longest runtime, which understates when
    # workers start a few ms apart; ours sums each worker's rate. They stay close.
    everyone = next(e for e in document["client_stats"] if e["jobname"] == "All clients")
    fio_aggregate = everyone["read"]["iops"] + everyone["write"]["iops"]
    assert fio_aggregate <= result.metrics["iops"] * 1.001
    assert result.metrics["iops"] == pytest.approx(fio_aggregate, rel=0.1)
    assert result.metrics["iops_per_worker"] == pytest.approx(
        result.metrics["iops"] / len(result.workers)
    )


def test_read_only_run_has_no_write_latency():
    result = parse_result(load("randread-w2"))
    assert result.write_iops == 0
    assert "write_lat_p99_ms" not in result.metrics
    with pytest.raises(AttributeError, match="not measured"):
        _ = result.write_lat_p99_ms
    assert result.read_lat_p99_ms == result.metrics["read_lat_p99_ms"] > 0


def test_mixed_run_has_both_directions_in_proportion():
    result = parse_result(load("randrw-w4"))
    share = result.read_iops / result.iops
    assert 0.6 < share < 0.8  # rwmixread=70
    assert result.read_lat_p99_ms > 0 and result.write_lat_p99_ms > 0


def test_min_mean_max_merge_over_workers():
    document = load("randread-w4")
    result = parse_result(document)
    clats = [e["read"]["clat_ns"] for e in client_entries(document)]
    assert result.read.latency.min_ms == min(c["min"] for c in clats) / NS_PER_MS
    assert result.read.latency.max_ms == max(c["max"] for c in clats) / NS_PER_MS
    weighted = sum(c["mean"] * c["N"] for c in clats) / sum(c["N"] for c in clats)
    assert result.read.latency.mean_ms == pytest.approx(weighted / NS_PER_MS)


def test_several_sections_on_one_worker_are_summed():
    document = load("two-sections-w2")
    result = parse_result(document)
    assert all(worker.jobs == 2 for worker in result.workers)
    for worker in result.workers:
        entries = [e for e in client_entries(document) if e["hostname"] == worker.host]
        assert worker.read.iops == pytest.approx(sum(e["read"]["iops"] for e in entries))
        assert worker.write.iops == pytest.approx(sum(e["write"]["iops"] for e in entries))


def test_sequential_phases_average_over_the_whole_run():
    """With stonewalled phases, rates of different phases never coexisted: the worker's
    IOPS is its total I/O count over the phases' summed runtime."""
    document = load("phases-w2")
    result = parse_result(document)
    for worker in result.workers:
        entries = [e for e in client_entries(document) if e["hostname"] == worker.host]
        writes = [e["write"] for e in entries if e["groupid"] == 0]
        assert worker.write.iops == pytest.approx(
            sum(w["total_ios"] for w in writes) / (max(w["runtime"] for w in writes) / 1000)
        )
        assert worker.jobs == 3


def test_worker_metrics_are_the_workers_own_figures():
    result = parse_result(load("randread-w2"))
    first = result.workers[0]
    figures = worker_metrics(first)
    assert figures["iops"] == first.iops
    assert figures["read_lat_p99_ms"] == first.read.latency.p99_ms
    assert "iops_per_worker" not in figures


def test_text_before_the_document_is_skipped():
    text = (GOLDEN / "randread-w2.json").read_text()
    noisy = "fio: this platform does not support process shared mutexes {x}\n" + text
    assert extract_json(noisy) == json.loads(text)


@pytest.mark.parametrize(
    "output",
    ["", "fio: failed to connect to 127.0.0.9:8765\n", '{"no": "fio"}\n', "{ broken\n"],
)
def test_output_without_a_document_is_a_result_error(output):
    with pytest.raises(ResultError, match="contains no fio JSON document"):
        extract_json(output)


def test_document_without_jobs_is_a_result_error():
    with pytest.raises(ResultError, match="no job results"):
        parse_result({"fio version": "fio-3.33", "client_stats": []})


def test_percentile_of_empty_histogram_is_none():
    assert percentile_from_bins({}, 99) is None
    assert percentile_from_bins({100: 1, 200: 1}, 50) == 100.0
    assert percentile_from_bins({100: 1, 200: 1}, 50.1) == 200.0
