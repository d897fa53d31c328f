"""The overview: what changed, first. The results UI's home and the static site's index.

Both show one document (``overview_document``) drawn by one renderer
(``assets/overview.js``): the latest sessions with their verdict counts; the
regressions, distribution shifts, unstable runs and change points of the last ``days``
days; then every history key as a row (test, profile, workers, backend, target, an IOPS
sparkline of its newest runs with change points marked, the last value, its delta
against the key's baseline and the stored verdict of the key's newest run).

A key's row (``KeyRow``) is derived once per version of the key (store.history_index)
and kept in the store's summary cache, like the summaries it is made from: the key's
cached series summaries (verdicts.summaries: change points and baseline band, the
entries the History view, ``/api/v1/history`` and ``/metrics`` read) and the key's
newest ``RECENT_RUNS`` runs without their raw fio documents (verdicts, and the
distribution findings stored in each run's evidence). Nothing here reads a raw document
or every run of the store: an overview of a long history costs a query of the key
versions, one cache read per key, and the newest runs of the latest sessions.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..store.base import RunRecord, Store
from ..store.history_index import history_index, key_versions
from ..store.query import RunQuery
from ..store.selection import JOB_TEST_ID
from ..verdicts.regression import DEFAULT_ALPHA, DEFAULT_GATED_METRICS, DEFAULT_WINDOW
from ..verdicts.status import Status
from ..verdicts.summaries import SeriesSummary, series_summary, summary_name
from .key_head import KeyHead

#: Part of the cache entry's name: a change of ``KeyRow`` makes older entries unused.
OVERVIEW_FORMAT = 1
#: The metric of the sparkline, the last value and the delta (what the site charted).
SPARK_METRIC = "iops"
#: Runs in a key's sparkline.
SPARK_RUNS = 30
#: A key's newest runs looked at for regressions, distribution shifts and unstable runs
#: (change points come from the key's whole history).
RECENT_RUNS = 200
#: Events of one kind kept per key (the newest).
EVENTS_PER_KIND = 20
#: The default window of "recent" events, in days.
DEFAULT_DAYS = 7
#: Sessions shown, the newest runs read to find them, and the runs of a session counted
#: (an imported history can be one session of 100k runs: its newest are counted).
SESSIONS = 5
SESSION_SCAN = 1000
SESSION_RUNS = 5000
#: Event kinds, in the order the overview shows them.
EVENT_KINDS = ("regression", "distribution", "unstable", "change_point")


class Postponed(Exception):
    """A key's row needs a series summary that is not cached, and the caller's budget
    allows no more deriving now (the summaries derived so far stay cached)."""


@dataclass(frozen=True)
class Event:
    """Something a team should look at: a regression, a distribution shift, an unstable
    run or a change point, at one run of one key."""

    kind: str
    run_id: str
    started_at: float
    message: str
    metric: str = ""
    #: Whether it is a change for the worse (a change point or shift can be either).
    worse: bool = True


@dataclass(frozen=True)
class SparkPoint:
    run_id: str
    started_at: float
    value: float
    change: bool


@dataclass(frozen=True)
class KeyRow(KeyHead):
    """What the overview shows of one history key, as of one version of it."""

    runs: int
    metric: str
    spark: tuple[SparkPoint, ...]
    #: The newest completed run's figure of ``metric`` (None: no run has it).
    last: float | None
    #: The auto-baseline's centre of ``metric`` (None: too few runs).
    baseline: float | None
    #: Change points over the key's whole history, per metric.
    change_points: Mapping[str, int]
    events: tuple[Event, ...] = field(default=())

    @property
    def delta_pct(self) -> float | None:
        if self.last is None or not self.baseline:
            return None
        return (self.last - self.baseline) / abs(self.baseline) * 100.0

    def to_json(self) -> dict[str, Any]:
        """Everything, for the summary cache (``from_json`` reads it back)."""
        document = asdict(self)
        document["change_points"] = dict(self.change_points)
        return document

    @functools.cached_property
    def shown(self) -> dict[str, Any]:
        """What the overview document carries of the row (built once per row: 500 keys
        are 500 of them per request): the sparkline as its values with the positions and
        runs of its change points; the events go to the document's recent lists."""
        changes = [number for number, point in enumerate(self.spark) if point.change]
        return {
            **self.head_json(),
            "runs": self.runs,
            "metric": self.metric,
            "spark": [point.value for point in self.spark],
            "spark_changes": changes,
            "spark_change_runs": [self.spark[number].run_id for number in changes],
            "last": self.last,
            "baseline": self.baseline,
            "delta_pct": self.delta_pct,
            "change_points": dict(self.change_points),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> KeyRow:
        return cls(
            **KeyHead.from_head_json(document),
            runs=int(document["runs"]),
            metric=str(document["metric"]),
            spark=tuple(SparkPoint(**point) for point in document["spark"]),
            last=None if document["last"] is None else float(document["last"]),
            baseline=None if document["baseline"] is None else float(document["baseline"]),
            change_points={str(k): int(v) for k, v in document["change_points"].items()},
            events=tuple(Event(**event) for event in document["events"]),
        )


def short_test(test_id: str) -> str:
    """A test as a row shows it: the node id's function with its parameters."""
    if not test_id or test_id == JOB_TEST_ID:
        return test_id or "-"
    return test_id.rsplit("::", 1)[-1]


def _distribution_events(run: RunRecord) -> list[Event]:
    found = []
    for item in run.evidence.get("distribution") or ():
        if not isinstance(item, Mapping) or not item.get("kind"):
            continue  # within its band, or too little history yet
        found.append(
            Event(
                "distribution",
                run.run_id,
                run.started_at,
                str(item.get("message") or f"latency distribution: {item['kind']}"),
                metric=f"{item.get('direction', '')}_latency",
                worse=item.get("status") == Status.REGRESSION.value,
            )
        )
    return found


def _verdict_events(run: RunRecord) -> list[Event]:
    verdict = Status.parse(run.verdict)
    if verdict not in (Status.REGRESSION, Status.UNSTABLE):
        return []
    reason = str(run.evidence.get("reason") or verdict.value)
    return [Event(verdict.value, run.run_id, run.started_at, reason)]


def _change_events(summaries: Mapping[str, SeriesSummary]) -> list[Event]:
    found = []
    for metric, summary in summaries.items():
        latency = metric.endswith("_ms")
        for change in summary.change_points:
            up = change.after > change.before
            pct = (change.after - change.before) / abs(change.before) * 100 if change.before else 0
            found.append(
                Event(
                    "change_point",
                    change.run_id,
                    change.started_at,
                    f"{metric} level shift {change.before:.4g} -> {change.after:.4g} ({pct:+.1f}%)",
                    metric=metric,
                    worse=up if latency else not up,
                )
            )
    return found


def _newest_of_each_kind(events: Iterable[Event]) -> tuple[Event, ...]:
    kept: list[Event] = []
    counts: Counter[str] = Counter()
    for event in sorted(events, key=lambda e: (e.started_at, e.run_id), reverse=True):
        if counts[event.kind] < EVENTS_PER_KIND:
            counts[event.kind] += 1
            kept.append(event)
    return tuple(kept)


def _summary_cached(store: Store, history_key: str, metric: str) -> bool:
    index = history_index(store)
    if index is None:
        return False
    name = summary_name(metric, alpha=DEFAULT_ALPHA, tolerance_pct=None, window=DEFAULT_WINDOW)
    return index.cached_summary(history_key, name)[1] is not None


def key_row(
    store: Store,
    history_key: str,
    *,
    metrics: Sequence[str] = DEFAULT_GATED_METRICS,
    may_derive: Callable[[], bool] | None = None,
) -> KeyRow | None:
    """A key's row from its newest runs and its series summaries (None: no runs).

    The summaries are the ones the History view and ``/metrics`` use (the defaults), so
    one cache entry serves all of them. ``may_derive`` is asked before a summary that is
    not cached is derived; False raises Postponed.
    """
    summaries: dict[str, SeriesSummary] = {}
    for metric in dict.fromkeys((SPARK_METRIC, *metrics)):
        if (
            may_derive is not None
            and not _summary_cached(store, history_key, metric)
            and not may_derive()
        ):
            raise Postponed(history_key)
        summary = series_summary(
            store,
            history_key,
            metric,
            alpha=DEFAULT_ALPHA,
            tolerance_pct=None,
            window=DEFAULT_WINDOW,
        )
        if summary.runs:
            summaries[metric] = summary
    # After the summaries: a key postponed costs no read of its runs.
    recent = store.query(RunQuery(history_key=history_key, limit=RECENT_RUNS))
    if not recent:
        return None
    newest = recent[0]
    spark_summary = summaries.get(SPARK_METRIC)
    marked = {c.run_id for c in spark_summary.change_points} if spark_summary else set()
    usable = [
        run
        for run in recent
        if run.status == "complete" and math.isfinite(run.metrics.get(SPARK_METRIC, math.nan))
    ]
    spark = tuple(
        SparkPoint(
            run.run_id, run.started_at, float(run.metrics[SPARK_METRIC]), run.run_id in marked
        )
        for run in reversed(usable[:SPARK_RUNS])
    )
    band = spark_summary.baseline_band if spark_summary else None
    events = [event for run in recent for event in _verdict_events(run)]
    events += [event for run in recent for event in _distribution_events(run)]
    events += _change_events(summaries)
    return KeyRow(
        **KeyHead.of(history_key, newest),
        # The ids only (an index read): the recent runs are a bounded window.
        runs=len(store.run_ids(RunQuery(history_key=history_key))),
        metric=SPARK_METRIC,
        spark=spark,
        last=spark[-1].value if spark else None,
        baseline=band.center if band is not None else None,
        change_points={metric: len(s.change_points) for metric, s in summaries.items()},
        events=_newest_of_each_kind(events),
    )


def cache_name(metrics: Sequence[str]) -> str:
    return f"overview/v{OVERVIEW_FORMAT}/{','.join(dict.fromkeys(metrics))}"


def cached_key_row(
    store: Store,
    history_key: str,
    version: int,
    *,
    metrics: Sequence[str] = DEFAULT_GATED_METRICS,
    may_derive: Callable[[], bool] | None = None,
) -> KeyRow | None:
    """``key_row`` from the store's summary cache at ``version``, else derived and cached
    (tagged with ``version``: if a run was recorded meanwhile the entry is refused).
    ``may_derive`` is asked before a row is derived, and before each series summary."""
    index = history_index(store)
    name = cache_name(metrics)
    if index is not None:
        cached_version, document = index.cached_summary(history_key, name)
        if document is not None and cached_version == version:
            with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
                # (a damaged or foreign entry is derived again and replaced)
                return KeyRow.from_json(document)
    if may_derive is not None and not may_derive():
        raise Postponed(history_key)
    row = key_row(store, history_key, metrics=metrics, may_derive=may_derive)
    if row is not None and index is not None:
        index.store_summary(history_key, name, version, row.to_json())
    return row


def key_rows(store: Store, *, metrics: Sequence[str] = DEFAULT_GATED_METRICS) -> list[KeyRow]:
    """Every history key's row (no budget: what a site build or a test wants)."""
    rows = []
    for key, version in key_versions(store).items():
        if not key:
            continue  # runs without a key have no history to show
        row = cached_key_row(store, key, version, metrics=metrics)
        if row is not None:
            rows.append(row)
    return rows


@dataclass(frozen=True)
class SessionCounts:
    session_id: str
    started_at: float
    runs: int
    #: The newest runs whose verdicts are counted (all of them up to SESSION_RUNS).
    counted: int
    kind: str
    verdicts: Mapping[str, int]
    labels: Mapping[str, str]


def latest_sessions(store: Store, count: int = SESSIONS) -> list[SessionCounts]:
    """The newest ``count`` sessions (among the newest ``SESSION_SCAN`` runs), each with
    the verdict counts of its runs (its newest ``SESSION_RUNS``; read by session, without
    raw documents)."""
    newest: list[str] = []
    for run in store.query(RunQuery(limit=SESSION_SCAN)):
        if run.session_id not in newest:
            newest.append(run.session_id)
            if len(newest) == count:
                break
    found = []
    for session_id in newest:
        runs = store.query(RunQuery(session_id=session_id, limit=SESSION_RUNS))
        if not runs:
            continue
        total = len(runs)
        if total == SESSION_RUNS:
            total = store.search(RunQuery(session_id=session_id, limit=0)).total
        common = dict(runs[0].labels)
        for run in runs[1:]:
            common = {k: v for k, v in common.items() if run.labels.get(k) == v}
        found.append(
            SessionCounts(
                session_id=session_id,
                started_at=min(run.started_at for run in runs),
                runs=total,
                counted=len(runs),
                kind="plugin" if any(run.test_id != JOB_TEST_ID for run in runs) else "job",
                verdicts=dict(Counter(Status.parse(run.verdict).value for run in runs)),
                labels={k: v for k, v in common.items() if k in ("git_commit", "git_branch")},
            )
        )
    return found


def overview_document(
    rows: Sequence[KeyRow],
    sessions: Sequence[SessionCounts],
    *,
    now: float,
    days: int = DEFAULT_DAYS,
    pending: int = 0,
) -> dict[str, Any]:
    """The overview both views render (assets/overview.js): recent events newest first,
    rows grouped by target (then test, profile, workers)."""
    since = now - days * 86400.0
    recent: dict[str, list[dict[str, Any]]] = {kind: [] for kind in EVENT_KINDS}
    for row in rows:
        for event in row.events:
            if event.started_at >= since:
                recent[event.kind].append(
                    {
                        **asdict(event),
                        "history_key": row.history_key,
                        "title": f"{short_test(row.test)} · {row.profile} w{row.workers} "
                        f"· target {row.target}",
                    }
                )
    for events in recent.values():
        events.sort(key=lambda e: (e["started_at"], e["run_id"]), reverse=True)
    ordered = sorted(
        rows, key=lambda r: (r.target, r.backend, r.test, r.profile, r.workers, r.history_key)
    )
    return {
        "generated_at": now,
        "days": days,
        "keys": len(rows),
        "pending": pending,
        "runs": sum(row.runs for row in rows),
        "verdicts": dict(Counter(row.verdict for row in rows)),
        "sessions": [asdict(session) for session in sessions],
        "recent": recent,
        "rows": [dict(row.shown) for row in ordered],
    }
