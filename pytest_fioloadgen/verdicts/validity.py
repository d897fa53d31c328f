"""Did a run's workers measure one interval, together? And where did the storage stall?

A merged figure is only the storage's when its workers ran at the same time and each did
its share: one worker at 506 IOPS beside another at 3,230, or a worker frozen for 2 s of
a 9 s run, would otherwise pass as "the cluster". Judged from the run's timeline
(fio/timeline.py), each finding has a stable code, like the profile lint's:

* ``TL001 window-skew``: the workers' windows (whole intervals with log rows, the final
  partial window ignored) fail to overlap by more than max(5 %, 2 intervals) of their
  union. The merged figures are then computed over the common window only. Unstable.
* ``TL002 straggler``: a worker's I/O stops or collapses under 10 % of its own median
  rate for STRAGGLER_INTERVALS intervals or more while another worker goes on. Unstable.
* ``TL003 imbalance``: the workers' IOPS vary by more than IMBALANCE_CV_PCT (coefficient
  of variation). A note; ``max_worker_cv`` in the thresholds file makes it a limit.
* ``TL004 stall``: intervals whose p99 exceeds ``stall_factor`` x the series' median
  interval p99, or whose IOPS fall under 10 % of the median, per worker and merged.
* ``TL005 clock``: a host's clock offset is too uncertain to judge window skew.

The timeline only sees completions, so nothing shorter than the run's own p99 I/O
latency is evidence: a window's first row shows up to one slow I/O after the worker
started measuring, and a span without completions no longer than that slow I/O is how
the I/O's latency falls on the grid, not a collapse. Seen on this project's own suite
(1 MiB reads, 4 workers, p99 450 ms on 250 ms intervals): one worker's first completion
came 3 intervals after the others' although fio measured the same 10 s for it and it
ended with them, and every worker showed single intervals with no I/O. Both edges of
skew and every no-I/O span are therefore judged beyond that latency.

A straggler or a stall inside a window the case itself disturbed (an injected fault) is
expected: it is still named, but makes nothing unstable.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import numbers
from ..fio.results import PERCENTILES
from ..fio.timeline import Timeline, percentiles_of
from .thresholds import IMBALANCE_METRIC

#: Whole-run IOPS share under which a worker's bar is marked unbalanced in charts.
UNBALANCED_SHARE = 0.8
#: The per-worker IOPS coefficient of variation (percent) above which a run is noted.
IMBALANCE_CV_PCT = 25.0
#: A rate under this share of the series' median is a collapse.
COLLAPSE_SHARE = 0.1
#: A straggler collapses for at least this many consecutive intervals.
STRAGGLER_INTERVALS = 3
#: Default stall factor: an interval p99 above k x the median interval p99.
DEFAULT_STALL_FACTOR = 10.0
#: Window skew tolerance: max(share of the union, intervals).
SKEW_SHARE = 0.05
SKEW_INTERVALS = 2


def worker_cv_pct(values: Sequence[float]) -> float | None:
    """The coefficient of variation (percent) of per-worker figures; None under 2."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    return 100.0 * statistics.pstdev(values) / mean if mean else 0.0


def unbalanced(values: Sequence[float]) -> list[bool]:
    """Which workers did less than UNBALANCED_SHARE of the mean (the charts' marker)."""
    if len(values) < 2:
        return [False] * len(values)
    mean = statistics.fmean(values)
    return [bool(mean) and value < UNBALANCED_SHARE * mean for value in values]


@dataclass(frozen=True)
class Finding:
    """One thing the timeline says about a run's validity."""

    code: str
    name: str
    message: str
    #: Whether it makes the run unstable (the measurement is not reliable).
    unstable: bool = False
    #: Seconds since the client started (a stall's or straggler's span), if any.
    span_s: tuple[float, float] | None = None
    worker: str | None = None

    def line(self) -> str:
        return f"{self.code} {self.name}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "unstable": self.unstable,
            "span_s": list(self.span_s) if self.span_s else None,
            "worker": self.worker,
        }


@dataclass(frozen=True)
class TimelineJudgement:
    """What the timeline says: findings, the metrics it adds, and the common window the
    merged figures must use when the workers' windows were skewed."""

    findings: tuple[Finding, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: (first, last) interval of the workers' common window, when skew was found.
    common_window: tuple[int, int] | None = None

    @property
    def unstable_reasons(self) -> list[str]:
        return [finding.line() for finding in self.findings if finding.unstable]

    @property
    def skew_only(self) -> bool:
        """Whether window skew alone made the run unstable: the workers started apart
        (the host, fio's client starting servers one by one), not the storage."""
        unstable = [finding for finding in self.findings if finding.unstable]
        return bool(unstable) and all(finding.code == "TL001" for finding in unstable)

    def notes(self) -> list[str]:
        return [f"timeline {finding.line()}" for finding in self.findings]

    def evidence(self) -> dict[str, Any]:
        return {
            "findings": [finding.as_dict() for finding in self.findings],
            "common_window": list(self.common_window) if self.common_window else None,
        }


def _within(span: tuple[float, float], windows: Iterable[tuple[float, float]]) -> bool:
    """Whether ``span`` overlaps any expected (fault) window."""
    return any(span[0] < end and span[1] > start for start, end in windows)


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """The [first, last] index pairs of consecutive True flags."""
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs.append((start, index - 1))
            start = None
    return runs


@dataclass(frozen=True)
class _Window:
    """A worker's intervals with log rows: the edges are partial, its finals are not rows."""

    first: int
    last: int
    finals: frozenset[int]

    def inner(self) -> range:
        """Intervals fully inside the window (its partial first and last cut off)."""
        return range(self.first + 1, self.last)


def _windows(timeline: Timeline) -> dict[str, _Window]:
    windows = {}
    for name, worker in timeline.workers.items():
        first, last = worker.get("first"), worker.get("last")
        if first is None or last is None:
            continue
        windows[name] = _Window(int(first), int(last), frozenset(worker.get("final", [])))
    return windows


def measured_span(timeline: Timeline) -> tuple[int, int]:
    """The whole intervals every phase analysis may use: from the earliest worker's
    second interval (its first is partial) to the latest worker's last row."""
    windows = _windows(timeline)
    if not windows:
        return (0, timeline.intervals - 1)
    first = min(window.first for window in windows.values()) + 1
    last = max(window.last for window in windows.values())
    return (min(first, last), last)


def judge(
    timeline: Timeline,
    worker_iops: Sequence[float] = (),
    *,
    stall_factor: float = DEFAULT_STALL_FACTOR,
    expected: Sequence[tuple[float, float]] = (),
    worker_names: Mapping[str, str] | None = None,
) -> TimelineJudgement:
    """Judge a run's timeline (see the module doc). ``worker_iops`` are the workers'
    whole-run IOPS (imbalance); ``expected`` are spans (s since the client started) the
    case disturbed on purpose; ``worker_names`` shows workers by a shorter name."""
    names = dict(worker_names or {})
    windows = _windows(timeline)
    findings: list[Finding] = []
    slow_io_ms = _slow_io_ms(timeline, windows)
    # A gap of slow_io_ms between completions empties at most floor(gap / interval) whole
    # intervals, and shows a window's first row that much later than its start.
    resolution = int(slow_io_ms // timeline.interval_ms)
    skew, common = _skew(timeline, windows, names, slow_io_ms / timeline.interval_ms)
    findings += skew
    findings += _stragglers(timeline, windows, expected, names, resolution)
    stalls, stalled = _stalls(timeline, windows, stall_factor, expected, names, resolution)
    findings += stalls
    cv = worker_cv_pct(worker_iops)
    metrics: dict[str, float] = {"stall_s": round(len(stalled) * timeline.interval_s, 3)}
    for direction in timeline.directions:
        worst = [
            value
            for index, value in enumerate(timeline.merged(direction).get("p99", []))
            if value is not None and index not in _merged_finals(windows)
        ]
        if worst:
            metrics[f"{direction}_lat_worst_p99_ms"] = max(worst)
    if cv is not None:
        metrics[IMBALANCE_METRIC] = round(cv, 2)
        if cv > IMBALANCE_CV_PCT:
            slowest = min(worker_iops)
            findings.append(
                Finding(
                    "TL003",
                    "imbalance",
                    f"the workers' IOPS vary by CV {cv:.0f}% (slowest "
                    f"{numbers.si(slowest)}, fastest {numbers.si(max(worker_iops))})",
                )
            )
    return TimelineJudgement(tuple(findings), metrics, common)


def _merged_finals(windows: Mapping[str, _Window]) -> set[int]:
    return set().union(*(window.finals for window in windows.values()))


def _slow_io_ms(timeline: Timeline, windows: Mapping[str, _Window]) -> float:
    """The run's p99 I/O latency (worst direction, over the workers' windows): spans
    up to this long are below what completions can show."""
    if not windows:
        return 0.0
    span = range(
        min(window.first for window in windows.values()),
        max(window.last for window in windows.values()) + 1,
    )
    p99s = [
        value
        for direction in timeline.directions
        if (value := timeline.percentiles_over(direction, span).get("p99")) is not None
    ]
    return float(max(p99s)) if p99s else 0.0


def _skew(
    timeline: Timeline,
    windows: Mapping[str, _Window],
    names: Mapping[str, str],
    edge_intervals: float,
) -> tuple[list[Finding], tuple[int, int] | None]:
    if len(windows) < 2:
        return [], None
    first = min(window.first for window in windows.values())
    last = max(window.last for window in windows.values())
    common_first = max(window.first for window in windows.values())
    common_last = min(window.last for window in windows.values())
    union = last - first + 1
    overlap = max(0, common_last - common_first + 1)
    tolerance = max(SKEW_SHARE * union, SKEW_INTERVALS)
    uncertain = {
        host: clock["uncertainty_ms"]
        for host, clock in timeline.document.get("hosts", {}).items()
        if float(clock.get("uncertainty_ms", 0.0)) > tolerance * timeline.interval_ms / 2
    }
    if uncertain:
        worst = max(uncertain, key=lambda host: float(uncertain[host]))
        return [
            Finding(
                "TL005",
                "clock",
                f"host {worst}'s clock offset is known within +-{float(uncertain[worst]):.0f}"
                f" ms only, more than the skew tolerance allows"
                f" ({tolerance * timeline.interval_ms / 2:.0f} ms): window skew not judged",
            )
        ], None
    if union - overlap <= tolerance + edge_intervals:
        return [], None
    late = max(windows, key=lambda name: windows[name].first)
    early = min(windows, key=lambda name: windows[name].last)
    shared = f"{timeline.end_s(common_first - 1):.1f}-{timeline.end_s(common_last):.1f} s"
    message = (
        f"the workers measured {overlap} common interval(s) of {union}"
        f" ({timeline.interval_ms} ms each): {names.get(late, late)} started at"
        f" {timeline.end_s(windows[late].first - 1):.1f} s, {names.get(early, early)} stopped at"
        f" {timeline.end_s(windows[early].last):.1f} s"
    )
    if overlap:
        message += f"; merged figures are over the common window {shared} only"
        common = (common_first, common_last)
    else:
        message += "; they never ran together"
        common = None
    return [Finding("TL001", "window-skew", message, unstable=True)], common


def _span(timeline: Timeline, first: int, last: int) -> tuple[float, float]:
    return (round(timeline.end_s(first - 1), 3), round(timeline.end_s(last), 3))


def _stragglers(
    timeline: Timeline,
    windows: Mapping[str, _Window],
    expected: Sequence[tuple[float, float]],
    names: Mapping[str, str],
    resolution: int,
) -> list[Finding]:
    if len(windows) < 2:
        return []
    ios = {name: timeline.worker_ios(name) for name in windows}
    medians = {
        name: statistics.median([ios[name][i] for i in windows[name].inner()] or [0])
        for name in windows
    }
    findings = []
    for name, window in windows.items():
        if medians[name] <= 0:
            continue
        collapsed = [False] * timeline.intervals
        for index in window.inner():
            others_go_on = any(
                ios[other][index] >= 0.5 * medians[other]
                for other in windows
                if other != name and medians[other] > 0
            )
            collapsed[index] = ios[name][index] < COLLAPSE_SHARE * medians[name] and others_go_on
        for first, last in _runs(collapsed):
            if last - first + 1 < max(STRAGGLER_INTERVALS, resolution + 1):
                continue
            span = _span(timeline, first, last)
            low = max(ios[name][first : last + 1]) / timeline.interval_s
            what = "no I/O" if low == 0 else f"at most {numbers.si(low)} IOPS"
            who = names.get(name, name)
            disturbed = _within(span, expected)
            findings.append(
                Finding(
                    "TL002",
                    "straggler",
                    f"{who} fell behind at {span[0]:.1f}-{span[1]:.1f} s: {what} while the"
                    f" others went on (its median {numbers.si(medians[name] / timeline.interval_s)}"
                    " IOPS)" + ("; expected under the injected fault" if disturbed else ""),
                    unstable=not disturbed,
                    span_s=span,
                    worker=name,
                )
            )
    return findings


def _stall_flags(
    ios: Sequence[int], p99: Sequence[float | None], inner: Iterable[int], factor: float
) -> tuple[list[bool], float, float | None]:
    """Which intervals stalled, the median IOPS (per interval) and median p99."""
    inside = list(inner)
    median_ios = float(statistics.median([ios[i] for i in inside])) if inside else 0.0
    p99s = [value for i in inside if (value := p99[i]) is not None]
    median_p99 = float(statistics.median(p99s)) if p99s else None
    flags = [False] * len(ios)
    for index in inside:
        value = p99[index]
        slow = median_p99 is not None and value is not None and value > factor * median_p99
        flags[index] = (median_ios > 0 and ios[index] < COLLAPSE_SHARE * median_ios) or slow
    return flags, median_ios, median_p99


def worst_p99(timeline: Timeline, source: Mapping[str, Any], index: int) -> float | None:
    """The highest p99 over the directions of ``source`` (merged or one worker's series)
    in interval ``index``; None where no direction has one."""
    values = [
        source.get(direction, {}).get("p99", [None] * timeline.intervals)[index]
        for direction in timeline.directions
    ]
    present = [float(value) for value in values if value is not None]
    return max(present) if present else None


def _stalls(
    timeline: Timeline,
    windows: Mapping[str, _Window],
    factor: float,
    expected: Sequence[tuple[float, float]],
    names: Mapping[str, str],
    resolution: int,
) -> tuple[list[Finding], set[int]]:
    """Stalls on the merged timeline and on each worker's; the stalled intervals."""
    findings: list[Finding] = []
    stalled: set[int] = set()
    series: list[tuple[str | None, list[int], Mapping[str, Any], range]] = []
    if windows:
        first = min(window.first for window in windows.values())
        last = max(window.last for window in windows.values())
        merged = {d: timeline.merged(d) for d in timeline.directions}
        series.append((None, timeline.ios(), merged, range(first + 1, last)))
    for worker, window in windows.items():
        if len(windows) < 2:
            break  # one worker: its timeline is the merged one
        series.append(
            (worker, timeline.worker_ios(worker), timeline.workers[worker], window.inner())
        )
    for name, ios, source, inner in series:
        p99 = [worst_p99(timeline, source, index) for index in range(timeline.intervals)]
        flags, median_ios, median_p99 = _stall_flags(ios, p99, inner, factor)
        for first, last in _runs(flags):
            low = min(ios[first : last + 1])
            slow = [
                p for p in p99[first : last + 1] if p is not None and p > factor * (median_p99 or 0)
            ]
            if not slow and last - first + 1 <= resolution:
                continue  # no completion for less than one slow I/O takes: no evidence
            span = _span(timeline, first, last)
            stalled.update(range(first, last + 1))
            if low < COLLAPSE_SHARE * median_ios:
                what = "no I/O" if low == 0 else f"{numbers.si(low / timeline.interval_s)} IOPS"
                what += f" (median {numbers.si(median_ios / timeline.interval_s)} IOPS)"
            else:
                peak = max(p for p in p99[first : last + 1] if p is not None)
                what = f"p99 {numbers.plain('read_lat_p99_ms', peak)} ms"
                what += f" (median {numbers.plain('read_lat_p99_ms', median_p99 or 0)} ms)"
            where = f" on {names.get(name, name)}" if name else ""
            disturbed = _within(span, expected)
            findings.append(
                Finding(
                    "TL004",
                    "stall",
                    f"stall at {span[0]:.1f}-{span[1]:.1f} s{where}: {what}"
                    + ("; expected under the injected fault" if disturbed else ""),
                    span_s=span,
                    worker=name,
                )
            )
    return findings, stalled


def window_metrics(timeline: Timeline, window: tuple[int, int]) -> dict[str, float]:
    """The merged figures over intervals ``window`` (first, last) only: rates from their
    I/Os, percentiles from their summed bins (within the stored bins' error)."""
    first, last = window
    indices = range(first, last + 1)
    seconds = len(indices) * timeline.interval_s
    metrics: dict[str, float] = {}
    total_iops = 0.0
    total_bw = 0.0
    for direction in timeline.directions:
        merged = timeline.merged(direction)
        ios = sum(int(merged.get("ios", [0] * timeline.intervals)[i]) for i in indices)
        io_bytes = sum(int(merged.get("bytes", [0] * timeline.intervals)[i]) for i in indices)
        iops = ios / seconds if seconds else 0.0
        bw = io_bytes / seconds / 2**20 if seconds else 0.0
        metrics[f"{direction}_iops"] = iops
        metrics[f"{direction}_bw_mib_s"] = bw
        total_iops += iops
        total_bw += bw
        matrix = timeline.bins(direction)[first : last + 1].sum(axis=0)
        ladder = percentiles_of(matrix, timeline.bins_coarseness, PERCENTILES, enough_ios=False)
        for name, value in ladder.items():
            if value is not None:
                metrics[f"{direction}_lat_{name}_ms"] = value
    metrics["iops"] = total_iops
    metrics["bw_mib_s"] = total_bw
    return metrics
