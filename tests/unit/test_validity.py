"""Per-worker validity and stalls judged from a timeline (verdicts/validity.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pytest_fioloadgen.fio.timeline import (
    STORED_COARSENESS,
    Timeline,
    _encode_bins,
    column_values_ns,
)
from pytest_fioloadgen.verdicts.validity import judge, unbalanced, worker_cv_pct

INTERVAL_MS = 250


def series(ios: Sequence[int], p99: Sequence[float | None] | None = None) -> dict:
    p99 = list(p99) if p99 is not None else [0.1 if n >= 1000 else None for n in ios]
    return {"ios": list(ios), "bytes": [n * 4096 for n in ios], "p99": p99}


def timeline(
    workers: dict[str, Sequence[int]],
    *,
    firsts: dict[str, int] | None = None,
    lasts: dict[str, int] | None = None,
    p99: dict[str, Sequence[float | None]] | None = None,
    hosts: dict[str, dict] | None = None,
    latency_ms: float | None = None,
) -> Timeline:
    count = len(next(iter(workers.values())))
    merged = [sum(values[i] for values in workers.values()) for i in range(count)]
    documents = {}
    for name, ios in workers.items():
        first = (firsts or {}).get(name, 0)
        last = (lasts or {}).get(name, count - 2)
        documents[name] = {
            "first": first,
            "last": last,
            "final": [last + 1],
            "read": series(ios, (p99 or {}).get(name)),
        }
    merged_p99 = (p99 or {}).get("merged")
    bins = {}
    if latency_ms is not None:
        # Every I/O of the run at one latency: the run's p99 is that latency.
        column = int(np.searchsorted(column_values_ns(STORED_COARSENESS), latency_ms * 1e6))
        table = {}
        for index, ios in enumerate(merged):
            counts = np.zeros(column_values_ns(STORED_COARSENESS).size, dtype=np.int64)
            counts[column] = ios
            table[index] = counts
        bins["read"] = _encode_bins(table, 0, count, STORED_COARSENESS)
    return Timeline(
        {
            "interval_ms": INTERVAL_MS,
            "intervals": count,
            "start_s": 1.0,
            "merged": {"read": series(merged, merged_p99)},
            "workers": documents,
            "hosts": hosts or {},
            "bins": bins,
            "bins_coarseness": STORED_COARSENESS,
        }
    )


STEADY = [2000] * 24


def test_a_steady_run_says_nothing_but_its_metrics():
    judged = judge(timeline({"w1": STEADY, "w2": STEADY}), [8000, 8000])
    assert judged.findings == ()
    assert judged.metrics["stall_s"] == 0
    assert judged.metrics["worker_iops_cv_pct"] == 0
    assert judged.metrics["read_lat_worst_p99_ms"] == 0.1


def test_a_frozen_worker_is_a_straggler_and_a_stall_at_the_right_time():
    frozen = [2000] * 10 + [0] * 8 + [2000] * 6  # 2 s without I/O from 3.5 s
    judged = judge(
        timeline({"w1": STEADY, "w2": frozen}), [8000, 5300], worker_names={"w2": "local-w1"}
    )
    codes = {finding.code: finding for finding in judged.findings}
    straggler, stall = codes["TL002"], codes["TL004"]
    assert straggler.unstable and straggler.span_s == (3.5, 5.5)
    assert "local-w1 fell behind at 3.5-5.5 s: no I/O" in straggler.message
    assert stall.worker == "w2" and stall.span_s == (3.5, 5.5)
    assert "stall at 3.5-5.5 s on local-w1: no I/O (median 8.00k IOPS)" in stall.message
    assert judged.metrics["stall_s"] == 2.0
    assert judged.unstable_reasons == [straggler.line()]


def test_a_straggler_inside_an_injected_fault_is_expected():
    frozen = [2000] * 10 + [0] * 8 + [2000] * 6
    judged = judge(timeline({"w1": STEADY, "w2": frozen}), expected=[(3.4, 5.6)])
    assert judged.unstable_reasons == []
    assert all("expected under the injected fault" in f.message for f in judged.findings)


def test_a_short_dip_is_no_straggler():
    dipped = [2000] * 10 + [0] * 2 + [2000] * 12
    judged = judge(timeline({"w1": STEADY, "w2": dipped}))
    assert not any(f.code == "TL002" for f in judged.findings)


def test_skewed_windows_are_unstable_and_name_the_common_window():
    late = [0] * 6 + [2000] * 18
    judged = judge(timeline({"w1": STEADY, "w2": late}, firsts={"w2": 6}))
    (skew,) = [f for f in judged.findings if f.code == "TL001"]
    assert skew.unstable
    assert "measured 17 common interval(s) of 23" in skew.message
    assert judged.common_window == (6, 22)


def test_skew_within_two_intervals_is_tolerated():
    late = [0] * 2 + [2000] * 22
    judged = judge(timeline({"w1": STEADY, "w2": late}, firsts={"w2": 2}))
    assert judged.common_window is None and not judged.findings


def test_a_first_row_late_by_one_slow_io_is_no_skew():
    # Seen on the shipped suite: 1 MiB reads with p99 450 ms on 250 ms intervals; one of
    # four workers' first completion came 3 intervals after the others' (it ended with
    # them: fio measured the same 10 s). A window starts at its first completion, which
    # comes up to one slow I/O after the worker began measuring.
    slow = [40] * 24
    late = [0] * 3 + [40] * 21
    workers = {"w1": slow, "w2": slow, "w3": late}
    judged = judge(timeline(workers, firsts={"w3": 3}, latency_ms=450))
    assert not [f for f in judged.findings if f.code == "TL001"]
    # The same late start with fast I/O is skew: nothing explains it but a late start.
    judged = judge(timeline(workers, firsts={"w3": 3}, latency_ms=2))
    assert [f for f in judged.findings if f.code == "TL001"]


def test_a_gap_shorter_than_a_slow_io_is_no_stall():
    # 40 I/Os per 250 ms interval at 450 ms each: a single interval without a completion
    # is how the latency falls on the grid; with 2 ms I/Os it is a stall.
    gappy = [40] * 10 + [0] + [40] * 13
    workers = {"w1": [40] * 24, "w2": gappy}
    assert not judge(timeline(workers, latency_ms=450)).findings
    judged = judge(timeline(workers, latency_ms=2))
    assert [f.span_s for f in judged.findings if f.code == "TL004"] == [(3.5, 3.75)]


def test_an_uncertain_clock_is_said_and_skew_not_judged():
    late = [0] * 6 + [2000] * 18
    hosts = {"a": {"uncertainty_ms": 0}, "b": {"uncertainty_ms": 1500}}
    judged = judge(timeline({"w1": STEADY, "w2": late}, firsts={"w2": 6}, hosts=hosts))
    (clock,) = [f for f in judged.findings if f.code in ("TL001", "TL005")]
    assert clock.code == "TL005" and "host b" in clock.message and not clock.unstable


def test_a_latency_spike_is_a_stall_and_the_worst_interval_p99_a_metric():
    p99 = [0.1] * 24
    p99[12] = 5.0
    judged = judge(timeline({"w1": STEADY}, p99={"w1": p99, "merged": p99}))
    (stall,) = judged.findings
    assert stall.code == "TL004" and stall.span_s == (4.0, 4.25)
    assert "p99 5.00 ms (median 0.100 ms)" in stall.message
    assert judged.metrics["read_lat_worst_p99_ms"] == 5.0
    assert judged.metrics["stall_s"] == 0.25


def test_the_stall_factor_is_configurable():
    p99 = [0.1] * 24
    p99[12] = 0.5
    assert judge(timeline({"w1": STEADY}, p99={"w1": p99, "merged": p99})).findings == ()
    judged = judge(timeline({"w1": STEADY}, p99={"w1": p99, "merged": p99}), stall_factor=4)
    assert [f.code for f in judged.findings] == ["TL004"]


def test_imbalance_is_noted_above_its_cv_and_measured_always():
    judged = judge(timeline({"w1": STEADY, "w2": STEADY}), [506, 3230])
    (imbalance,) = judged.findings
    assert imbalance.code == "TL003" and not imbalance.unstable
    assert judged.metrics["worker_iops_cv_pct"] == pytest.approx(72.9, abs=0.1)


def test_one_definition_of_unbalanced_for_notes_and_charts():
    assert worker_cv_pct([100.0]) is None
    assert worker_cv_pct([100.0, 100.0]) == 0
    assert unbalanced([1000, 1000, 700]) == [False, False, True]
