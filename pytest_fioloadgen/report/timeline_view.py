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
    }
