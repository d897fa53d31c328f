"""Static SVG charts (pygal) for pytest-html extras and the static history site.

pytest-html runs no scripts inside extras, so charts are inline SVG. To keep a report of
hundreds of cases small, every chart is trimmed after pygal renders it: the tooltip
script and its data (``<script>``, ``<desc>``) do nothing without JavaScript, and the
stylesheet pygal repeats in every chart is shared once per page instead
(``chart_stylesheet``), scoped to ``svg.fioloadgen-chart`` so it cannot leak.
"""

from __future__ import annotations

import base64
import functools
import html
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

import pygal
from pygal.etree import etree
from pygal.style import Style

from .. import numbers
from ..fio.results import DIRECTIONS, RunResult
from ..fio.spectrum import SPECTRUM
from ..verdicts.validity import unbalanced

CHART_CLASS = "fioloadgen-chart"
SVG_NS = "http://www.w3.org/2000/svg"
WARNING_COLOR = "#d62728"

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#777",
    colors=("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"),
    font_family="sans-serif",
    title_font_size=13,
    label_font_size=10,
    major_label_font_size=10,
    legend_font_size=10,
    value_font_size=9,
    guide_stroke_color="#ccc",
    major_guide_stroke_color="#aaa",
)

_BASE: dict[str, Any] = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "no_prefix": True,
    "classes": ["pygal-chart", CHART_CLASS],
    "explicit_size": True,
    "pretty_print": False,
    "show_minor_y_labels": False,
    "y_labels_major_count": 5,
}
# xml.etree would otherwise write the SVG namespace as "ns0:" on every element.
ElementTree.register_namespace("", SVG_NS)
_DECIMALS = re.compile(r"(\d+)\.\d+")
_ATTRIBUTE = re.compile(r'="([^"]*)"')
#: Points per line of a time series chart; the stored series keeps every window.
MAX_CHART_POINTS = 60


def _chart(kind: type[Any], **config: Any) -> Any:
    return kind(**{**_BASE, **config})


def _whole_pixels(match: re.Match[str]) -> str:
    return '="' + _DECIMALS.sub(r"\1", match.group(1)) + '"'


def _trimmed(chart: Any, *, keep_style: bool = False) -> str:
    """The chart's SVG without what only pygal's JavaScript uses, coordinates in whole
    pixels (attributes only: text such as axis labels keeps its decimals).

    ``keep_style`` keeps the chart's own (id-scoped) stylesheet, for charts with
    per-series styles such as dashes, which pygal writes there.
    """
    root = chart.render_tree()
    dropped = ("script", "desc") if keep_style else ("script", "desc", "style")
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1] if isinstance(child.tag, str) else ""
            if tag in dropped:
                parent.remove(child)
    for child in list(root):
        # pygal's placeholder title of an untitled chart would show as a tooltip.
        if isinstance(child.tag, str) and child.tag.endswith("title") and child.text == "Pygal":
            root.remove(child)
    if not keep_style:
        root.attrib.pop("id", None)
    # pygal builds the tree with lxml when it is installed, else with xml.etree.
    text = etree.tostring(root, encoding="unicode")
    text = re.sub(r"<!--.*?-->", "", text)
    return _ATTRIBUTE.sub(_whole_pixels, text)


@functools.cache
def chart_stylesheet() -> str:
    """pygal's own stylesheet for STYLE, once per page, scoped to our charts."""
    chart = pygal.Line(style=STYLE, js=[], disable_xml_declaration=True)
    for index in range(len(STYLE.colors)):  # one rule per series colour
        chart.add(str(index), [1])
    svg = chart.render(is_unicode=True)
    chart_id = re.search(r'id="(chart-[0-9a-f-]+)"', svg)
    found = re.findall(r"<style[^>]*>(.*?)</style>", svg, flags=re.S)
    styles = html.unescape("".join(found))
    if chart_id is None:
        return styles
    return styles.replace(f"#{chart_id.group(1)}", f"svg.{CHART_CLASS}")


def _thinned(points: Sequence[Any]) -> list[Any]:
    """At most MAX_CHART_POINTS evenly spaced points, the last one kept."""
    if len(points) <= MAX_CHART_POINTS:
        return list(points)
    stride = -(-len(points) // MAX_CHART_POINTS)
    kept = list(points[::stride])
    if kept[-1] is not points[-1]:
        kept.append(points[-1])
    return kept


def _short(value: float) -> str:
    """Axis labels with three significant digits, never scientific notation."""
    return numbers.sig3(value)


def _latency(value: float) -> str:
    """Latency (ms) axis labels and values: 412 µs, 1.20 ms, 8.00 ms."""
    return numbers.latency(value)


def _count(value: float) -> str:
    """Count (IOPS) axis labels and values: 29.1k."""
    return numbers.si(value)


#: A value axis is logarithmic when its data spans at least this ratio (a decade): on a
#: linear one p50..p95 of a latency curve ending in a long tail sit on the floor.
LOG_RATIO = 10.0


def spans_decades(values: Sequence[float | None]) -> bool:
    """Whether ``values`` (all positive) span a decade or more: draw them on a log axis."""
    found = [v for v in values if v is not None]
    return bool(found) and min(found) > 0 and max(found) / min(found) >= LOG_RATIO


def _log_labels(values: Sequence[float | None]) -> list[float]:
    """1-2-5 ticks of each decade the values cover (pygal's own log labels are crowded)."""
    found = [v for v in values if v is not None and v > 0]
    low, high = min(found), max(found)
    labels: list[float] = []
    exponent = math.floor(math.log10(low))
    while 10**exponent <= high * 10:
        for lead in (1, 2, 5):
            tick = lead * 10**exponent
            if low / 2 <= tick <= high * 2:
                labels.append(tick)
        exponent += 1
    return labels


def svg_download(svg: str, name: str) -> str:
    """A link that saves a chart as an SVG file (no script: a data: URI of the chart)."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "chart"
    return (
        f'<a class="fio-save-svg" download="{html.escape(safe)}.svg" '
        f'href="data:image/svg+xml;base64,{data}">save SVG</a>'
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


#: Where the percentile distribution plot labels its x axis: 1/(1-p) for these p.
DISTRIBUTION_TICKS: tuple[tuple[float, str], ...] = (
    (2.0, "50%"),
    (10.0, "90%"),
    (100.0, "99%"),
    (1000.0, "99.9%"),
    (10000.0, "99.99%"),
)


def _odds(percentile: float) -> float:
    """A percentile on the percentile distribution plot's axis: 1/(1-p)."""
    return 1.0 / (1.0 - percentile / 100.0)


def percentile_distribution(
    spectrum: Mapping[str, Mapping[str, Any]],
    distribution: Sequence[Mapping[str, Any]] = (),
    *,
    width: int = 420,
    height: int = 240,
) -> str | None:
    """The HdrHistogram percentile distribution plot: latency (log) against the
    percentile on the 1/(1-p) log axis (50 %, 90 %, 99 %, 99.9 %, 99.99 % equally apart),
    per direction, from the run's stored spectrum; with a comparison, the baseline band
    the distribution gate held each quantile to, dashed."""
    lines: list[tuple[str, list[tuple[float, float]], dict[str, Any]]] = []
    bands = {item.get("direction"): item.get("detail") or {} for item in distribution}
    for direction, ladder in sorted(spectrum.items()):
        points = [
            (_odds(percentile), round(float(value), 6))
            for name, percentile in SPECTRUM
            if isinstance(value := ladder.get(name), int | float) and value > 0
        ]
        if not points:
            continue
        lines.append((f"{direction} this run", points, {"dots_size": 2}))
        detail = bands.get(direction) or {}
        for edge in ("low", "high"):
            band = [
                (_odds(percentile), round(float(detail[name][edge]), 6))
                for name, percentile in SPECTRUM
                if name in detail and detail[name].get(edge)
            ]
            if band:
                lines.append(
                    (
                        f"{direction} baseline band ({edge})",
                        band,
                        {"stroke_style": {"dasharray": "5, 4", "width": 1.2}, "show_dots": False},
                    )
                )
    if not lines:
        return None
    every = [value for _label, points, _style in lines for _x, value in points]
    chart = _chart(
        pygal.XY,
        width=width,
        height=height,
        title="latency by percentile (HdrHistogram style, log axes)",
        legend_at_bottom=True,
        truncate_legend=28,
        logarithmic=True,
        x_labels=[tick for tick, _label in DISTRIBUTION_TICKS],
        x_value_formatter=lambda value: dict(DISTRIBUTION_TICKS).get(value, f"{value:g}"),
        y_labels=_log_labels(every),
        value_formatter=_latency,
        x_title="percentile",
    )
    for label, points, style in lines:
        chart.add(label, points, **style)
    return _trimmed(chart)


def worker_iops(result: RunResult, *, width: int = 420, height: int = 220) -> str | None:
    """IOPS per worker; a worker well below the mean stands out in the warning colour."""
    if not result.workers:
        return None
    values = [worker.iops for worker in result.workers]
    mean = sum(values) / len(values)
    slowest = min(values) / mean if mean else 1.0
    title = "IOPS per worker"
    if len(values) > 1:
        title += f" (slowest at {slowest:.0%} of mean)"
    chart = _chart(
        pygal.Bar,
        width=width,
        height=height,
        title=title,
        show_legend=False,
        print_values=True,
        x_label_rotation=20 if len(values) > 4 else 0,
        truncate_label=18,
        value_formatter=_count,
    )
    chart.x_labels = [worker.name for worker in result.workers]
    points: list[dict[str, Any]] = []
    # One definition of "unbalanced" for this chart and the run's imbalance note.
    for value, low in zip(values, unbalanced(values), strict=True):
        point: dict[str, Any] = {"value": round(value), "label": numbers.si(value)}
        if low:
            point["color"] = WARNING_COLOR
        points.append(point)
    chart.add("IOPS", points, formatter=_count)
    return _trimmed(chart)


def sparkline(
    values: Sequence[float], current: int | None, *, width: int = 180, height: int = 40
) -> str | None:
    """A history in a line, oldest first, with the point at index ``current`` marked."""
    if not values:
        return None
    chart = _chart(
        pygal.Line,
        width=width,
        height=height,
        show_legend=False,
        show_x_labels=False,
        show_y_labels=False,
        show_x_guides=False,
        show_y_guides=False,
        margin=4,
        show_dots=False,
    )
    chart.add("history", [round(v, 2) for v in values])
    if current is not None and 0 <= current < len(values):
        marker: list[float | None] = [None] * len(values)
        marker[current] = round(values[current], 2)
        chart.add("this run", marker, show_dots=True, dots_size=4)
    return _trimmed(chart)


def timeseries(
    series: Mapping[str, Any], kind: str, *, width: int = 420, height: int = 220
) -> str | None:
    """Per-worker IOPS (``kind="iops"``, read+write) or latency (``"lat"``) over the run."""
    workers = series.get("workers") or {}
    lines: list[tuple[str, list[tuple[float, float]]]] = []
    for name, per_worker in sorted(workers.items()):
        if kind == "iops":
            totals: dict[float, float] = {}
            for direction in DIRECTIONS:
                for t, v in per_worker.get(f"{direction}_iops", []):
                    totals[t] = totals.get(t, 0.0) + v
            if totals:
                ordered = sorted(totals.items())
                lines.append((name, [(t / 1000, round(v)) for t, v in _thinned(ordered)]))
        else:
            for direction in DIRECTIONS:
                points = per_worker.get(f"{direction}_lat_ms", [])
                if points:
                    thinned = [(t / 1000, round(v, 4)) for t, v in _thinned(points)]
                    lines.append((f"{name} {direction}", thinned))
    if not lines:
        return None
    values = [v for _name, points in lines for _t, v in points]
    log = kind != "iops" and spans_decades(values)
    title = "read+write IOPS over time" if kind == "iops" else "read/write mean latency over time"
    common: dict[str, Any] = {
        "width": width,
        "height": height,
        "title": title + (" (log axis)" if log else ""),
        "x_title": "seconds",
        "show_dots": False,
        "legend_at_bottom": True,
        "truncate_legend": 24,
        "value_formatter": _count if kind == "iops" else _latency,
    }
    if not log:
        chart = _chart(pygal.XY, **common)
        for name, points in lines:
            chart.add(name, points)
        return _trimmed(chart)
    # pygal's XY takes a log scale on both axes: a Line over the union of the windows'
    # times keeps the seconds linear and the latency logarithmic.
    times = sorted({t for _name, points in lines for t, _v in points})
    chart = _chart(
        pygal.Line,
        **common,
        logarithmic=True,
        y_labels=_log_labels(values),
        x_labels=[numbers.sig3(t) for t in times],
        x_labels_major_every=max(1, len(times) // 8),
        show_minor_x_labels=False,
    )
    for name, points in lines:
        at = dict(points)
        chart.add(name, [at.get(t) for t in times])
    return _trimmed(chart)


#: How the timeline's marks are drawn: a band along the bottom of the chart.
MARK_STYLE = {
    "stall": "#d62728",
    "straggler": "#ff7f0e",
    "skew": "#999999",
    "fault": "#1f77b4",
    "recovery": "#2ca02c",
}


def timeline(
    view: Mapping[str, Any], kind: str, *, width: int = 420, height: int = 220
) -> str | None:
    """The run over time (report/timeline_view.py): ``kind="iops"`` the merged IOPS per
    direction, ``"lat"`` p50/p99/p99.9 per direction on a log axis; each mark (stall,
    straggler, skew window, fault) is a thick band along the bottom over its span."""
    times = list(view.get("times_s") or [])
    directions = view.get("directions") or {}
    if not times or not directions:
        return None
    lines: list[tuple[str, list[float | None]]] = []
    for direction, series in sorted(directions.items()):
        if kind == "iops":
            lines.append((f"{direction} IOPS", [round(v) for v in series.get("iops", [])]))
        else:
            for name, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
                values = series.get(name, [])
                if any(v is not None for v in values):
                    lines.append((f"{direction} {label}", list(values)))
    values = [v for _name, line in lines for v in line if v is not None]
    if not values:
        return None
    positive = [v for v in values if v > 0]
    log = kind == "lat" and bool(positive)
    floor = min(positive) / 1.5 if log else 0.0
    chart = _chart(
        pygal.Line,
        width=width,
        height=height,
        title=(
            "IOPS over time (all workers)"
            if kind == "iops"
            else "latency percentiles over time (log axis)"
        ),
        x_title="seconds since the client started",
        show_dots=False,
        legend_at_bottom=True,
        truncate_legend=24,
        value_formatter=_count if kind == "iops" else _latency,
        x_labels=[numbers.sig3(t) for t in times],
        x_labels_major_every=max(1, len(times) // 8),
        show_minor_x_labels=False,
        **({"logarithmic": True, "y_labels": _log_labels(positive)} if log else {}),
    )
    for name, line in lines:
        chart.add(name, [v if not log or (v is not None and v > 0) else None for v in line])
    for mark in view.get("marks") or []:
        band = [floor if mark["from_s"] < t <= mark["to_s"] + 1e-9 else None for t in times]
        if any(v is not None for v in band):
            chart.add(
                mark["kind"],
                band,
                stroke_style={"width": 8, "linecap": "butt"},
                show_dots=False,
                color=MARK_STYLE.get(mark["kind"], WARNING_COLOR),
            )
    return _trimmed(chart)


#: Ideal (linear) scaling: grey and dashed, apart from every measured line.
IDEAL_COLOR = "#999999"


def scaling(
    curves: Mapping[str, Sequence[tuple[int, float]]], *, width: int = 300, height: int = 260
) -> list[str]:
    """Small multiples: one chart per curve (profile on target), IOPS against worker count
    on its own scale (1 MiB profiles are not crushed by 4k ones), measured solid with
    points, ideal linear scaling from its smallest worker count dashed and grey."""
    return [
        _scaling_chart(name, sorted(curves[name]), width, height)
        for name in sorted(curves)
        if curves[name]
    ]


def _scaling_chart(name: str, ordered: Sequence[tuple[int, float]], width: int, height: int) -> str:
    base_n, base_v = ordered[0]
    per_worker = base_v / base_n
    ideal = [(n, round(n * per_worker)) for n, _v in ordered]
    chart = _chart(
        pygal.XY,
        width=width,
        height=height,
        title=name,
        x_title="workers",
        legend_at_bottom=True,
        truncate_title=48,
        dots_size=3,
        no_prefix=False,
        value_formatter=_count,
        include_x_axis=True,
        style=Style(**{**STYLE.to_dict(), "colors": (STYLE.colors[0], IDEAL_COLOR)}),
    )
    chart.x_labels = [n for n, _v in ordered]
    chart.add("measured IOPS", [(n, round(v)) for n, v in ordered])
    chart.add(
        "ideal (linear)",
        ideal,
        stroke_style={"dasharray": "6, 4", "width": 1.5},
        show_dots=False,
    )
    return _trimmed(chart, keep_style=True)
