"""The static history site: ``fioloadgen report --store URI --out DIR``.

Plain files that work from ``file://`` with no server and no network:

* ``index.html``: every history key with its run count and latest verdict;
* ``keys/<key>.html``: trend charts (vendored Chart.js) of IOPS and p99 latency over the
  key's runs, with threshold lines and change points when given, and its runs listed;
* ``runs/<run id>.html``: one run, the same fragment as the pytest-html extra (static
  SVG charts, per-worker table, time series).

Chart data travels in ``<script type="application/json">`` blocks read by
``assets/site.js``; only the vendored Chart.js and our own script are loaded.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from ..exceptions import FioLoadgenError, ResultError
from ..fio.results import parse_result
from ..gating import Thresholds
from ..store.base import RunRecord, Store
from ..trend import trend_of
from . import charts
from .html import SPARKLINE_RUNS, RunView, number, page_styles, run_fragment, verdict_badge

#: Metrics drawn on a key's trend charts: (chart id, title, metrics).
TREND_CHARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("trend-iops", "IOPS", ("iops",)),
    ("trend-latency", "p99 latency (ms)", ("read_lat_p99_ms", "write_lat_p99_ms")),
)
ASSETS = ("site.js", "site.css")
CHARTJS = "chart.umd.min.js"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class SiteSummary:
    """What a build wrote."""

    out: Path
    keys: int
    runs: int
    seconds: float


@dataclass
class KeyHistory:
    key: str
    runs: list[RunRecord] = field(default_factory=list)  # oldest first

    @property
    def latest(self) -> RunRecord:
        return self.runs[-1]

    @property
    def title(self) -> str:
        run = self.latest
        return f"{run.profile_name} w{run.workers} {run.backend}/{run.target}"


def file_name(identifier: str) -> str:
    """A file name for a key or run id (they are hex, but a store may hold anything)."""
    return _SAFE_NAME.sub("_", identifier) or "_"


def _json_block(element_id: str, data: Any) -> str:
    # "</" inside a script element would end it early; JSON allows "<\/".
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def _page(title: str, body: str, *, depth: int, charts: bool = False) -> str:
    up = "../" * depth
    scripts = ""
    if charts:
        scripts = "".join(
            f'<script src="{up}assets/{name}"></script>' for name in (CHARTJS, "site.js")
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{up}assets/site.css">{page_styles()}</head>'
        f'<body><nav><a href="{up}index.html">fioloadgen history</a></nav>{body}{scripts}'
        "</body></html>"
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def group_by_key(runs: Iterable[RunRecord]) -> list[KeyHistory]:
    """Runs grouped by history key, each group oldest first, groups by name."""
    groups: dict[str, KeyHistory] = {}
    for run in runs:
        key = run.history_key or f"unkeyed-{run.profile_name}-w{run.workers}-{run.target}"
        groups.setdefault(key, KeyHistory(key)).runs.append(run)
    for group in groups.values():
        group.runs.sort(key=lambda run: (run.started_at, run.run_id))
    return sorted(groups.values(), key=lambda g: (g.title, g.key))


def threshold_lines(thresholds: Thresholds | None, run: RunRecord) -> dict[str, list[Any]]:
    """Whole-run limits of the key's profile and worker count, by metric."""
    if thresholds is None:
        return {}
    lines: dict[str, list[Any]] = {}
    for limit in thresholds.limits_for(run.profile_name, run.workers):
        if not limit.per_worker:
            lines.setdefault(limit.metric, []).append(
                {"bound": limit.bound, "value": limit.value, "source": limit.source}
            )
    return lines


def trend_data(
    group: KeyHistory, thresholds: Thresholds | None, change_points: Sequence[str]
) -> dict[str, Any]:
    complete = [run for run in group.runs if run.status == "complete"]
    return {
        "labels": [_when(run.started_at) for run in complete],
        "runs": [f"../runs/{file_name(run.run_id)}.html" for run in complete],
        "change": [run.run_id in change_points for run in complete],
        "charts": [
            {
                "id": chart_id,
                "title": title,
                "series": {
                    metric: [run.metrics.get(metric) for run in complete] for metric in metrics
                },
                "thresholds": {
                    metric: lines
                    for metric, lines in threshold_lines(thresholds, group.latest).items()
                    if metric in metrics
                },
            }
            for chart_id, title, metrics in TREND_CHARTS
        ],
    }


def _trend_line(group: KeyHistory) -> str:
    """A static sparkline of the key's IOPS, latest run marked (no script needed)."""
    values = [run.metrics["iops"] for run in group.runs if "iops" in run.metrics]
    svg = charts.sparkline(values[-SPARKLINE_RUNS:], len(values[-SPARKLINE_RUNS:]) - 1)
    return svg or ""


def index_page(groups: Sequence[KeyHistory]) -> str:
    rows = []
    for group in groups:
        latest = group.latest
        rows.append(
            f'<tr><td><a href="keys/{file_name(group.key)}.html">{escape(group.title)}</a></td>'
            f"<td><code>{escape(group.key)}</code></td><td>{len(group.runs)}</td>"
            f"<td>{_when(latest.started_at)}</td>"
            f"<td>{number(latest.metrics.get('iops'), 0)}</td>"
            f"<td>{verdict_badge(latest.verdict or latest.status)}</td>"
            f"<td>{_trend_line(group)}</td></tr>"
        )
    body = (
        f"<h1>fio benchmark history</h1><p>{len(groups)} history keys, "
        f"{sum(len(g.runs) for g in groups)} runs.</p>"
        '<table class="fio-index"><thead><tr><th>profile, workers, backend/target</th>'
        "<th>history key</th><th>runs</th><th>latest run (UTC)</th><th>latest IOPS</th>"
        "<th>latest verdict</th><th>IOPS trend</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return _page("fio benchmark history", body, depth=0)


def key_page(group: KeyHistory, thresholds: Thresholds | None, change_points: Sequence[str]) -> str:
    canvases = "".join(
        f'<div class="fio-trend"><canvas id="{chart_id}" aria-label="{escape(title)}">'
        "</canvas></div>"
        for chart_id, title, _metrics in TREND_CHARTS
    )
    rows = []
    for run in reversed(group.runs):
        marker = " (change point)" if run.run_id in change_points else ""
        rows.append(
            f'<tr><td><a href="../runs/{file_name(run.run_id)}.html">{_when(run.started_at)}</a>'
            f"{marker}</td><td>{number(run.metrics.get('iops'), 0)}</td>"
            f"<td>{number(run.metrics.get('read_lat_p99_ms'), 3)}</td>"
            f"<td>{number(run.metrics.get('write_lat_p99_ms'), 3)}</td>"
            f"<td>{verdict_badge(run.verdict or run.status)}</td>"
            f"<td>{escape(run.labels.get('git_commit', '')[:12])}</td></tr>"
        )
    body = (
        f"<h1>{escape(group.title)}</h1><p>history key <code>{escape(group.key)}</code>, "
        f"{len(group.runs)} runs</p>{canvases}"
        '<table class="fio-runs"><thead><tr><th>run (UTC)</th><th>IOPS</th><th>read p99 ms</th>'
        "<th>write p99 ms</th><th>verdict</th><th>commit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        + _json_block("trend-data", trend_data(group, thresholds, change_points))
    )
    return _page(group.title, body, depth=1, charts=True)


def run_page(run: RunRecord, group: KeyHistory) -> str:
    header = (
        f'<p><a href="../keys/{file_name(group.key)}.html">{escape(group.title)}</a> · '
        f"{_when(run.started_at)} UTC · session {escape(run.session_id)}"
        f"{' · test ' + escape(run.test_id) if run.test_id else ''}</p>"
    )
    if run.status != "complete" or not run.raw:
        detail = (
            f"<p>run {escape(run.status)}: {escape(run.error or 'no fio output stored')}</p>"
            + _metrics_list(run.metrics)
        )
    else:
        try:
            result = parse_result(run.raw)
        except ResultError as err:
            detail = f"<p>stored fio output unreadable: {escape(str(err))}</p>"
        else:
            view = RunView(
                title=f"{run.profile_name}-w{run.workers}-{run.target}",
                result=result,
                record=run,
                verdict=run.verdict or "none",
            )
            detail = run_fragment(view, list(reversed(group.runs)))
    facts = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in sorted(_facts(run).items())
    )
    body = (
        f"<h1>run {escape(run.run_id)}</h1>{header}{detail}"
        f'<h3>environment</h3><table class="fio-facts">{facts}</table>'
        f"<h3>profile as run</h3><pre>{escape(run.profile_text)}</pre>"
    )
    return _page(f"run {run.run_id}", body, depth=1)


def _facts(run: RunRecord) -> dict[str, Any]:
    labels = {f"label {key}": value for key, value in run.labels.items()}
    return {**run.fingerprint, **labels}


def _metrics_list(metrics: Mapping[str, float]) -> str:
    if not metrics:
        return ""
    items = "".join(f"<li>{escape(k)}: {v:.6g}</li>" for k, v in sorted(metrics.items()))
    return f"<ul>{items}</ul>"


def copy_assets(out: Path) -> None:
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    package = resources.files("pytest_fioloadgen") / "assets"
    for name in ASSETS:
        (assets / name).write_bytes((package / name).read_bytes())
    vendored = package / "vendor" / "chartjs"
    (assets / CHARTJS).write_bytes((vendored / CHARTJS).read_bytes())
    (assets / "chartjs-LICENSE.md").write_bytes((vendored / "LICENSE.md").read_bytes())


def build_site(
    store: Store,
    out: Path,
    *,
    thresholds: Thresholds | None = None,
    change_points: Mapping[str, Sequence[str]] | None = None,
) -> SiteSummary:
    """Write the site for every run in ``store`` into ``out`` (replacing its pages).

    Change points are detected per key (pytest_fioloadgen.trend) unless given.
    """
    started = time.monotonic()
    if out.exists() and not out.is_dir():
        raise FioLoadgenError(f"report output {out} exists and is not a directory")
    groups = group_by_key(store.query())
    for stale in ("keys", "runs"):
        shutil.rmtree(out / stale, ignore_errors=True)
    copy_assets(out)
    runs = 0
    for group in groups:
        if change_points is None:
            # Level shifts of IOPS found over the key's whole history.
            shifts = trend_of(group.key, group.runs, "iops").change_points
            marked: Sequence[str] = [shift.run_id for shift in shifts]
        else:
            marked = change_points.get(group.key, ())
        page = key_page(group, thresholds, marked)
        _write(out / "keys" / f"{file_name(group.key)}.html", page)
        for run in group.runs:
            # Raw fio documents are loaded one run at a time: a long history stays cheap.
            full = store.get(run.run_id)
            _write(out / "runs" / f"{file_name(run.run_id)}.html", run_page(full, group))
            runs += 1
    _write(out / "index.html", index_page(groups))
    return SiteSummary(out, len(groups), runs, time.monotonic() - started)
