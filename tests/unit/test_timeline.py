"""The timeline on real fio 3.33 output (tests/data/timeline, made by
make_timeline_golden.py): fio's corrupted histogram rows recovered and checked against
json+, every interval an exact sum of its workers, and the sum of every interval the run's
json+ histogram bin for bin."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pytest_fioloadgen.fio import histlog
from pytest_fioloadgen.fio.results import parse_result, percentile_from_bins
from pytest_fioloadgen.fio.timeline import (
    LADDER,
    Timeline,
    min_ios,
    percentiles_of,
)
from tests.timeline_cases import CASES as DATA
from tests.timeline_cases import built_timeline, unpack

CASES = sorted(path.name for path in DATA.iterdir() if path.is_dir())


def streams_of(directory: Path, document: dict) -> list[histlog.Stream]:
    reader = histlog.HistLogReader(directory)
    streams = [stream for host in reader.hosts for stream in reader.streams_of(host)]
    return streams


def timeline_of_case(case: str, directory: Path) -> tuple[Timeline, dict]:
    stored, document = built_timeline(case, directory)
    return Timeline(json.loads(json.dumps(stored))), document


def test_every_json_plus_bin_is_a_bucket_value_of_fio():
    for case in CASES:
        document = json.loads((DATA / case / "output.json").read_text())
        for entry in document["client_stats"]:
            for direction in ("read", "write"):
                for key in entry[direction]["clat_ns"].get("bins", {}):
                    assert histlog.bucket_value_ns(histlog._INDEX_OF_VALUE[int(key)]) == int(key)


@pytest.mark.parametrize("case", CASES)
def test_fio_corrupts_the_rows_and_they_are_recovered_exactly(case, tmp_path):
    document, _span = unpack(case, tmp_path)
    streams = streams_of(tmp_path, document)
    totals = histlog.job_totals(document, 0)
    raw = {(s.host, s.job, s.direction): int(np.sum(s.rows)) for s in streams}
    # fio 3.33's server-side double subtraction: the raw rows sum to more than json+
    # wherever a stream has three rows or more.
    corrupted = [key for key, total in raw.items() if total > totals[key].counts.sum()]
    assert corrupted, "the fio bug this module works around was not seen"
    assert histlog.reconcile(streams, totals) == []
    for stream in streams:
        want = totals[(stream.host, stream.job, stream.direction)].counts
        assert (stream.summed() == want).all(), "rows + final window == json+, bin for bin"
        assert all((row >= 0).all() for row in stream.rows)
        assert (stream.final >= 0).all()
        if len(stream.rows) >= 3:
            assert stream.recovered


def test_rows_of_a_fixed_fio_pass_through_unchanged(tmp_path):
    document, _span = unpack("randrw-w2", tmp_path)
    streams = streams_of(tmp_path, document)
    totals = histlog.job_totals(document, 0)
    histlog.reconcile(streams, totals)
    # Write the recovered (true) rows back as a fio without the bug would have.
    for path in tmp_path.glob("fioloadgen_clat_hist.*"):
        path.unlink()
    for host in {s.host for s in streams}:
        rows = sorted(
            (time, 0 if s.direction == "read" else 1, bs, row)
            for s in streams
            if s.host == host
            for time, bs, row in zip(s.times_ms, s.block_sizes, s.rows, strict=True)
        )
        text = "".join(
            f"{t}, {d}, {bs}, " + ", ".join(str(int(v)) for v in row) + "\n"
            for t, d, bs, row in rows
        )
        (tmp_path / f"fioloadgen_clat_hist.1.log.{host}").write_text(text)
    fixed = streams_of(tmp_path, document)
    assert histlog.reconcile(fixed, totals) == []
    assert not any(stream.recovered for stream in fixed)
    for stream in fixed:
        assert (stream.summed() == totals[(stream.host, stream.job, stream.direction)].counts).all()


def test_rows_that_cannot_add_up_are_dropped_and_said(tmp_path):
    document, _span = unpack("randrw-w2", tmp_path)
    streams = streams_of(tmp_path, document)
    totals = histlog.job_totals(document, 0)
    victim = streams[0]
    # A row with more I/Os in one bin than json+ has in all: no reading makes it right.
    column = int(np.flatnonzero(totals[(victim.host, victim.job, victim.direction)].counts)[0])
    victim.rows[-1][column] += 10**9
    problems = histlog.reconcile(streams, totals)
    assert problems == [
        f"{victim.host} job {victim.job} {victim.direction}: the log's rows do not add up to"
        " fio's json+ histogram"
    ]
    assert victim.rows == [] and victim.total == int(
        totals[(victim.host, victim.job, victim.direction)].counts.sum()
    )


@pytest.mark.parametrize("case", CASES)
def test_the_intervals_sum_to_the_runs_json_plus_histogram(case, tmp_path):
    timeline, document = timeline_of_case(case, tmp_path)
    result = parse_result(document)
    for direction in timeline.directions:
        merged = getattr(result, direction).latency
        want = histlog.coarsen(histlog.bins_to_counts(merged.bins), 0, timeline.bins_coarseness)
        assert (timeline.bins(direction).sum(axis=0) == want).all()
        assert sum(timeline.merged(direction)["ios"]) == merged.samples


def test_a_merged_interval_is_the_union_of_its_workers_samples(tmp_path):
    timeline, document = timeline_of_case("randrw-w2", tmp_path)
    # Rebuild one interval from the workers' own rows, as raw latency samples (value,
    # count): the merged percentiles are those of the union, never an average.
    streams = streams_of(tmp_path, document)
    histlog.reconcile(streams, histlog.job_totals(document, 0))
    interval = timeline.intervals // 2
    start_ms = timeline.document["client_start_ms"] + timeline.start_s * 1000
    union: Counter[int] = Counter()
    for stream in streams:
        if stream.direction != "read":
            continue
        for time_ms, row in zip(stream.times_ms, stream.rows, strict=True):
            index = int(np.ceil((time_ms - start_ms) / timeline.interval_ms)) - 1
            if index == interval:
                for column in np.flatnonzero(row):
                    union[histlog.BUCKET_VALUES_NS[column]] += int(row[column])
    assert sum(union.values()) == timeline.merged("read")["ios"][interval]
    for name, percentile in LADDER:
        stored = timeline.merged("read")[name][interval]
        if sum(union.values()) < min_ios(percentile):
            assert stored is None
            continue
        assert stored == pytest.approx(percentile_from_bins(union, percentile) / 1e6, rel=1e-9)
    per_worker = [timeline.workers[name]["read"]["ios"][interval] for name in timeline.workers]
    assert sum(per_worker) == timeline.merged("read")["ios"][interval]


def test_a_percentile_needs_ten_over_one_minus_p_ios():
    assert [min_ios(p) for p in (50, 90, 99, 99.9)] == [20, 100, 1000, 10000]
    counts = np.zeros(histlog.PLAT_NR, dtype=np.int64)
    counts[500] = 999
    stats = percentiles_of(counts, 0)
    assert stats["p50"] is not None and stats["p90"] is not None
    assert stats["p99"] is None and stats["p999"] is None
    assert stats["max"] == pytest.approx(histlog.BUCKET_VALUES_NS[500] / 1e6)
    counts[500] += 1
    assert percentiles_of(counts, 0)["p99"] is not None


def test_coarse_bins_stay_within_their_stated_error():
    rng = np.random.default_rng(7)
    counts = np.zeros(histlog.PLAT_NR, dtype=np.int64)
    np.add.at(counts, rng.integers(300, 900, size=20000), 1)
    exact = percentiles_of(counts, 0)
    for coarseness in range(1, 7):
        coarse = percentiles_of(histlog.coarsen(counts, 0, coarseness), coarseness)
        for name, _ in LADDER:
            error = abs(coarse[name] - exact[name]) / exact[name]
            # Half a coarse column on each side of the true bucket's middle.
            assert error <= 2 * histlog.worst_relative_error(coarseness) + 1e-9


def test_jobs_are_numbered_per_host_in_reporting_order(tmp_path):
    document, _span = unpack("phases-w2", tmp_path)
    totals = histlog.job_totals(document, 0)
    hosts = {host for host, _job, _direction in totals}
    for host in hosts:
        # numjobs=2 readers are jobs 1 and 2, the stonewalled writer job 3.
        assert totals[(host, 1, "read")].counts.sum() > 0
        assert totals[(host, 3, "write")].counts.sum() > 0
        assert totals[(host, 3, "read")].counts.sum() == 0


def test_a_run_past_the_read_budget_keeps_no_timeline(tmp_path):
    unpack("randrw-w2", tmp_path)
    reader = histlog.HistLogReader(tmp_path, limit_bytes=1000)
    with pytest.raises(histlog.LogTooLarge, match="histogram logs exceed"):
        reader.streams_of(reader.hosts[0])


def test_every_interval_at_once_reads_the_same_ladder_as_one_at_a_time():
    rng = np.random.default_rng(3)
    matrix = np.zeros((40, histlog.PLAT_NR >> 1), dtype=np.int64)
    for row in range(40):
        size = int(rng.choice([0, 5, 150, 5000, 20000]))
        np.add.at(matrix[row], rng.integers(100, 700, size=size), 1)
    from pytest_fioloadgen.fio.timeline import ladder_rows

    assert ladder_rows(matrix, 1) == [percentiles_of(row, 1) for row in matrix]
