"""A run's timeline as every view draws it: the report's SVG, the site's and the UI's run
page (through the run document) read this one shape, made from the stored timeline and
the stored findings (never judged again here).

``{"interval_s": 0.25, "times_s": [end of each interval], "directions": {"read": {"iops":
[...], "p50": [...], "p90": ..., "p99": ..., "p999": ..., "max": ...}}, "workers": {name:
{"iops": [...], "p99": [...]}}, "marks": [{"kind": "stall" | "straggler" | "skew" |
"fault", "from_s": a, "to_s": b, "label": text}], "partial": [index...], "error_pct": e}``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..fio.results import PHASE_BASE_METRICS
from ..fio.timeline import LADDER, Timeline

#: The finding codes that mark a span of the timeline, and how.
_MARKS = {"TL004": "stall", "TL002": "straggler"}


def timeline_view(timeline: Timeline, evidence: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The drawing data of ``timeline`` with the marks of the run's stored evidence."""
    names = [name for name, _ in LADDER] + ["max"]
    directions: dict[str, Any] = {}
    for direction in timeline.directions:
        merged = timeline.merged(direction)
        entry: dict[str, Any] = {"iops": [round(v, 1) for v in timeline.iops(direction)]}
        for name in names:
            entry[name] = list(merged.get(name, []))
        directions[direction] = entry
    workers: dict[str, Any] = {}
    for name, worker in sorted(timeline.workers.items()):
        iops = [ios / timeline.interval_s for ios in timeline.worker_ios(name)]
        p99: list[float | None] = [None] * timeline.intervals
        for direction in timeline.directions:
            for index, value in enumerate(worker.get(direction, {}).get("p99", [])):
                known = p99[index]
                if value is not None and (known is None or value > known):
                    p99[index] = value
        workers[name] = {"iops": [round(v, 1) for v in iops], "p99": p99}
    marks: list[dict[str, Any]] = []
    stored = (evidence or {}).get("timeline") or {}
    for finding in stored.get("findings", []):
        kind = _MARKS.get(str(finding.get("code")))
        span = finding.get("span_s")
        if kind and span:
            marks.append(
                {"kind": kind, "from_s": span[0], "to_s": span[1], "label": finding["message"]}
            )
    for event in (evidence or {}).get("faults") or []:
        start = event.get("injected_s")
        if start is None:
            continue
        end = event.get("undone_s") if event.get("reversible", True) else None
        if end is None:
            end = start + (event.get("planned_for_s") or timeline.interval_s)
        marks.append({"kind": "fault", "from_s": start, "to_s": end, "label": event["describe"]})
    phases = (evidence or {}).get("phases") or {}
    for phase in phases.get("phases", []):
        if phase["name"] == "recovery" and phase.get("span_s"):
            recovered = phases.get("recovery_s")
            label = f"recovered in {recovered:.2f} s" if recovered is not None else "not recovered"
            marks.append(
                {
                    "kind": "recovery",
                    "from_s": phase["span_s"][0],
                    "to_s": phase["span_s"][1],
                    "label": label,
                }
            )
    window = stored.get("common_window")
    if window:
        marks.append(
            {
                "kind": "skew",
                "from_s": timeline.end_s(int(window[0]) - 1),
                "to_s": timeline.end_s(int(window[1])),
                "label": "the workers' common window (merged figures are over it)",
            }
        )
    partial = sorted({int(i) for w in timeline.workers.values() for i in w.get("final", [])})
    return {
        "interval_s": timeline.interval_s,
        "times_s": [round(timeline.end_s(index), 3) for index in range(timeline.intervals)],
        "directions": directions,
        "workers": workers,
        "marks": marks,
        "partial": partial,
        "error_pct": timeline.document.get("error_pct"),
        "phases": phase_rows(evidence),
    }


#: The phase table's columns: the phase metrics without their phase prefix.
PHASE_COLUMNS = PHASE_BASE_METRICS


def phase_rows(evidence: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per phase of the run's stored phases: its span and its metrics."""
    stored = (evidence or {}).get("phases") or {}
    rows = []
    for phase in stored.get("phases", []):
        span = phase.get("span_s")
        rows.append(
            {
                "phase": phase["name"],
                "from_s": span[0] if span else None,
                "to_s": span[1] if span else None,
                **{name: phase.get("metrics", {}).get(name) for name in PHASE_COLUMNS},
            }
        )
    return rows
