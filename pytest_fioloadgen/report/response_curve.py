"""Response curves of swept cases: throughput against latency, one point per queue depth.

A sweep over ``iodepth`` (or ``numjobs``) shows how a target answers more concurrent
requests: throughput first grows, then flattens while latency keeps growing (Little's
law: at saturation the mean latency grows with the queue). The **knee** is the last point
before latency grows faster than throughput: from there on, more queue buys more waiting,
not more work. Curves are drawn per test, profile, worker count, target and the other
overrides (a ``bs`` axis makes one curve per block size), from the stored metrics of each
case (the mean over its repeats).

The run pages (site and UI) draw the curve a stored run is a point of: its sweep is kept
with it (RunRecord.sweep), and its siblings are the runs of the same session on the same
sweep (``sweep_document``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pygal

from ..cases import CaseOutcome
from ..exceptions import FioLoadgenError
from ..identity import case_test_part
from ..profiles import Profile, parse_profile
from ..store.base import RunRecord
from .charts import STYLE

#: Axes a response curve is drawn along, in order of preference.
CURVE_AXES = ("iodepth", "numjobs")
_AXIS_TAG = {"iodepth": "qd", "numjobs": "nj"}


@dataclass(frozen=True)
class CurvePoint:
    """One case of the curve (mean over its repeats)."""

    value: str
    throughput: float
    mean_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Curve:
    title: str
    axis: str
    unit: str
    points: tuple[CurvePoint, ...]

    @property
    def knee(self) -> int | None:
        """Index of the last point before mean latency grows faster than throughput;
        None when it never does (the curve has not saturated)."""
        for index in range(len(self.points) - 1):
            here, there = self.points[index], self.points[index + 1]
            if here.throughput <= 0 or here.mean_ms <= 0:
                continue
            if there.mean_ms / here.mean_ms > there.throughput / here.throughput:
                return index
        return None

    def describe(self) -> str:
        """One line: the points and the knee (for the terminal and alt text)."""
        tag = _AXIS_TAG.get(self.axis, self.axis)
        cells = "  ".join(
            f"{tag}{p.value} {p.throughput:,.0f} {self.unit} {p.mean_ms:.3f}/{p.p99_ms:.3f} ms"
            for p in self.points
        )
        knee = self.knee
        where = f"knee at {tag}{self.points[knee].value}" if knee is not None else "no knee"
        return f"response {self.title}: {cells} ({where})"


#: test, profile, workers, target, the other overrides.
_GroupKey = tuple[str, str, int, str, tuple[tuple[str, str], ...]]


def _direction(outcome: CaseOutcome) -> str:
    metrics = outcome.result.metrics
    return "read" if metrics.get("read_iops", 0.0) >= metrics.get("write_iops", 0.0) else "write"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def curves(outcomes: Sequence[CaseOutcome]) -> list[Curve]:
    """Every response curve the outcomes make: cases swept along an axis of CURVE_AXES,
    grouped by everything else, with at least two points."""
    groups: dict[_GroupKey, dict[str, list[CaseOutcome]]] = {}
    axes: dict[_GroupKey, str] = {}
    for outcome in outcomes:
        case = outcome.case
        axis = next((a for a in CURVE_AXES if a in case.swept), None)
        if axis is None or outcome.record.status != "complete":
            continue
        overrides = dict(case.overrides)
        others = tuple(sorted((k, v) for k, v in overrides.items() if k != axis))
        key = (case.test, case.profile.name, case.workers, case.target, others)
        groups.setdefault(key, {}).setdefault(overrides[axis], []).append(outcome)
        axes[key] = axis
    found = []
    for key, by_value in groups.items():
        if len(by_value) < 2:
            continue
        _test, profile, workers, target, others = key
        first = next(iter(by_value.values()))[0]
        metric, unit = curve_metric(first.profile_as_run)
        direction = _direction(first)
        points = []
        for value, runs in sorted(by_value.items(), key=lambda item: _numeric(item[0])):
            points.append(
                CurvePoint(
                    value,
                    _mean([r.result.metrics.get(metric, 0.0) for r in runs]),
                    _mean([r.result.metrics.get(f"{direction}_lat_mean_ms", 0.0) for r in runs]),
                    _mean([r.result.metrics.get(f"{direction}_lat_p99_ms", 0.0) for r in runs]),
                )
            )
        extra = "".join(f" {k}={v}" for k, v in others)
        title = f"{profile}{extra} w{workers} {target}"
        found.append(Curve(title, axes[key], unit, tuple(points)))
    return found


def curve_metric(profile: Profile | None) -> tuple[str, str]:
    """The throughput a curve plots, and its unit: bandwidth for sequential streams,
    IOPS otherwise (and when the profile is not known)."""
    sequential = profile is not None and (
        profile.is_sequential_read
        or all(
            (opts.get("rw") or "read") in ("write",) for _s, opts in profile.effective_job_options()
        )
    )
    return ("bw_mib_s", "MiB/s") if sequential else ("iops", "IOPS")


@dataclass(frozen=True)
class RunSweep:
    """The sweep a stored run was a point of (RunRecord.sweep), read defensively: runs
    stored before sweeps were kept, or with a malformed entry, have none."""

    axes: dict[str, list[str]]
    point: dict[str, str]
    fixed: dict[str, str]

    @property
    def axis(self) -> str:
        """The axis its response curve is drawn along (CURVE_AXES first)."""
        return next((a for a in CURVE_AXES if a in self.axes), next(iter(self.axes)))


def _text_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def run_sweep(run: RunRecord) -> RunSweep | None:
    """The run's sweep, or None (no sweep, an old run, a malformed entry)."""
    stored = run.sweep or {}
    axes = stored.get("axes")
    if not isinstance(axes, Mapping) or not axes:
        return None
    if not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
        for k, v in axes.items()
    ):
        return None
    point = _text_map(stored.get("point", {}))
    fixed = _text_map(stored.get("fixed", {}))
    if point is None or fixed is None:
        return None
    return RunSweep({k: list(v) for k, v in axes.items()}, point, fixed)


def _same_curve(run: RunRecord, sweep: RunSweep, other: RunRecord) -> bool:
    """Whether ``other`` is a point of ``run``'s curve: the same test, profile, workers,
    backend, target, faults and sweep, at the same values of every other axis."""
    theirs = run_sweep(other)
    if theirs is None or other.status != "complete":
        return False
    axis = sweep.axis
    return (
        case_test_part(other.test_id) == case_test_part(run.test_id)
        and (other.profile_name, other.workers, other.backend, other.target)
        == (run.profile_name, run.workers, run.backend, run.target)
        and other.fingerprint.get("faults") == run.fingerprint.get("faults")
        and theirs.axes == sweep.axes
        and theirs.fixed == sweep.fixed
        and axis in theirs.point
        and {k: v for k, v in theirs.point.items() if k != axis}
        == {k: v for k, v in sweep.point.items() if k != axis}
    )


def _profile_of(run: RunRecord) -> Profile | None:
    try:
        return parse_profile(run.profile_text, name=run.profile_name)
    except FioLoadgenError:
        return None  # a profile with variables or includes: plot IOPS


def sweep_document(run: RunRecord, session_runs: Sequence[RunRecord]) -> dict[str, Any] | None:
    """What a run page shows of the run's sweep (None outside a sweep): its axes and
    point, and the response curve of its siblings in ``session_runs`` (the runs of its
    session, itself included or not): one point per value of the curve's axis, the mean
    over its repeats, as the report's curves are; ``curve`` is None under two points."""
    sweep = run_sweep(run)
    if sweep is None:
        return None
    axis = sweep.axis
    by_value: dict[str, list[RunRecord]] = {}
    members = {other.run_id: other for other in session_runs if _same_curve(run, sweep, other)}
    if run.status == "complete" and axis in sweep.point:
        members[run.run_id] = run
    for other in members.values():
        theirs = run_sweep(other)
        assert theirs is not None  # _same_curve checked it
        by_value.setdefault(theirs.point[axis], []).append(other)
    document: dict[str, Any] = {
        "axes": sweep.axes,
        "point": sweep.point,
        "fixed": sweep.fixed,
        "axis": axis,
        "curve": None,
    }
    if len(by_value) < 2:
        return document
    metric, unit = curve_metric(_profile_of(run))
    reads = run.metrics.get("read_iops", 0.0) or 0.0
    writes = run.metrics.get("write_iops", 0.0) or 0.0
    direction = "read" if reads >= writes else "write"
    points = []
    for value, runs in sorted(by_value.items(), key=lambda item: _numeric(item[0])):
        points.append(
            CurvePoint(
                value,
                _mean([r.metrics.get(metric, 0.0) for r in runs]),
                _mean([r.metrics.get(f"{direction}_lat_mean_ms", 0.0) for r in runs]),
                _mean([r.metrics.get(f"{direction}_lat_p99_ms", 0.0) for r in runs]),
            )
        )
    # Titled as the report's curve (``curves``): the other overrides, workers, target.
    others = sorted({**sweep.fixed, **sweep.point}.items())
    extra = "".join(f" {k}={v}" for k, v in others if k != axis)
    curve = Curve(
        f"{run.profile_name}{extra} w{run.workers} {run.target}", axis, unit, tuple(points)
    )
    run_ids = {value: sorted(r.run_id for r in runs) for value, runs in by_value.items()}
    document["curve"] = {
        "axis": axis,
        "metric": metric,
        "unit": unit,
        "direction": direction,
        "knee": curve.knee,
        "describe": curve.describe(),
        "points": [
            {
                "value": p.value,
                "throughput": p.throughput,
                "mean_ms": p.mean_ms,
                "p99_ms": p.p99_ms,
                "run_ids": run_ids[p.value],
                "current": run.run_id in run_ids[p.value],
            }
            for p in points
        ],
    }
    return document


def _numeric(text: str) -> tuple[float, str]:
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    try:
        return (float(digits), text)
    except ValueError:
        return (0.0, text)


def curve_svg(curve: Curve, *, width: int = 520, height: int = 300) -> str:
    """The curve as inline SVG: mean and p99 latency against throughput, one point per
    axis value, the knee as a point of its own."""
    tag = _AXIS_TAG.get(curve.axis, curve.axis)
    chart = pygal.XY(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        no_prefix=True,
        explicit_size=True,
        width=width,
        height=height,
        title=f"response curve: {curve.title}",
        x_title=curve.unit,
        y_title="latency ms",
        dots_size=3,
        print_labels=True,
        classes=["pygal-chart", "fioloadgen-curve"],
    )

    def series(attribute: str) -> list[dict[str, object]]:
        return [
            {"value": (p.throughput, getattr(p, attribute)), "label": f"{tag}{p.value}"}
            for p in curve.points
        ]

    chart.add("mean", series("mean_ms"))
    chart.add("p99", series("p99_ms"))
    knee = curve.knee
    if knee is not None:
        point = curve.points[knee]
        chart.add(
            f"knee ({tag}{point.value})",
            [{"value": (point.throughput, point.mean_ms), "label": "knee"}],
            dots_size=7,
            stroke=False,
        )
    svg: str = chart.render(is_unicode=True)
    return svg


def curves_section(outcomes: Sequence[CaseOutcome]) -> str:
    """The pytest-html summary section with every response curve ('' without sweeps)."""
    found = curves(outcomes)
    if not found:
        return ""
    parts = ['<div class="fioloadgen-curves"><h2>Response curves</h2>']
    for curve in found:
        parts.append(
            f'<figure title="{html.escape(curve.describe())}">{curve_svg(curve)}'
            f"<figcaption>{html.escape(curve.describe())}</figcaption></figure>"
        )
    parts.append("</div>")
    return "".join(parts)
