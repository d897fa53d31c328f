"""A run under a fault, in phases: before, during, recovery, after.

From the run's timeline (fio/timeline.py) and the fault's recorded times (seconds since
the client started, the timeline's clock):

* ``before``: the whole intervals before the fault was injected (the run's first, partial
  interval left out);
* ``during``: the whole intervals between the injection and the undo (a fault without an
  undo, like a killed worker: its ``for`` window, or to the end);
* ``recovery``: from the undo until recovered; ``after``: the rest.

The interval in which the fault starts, and the one in which it is undone, are part one
phase, part the next: they are in no phase (a phase's figures are never a blend).

*Recovered* means K consecutive intervals (default 3) inside the ``before`` phase's own
interval-to-interval range (its p5-p95, for IOPS and, where intervals have a p99, for
p99): no fixed tolerance, the storage's own steadiness before the fault. ``recovery_s``
runs from the undo to the end of the first of those K intervals (at least one interval);
None, with "not recovered within N s", when that never happens.

Each phase's rates come from its intervals' I/Os, its latencies from its intervals' summed
histograms (exact at interval resolution; means within the stored bins' width).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import numbers
from ..fio.results import PHASES
from ..fio.timeline import Timeline, column_values_ns, percentiles_of
from .validity import worst_p99

#: Consecutive in-band intervals that make a recovery.
RECOVERED_INTERVALS = 3
#: The band of the before phase: these percentiles of its intervals.
BAND = (5.0, 95.0)


@dataclass(frozen=True)
class Phase:
    name: str
    #: Interval indices [first, last] (None: the phase is empty).
    span: tuple[int, int] | None
    metrics: Mapping[str, float] = field(default_factory=dict)

    def as_dict(self, timeline: Timeline) -> dict[str, Any]:
        seconds = None
        if self.span is not None:
            seconds = [timeline.end_s(self.span[0] - 1), timeline.end_s(self.span[1])]
        return {"name": self.name, "span_s": seconds, "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class PhaseAnalysis:
    """The phases of a run around its (first) fault and the metrics they give."""

    fault: str
    phases: tuple[Phase, ...]
    recovery_s: float | None
    dip_pct: float | None
    #: [start, end] seconds the case disturbed on purpose (stalls inside are expected).
    disturbed_s: tuple[float, float]
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        """The flat phase metrics: ``<phase>_<metric>``, ``dip_pct``, ``recovery_s``."""
        flat: dict[str, float] = {}
        for phase in self.phases:
            for name, value in phase.metrics.items():
                flat[f"{phase.name}_{name}"] = value
        if self.dip_pct is not None:
            flat["dip_pct"] = round(self.dip_pct, 2)
        if self.recovery_s is not None:
            flat["recovery_s"] = round(self.recovery_s, 3)
        return flat

    def evidence(self, timeline: Timeline) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "phases": [phase.as_dict(timeline) for phase in self.phases],
            "recovery_s": self.recovery_s,
            "dip_pct": self.dip_pct,
            "disturbed_s": list(self.disturbed_s),
            "notes": list(self.notes),
        }

    def phase(self, name: str) -> Phase:
        return next(phase for phase in self.phases if phase.name == name)


def phase_metrics(timeline: Timeline, first: int, last: int) -> dict[str, float]:
    """IOPS, bandwidth, and mean and p99 latency per direction over intervals
    [first, last]."""
    indices = list(range(first, last + 1))
    seconds = len(indices) * timeline.interval_s
    metrics: dict[str, float] = {}
    iops = bw = 0.0
    for direction in timeline.directions:
        merged = timeline.merged(direction)
        ios = sum(int(merged["ios"][i]) for i in indices)
        iops += ios / seconds
        bw += sum(int(merged.get("bytes", [0] * timeline.intervals)[i]) for i in indices) / seconds
        counts = timeline.bins(direction)[first : last + 1].sum(axis=0)
        if not counts.any():
            continue
        values = column_values_ns(timeline.bins_coarseness)
        mean_ns = float(np.dot(counts, values) / counts.sum())
        metrics[f"{direction}_lat_mean_ms"] = round(mean_ns / 1e6, 6)
        p99 = percentiles_of(counts, timeline.bins_coarseness, (("p99", 99.0),), enough_ios=False)
        if p99["p99"] is not None:
            metrics[f"{direction}_lat_p99_ms"] = p99["p99"]
    metrics["iops"] = round(iops, 3)
    metrics["bw_mib_s"] = round(bw / 2**20, 6)
    return metrics


def _band(values: Sequence[float]) -> tuple[float, float] | None:
    if not values:
        return None
    low, high = np.percentile(np.asarray(values, dtype=float), BAND)
    return float(low), float(high)


def _interval_p99(timeline: Timeline, index: int) -> float | None:
    merged = {direction: timeline.merged(direction) for direction in timeline.directions}
    return worst_p99(timeline, merged, index)


def analyse(
    timeline: Timeline,
    event: Mapping[str, Any],
    *,
    measured: tuple[int, int],
    recovered_intervals: int = RECOVERED_INTERVALS,
) -> PhaseAnalysis | None:
    """The phases around a stored fault event (FaultEvent.as_dict) on ``timeline``;
    ``measured`` is the [first, last] interval of whole measurement (partial edges and
    final windows left out). None when the fault was never injected."""
    injected = event.get("injected_s")
    if injected is None:
        return None
    first, last = measured
    interval = timeline.interval_s
    planned = event.get("planned_for_s")
    undone = event.get("undone_s") if event.get("reversible", True) else None
    if undone is None:
        undone = injected + planned if planned is not None else timeline.end_s(last)
    start_index = timeline.index_at(injected)
    undo_index = max(start_index, timeline.index_at(undone))
    notes: list[str] = []
    before = (first, start_index - 1) if start_index - 1 >= first else None
    if undo_index - 1 >= start_index + 1:
        during: tuple[int, int] | None = (start_index + 1, min(undo_index - 1, last))
    else:
        # Shorter than two intervals: its own intervals, blended as they are.
        during = (start_index, min(undo_index, last)) if start_index <= last else None
        notes.append("the fault is shorter than two intervals: its phase includes its edges")
    iops = timeline.iops()
    recovered_at: int | None = None
    if before is not None:
        band_iops = _band(iops[before[0] : before[1] + 1])
        p99s = [_interval_p99(timeline, i) for i in range(before[0], before[1] + 1)]
        band_p99 = _band([p for p in p99s if p is not None]) if all(p99s) else None
        streak = 0
        for index in range(undo_index + 1, last + 1):
            inside = band_iops is not None and band_iops[0] <= iops[index] <= band_iops[1]
            p99 = _interval_p99(timeline, index)
            if band_p99 is not None and p99 is not None:
                inside = inside and band_p99[0] <= p99 <= band_p99[1]
            streak = streak + 1 if inside else 0
            if streak == recovered_intervals:
                recovered_at = index - recovered_intervals + 1
                break
    else:
        notes.append("no whole interval before the fault: nothing to recover to")
    if recovered_at is not None:
        recovery = (undo_index + 1, recovered_at) if recovered_at > undo_index else None
        after = (recovered_at + 1, last) if recovered_at < last else None
        recovery_s: float | None = max(interval, timeline.end_s(recovered_at) - undone)
    else:
        recovery = (undo_index + 1, last) if undo_index < last else None
        after = None
        recovery_s = None
        if before is not None:
            notes.append(
                f"not recovered within {max(0.0, timeline.end_s(last) - undone):.1f} s"
                f" ({recovered_intervals} intervals in the before phase's p5-p95 range)"
            )
    spans = {"before": before, "during": during, "recovery": recovery, "after": after}
    phases = tuple(
        Phase(name, span, phase_metrics(timeline, span[0], span[1]) if span else {})
        for name in PHASES
        for span in (spans[name],)
    )
    dip: float | None = None
    base = phases[0].metrics.get("iops")
    disturbed = [iops[i] for i in range(start_index, (recovery or during or (0, -1))[1] + 1)]
    if base and disturbed:
        dip = max(0.0, 100.0 * (1.0 - min(disturbed) / base))
    ends = timeline.end_s(recovered_at) if recovered_at is not None else timeline.end_s(last)
    return PhaseAnalysis(
        fault=str(event.get("describe") or event.get("fault")),
        phases=phases,
        recovery_s=recovery_s,
        dip_pct=dip,
        disturbed_s=(float(injected), float(max(ends, undone))),
        notes=tuple(notes),
    )


def phase_line(stored: Mapping[str, Any]) -> str:
    """The stored phases (PhaseAnalysis.evidence) in one line: ``throttle-target@3s for
    3s: p99 before 0.10 ms, during 99 ms, IOPS -99 %, recovered in 0.5 s``."""
    metrics = {phase["name"]: phase.get("metrics", {}) for phase in stored.get("phases", [])}
    before, during = metrics.get("before", {}), metrics.get("during", {})
    parts = []
    p99_name = next(
        (f"{d}_lat_p99_ms" for d in ("read", "write") if f"{d}_lat_p99_ms" in before), None
    )
    if p99_name is not None and p99_name in during:
        parts.append(
            f"p99 before {numbers.latency(before[p99_name])}, during "
            f"{numbers.latency(during[p99_name])}"
        )
    if before.get("iops") and "iops" in during:
        change = 100.0 * (during["iops"] - before["iops"]) / before["iops"]
        parts.append(f"IOPS {change:+.0f} %")
    recovery = stored.get("recovery_s")
    if recovery is not None:
        parts.append(f"recovered in {recovery:.1f} s")
    else:
        parts.extend(list(stored.get("notes", []))[-1:] or ["not recovered"])
    return f"{stored.get('fault', 'fault')}: " + ", ".join(parts)
