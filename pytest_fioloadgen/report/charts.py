"""Static SVG charts (pygal) for pytest-html extras and the static history site.

pytest-html runs no scripts inside extras, so charts are inline SVG. To keep a report of
hundreds of cases small, every chart is trimmed after pygal renders it: the tooltip
script and its data (``<script>``, ``<desc>``) do nothing without JavaScript, and the
stylesheet pygal repeats in every chart is shared once per page instead
(``chart_stylesheet``), scoped to ``svg.fioloadgen-chart`` so it cannot leak.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

import pygal
from pygal.etree import etree
from pygal.style import Style

from ..fio.results import DIRECTIONS, RunResult, percentile_from_bins

CHART_CLASS = "fioloadgen-chart"
SVG_NS = "http://www.w3.org/2000/svg"
#: Percentiles of the latency curve, drawn from the merged histogram.
CURVE_PERCENTILES: tuple[float, ...] = (50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99)
#: A worker below this share of the mean worker IOPS is drawn in the warning colour.
UNBALANCED_SHARE = 0.8
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
    """Axis labels with three significant digits (latencies span 0.01 to 100 ms)."""
    return f"{value:.3g}"


def _paired(colors: Sequence[str]) -> tuple[str, ...]:
    return tuple(color for color in colors for _twice in range(2))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def latency_percentiles(result: RunResult, *, width: int = 420, height: int = 220) -> str | None:
    """Completion latency by percentile, read and write, from the merged histograms."""
    chart = _chart(
        pygal.Line,
        width=width,
        height=height,
        title="latency by percentile (ms)",
        legend_at_bottom=True,
        value_formatter=_short,
        dots_size=2,
    )
    chart.x_labels = [f"p{p:g}" for p in CURVE_PERCENTILES]
    drawn = False
    for direction in DIRECTIONS:
        stats = getattr(result, direction)
        if stats.latency is None or not stats.latency.bins:
            continue
        values = []
        for pct in CURVE_PERCENTILES:
            ns = percentile_from_bins(stats.latency.bins, pct)
            values.append(_ms(None if ns is None else ns / 1e6))
        chart.add(direction, values)
        drawn = True
    return _trimmed(chart) if drawn else None


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
    )
    chart.x_labels = [worker.name for worker in result.workers]
    points: list[dict[str, Any]] = []
    for value in values:
        point: dict[str, Any] = {"value": round(value), "label": f"{value:,.0f}"}
        if mean and value < UNBALANCED_SHARE * mean:
            point["color"] = WARNING_COLOR
        points.append(point)
    chart.add("IOPS", points, formatter=lambda v: f"{v:,.0f}")
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
    title = "IOPS over time" if kind == "iops" else "mean latency over time (ms)"
    chart = _chart(
        pygal.XY,
        width=width,
        height=height,
        title=title,
        x_title="seconds",
        show_dots=False,
        legend_at_bottom=True,
        truncate_legend=24,
        value_formatter=_short,
    )
    drawn = False
    for name, per_worker in sorted(workers.items()):
        if kind == "iops":
            totals: dict[float, float] = {}
            for direction in DIRECTIONS:
                for t, v in per_worker.get(f"{direction}_iops", []):
                    totals[t] = totals.get(t, 0.0) + v
            if totals:
                ordered = sorted(totals.items())
                chart.add(name, [(t / 1000, round(v)) for t, v in _thinned(ordered)])
                drawn = True
        else:
            for direction in DIRECTIONS:
                points = per_worker.get(f"{direction}_lat_ms", [])
                if points:
                    label = f"{name} {direction}"
                    chart.add(label, [(t / 1000, round(v, 3)) for t, v in _thinned(points)])
                    drawn = True
    return _trimmed(chart) if drawn else None


#: Curves per scaling chart: more would make the legend unreadable, so a large matrix
#: gets several charts.
CURVES_PER_CHART = 6


def scaling(
    curves: Mapping[str, Sequence[tuple[int, float]]], *, width: int = 560, height: int = 260
) -> list[str]:
    """IOPS against worker count per curve (profile on target), with ideal linear scaling
    from the curve's one-worker point (or its smallest worker count); one chart per
    CURVES_PER_CHART curves."""
    names = [name for name in sorted(curves) if curves[name]]
    chunks = [names[i : i + CURVES_PER_CHART] for i in range(0, len(names), CURVES_PER_CHART)]
    return [_scaling_chart(curves, chunk, width, height) for chunk in chunks]


def _scaling_chart(
    curves: Mapping[str, Sequence[tuple[int, float]]],
    names: Sequence[str],
    width: int,
    height: int,
) -> str:
    legend_rows = -(-len(names) // 2) * 2
    chart = _chart(
        pygal.XY,
        width=width,
        height=height + 18 * legend_rows,
        title="scaling: IOPS vs workers (dashed: ideal linear)",
        x_title="workers",
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        truncate_legend=40,
        dots_size=3,
        no_prefix=False,
        # Each measured curve and its ideal line share a colour (series come in pairs).
        style=Style(**{**STYLE.to_dict(), "colors": _paired(STYLE.colors)}),
    )
    chart.x_labels = sorted({n for name in names for n, _v in curves[name]})
    for name in names:
        ordered = sorted(curves[name])
        chart.add(name, [(n, round(v)) for n, v in ordered])
        base_n, base_v = ordered[0]
        per_worker = base_v / base_n
        chart.add(
            f"{name} ideal",
            [(n, round(n * per_worker)) for n, _v in ordered],
            stroke_style={"dasharray": "6, 4", "width": 1.5},
            show_dots=False,
        )
    return _trimmed(chart, keep_style=True)
