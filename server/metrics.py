"""``GET /metrics``: the history's state per key and the job queue, for Prometheus.

What an OpenShift team charts and alerts on in the Grafana it already runs: per history
key the newest completed run's figure of every gated metric, the baseline it is judged
against, how many change points the key's history has, and the stored verdict of the
key's newest run; and the server's job queue. Families are built as prometheus_client
collectors and encoded by its ``generate_latest`` (the text format every Prometheus
reads).

A scrape must stay cheap on a long history, so nothing here reads runs per scrape:

* which keys exist, and whether one changed, is the store's per-key version
  (store.history_index.key_versions: one small query on sqlite);
* what is exported of a key (``KeyState``) is derived once per version of the key, from
  its newest runs and the key's cached series summaries (verdicts.summaries, the cache the
  History view and ``/api/v1/history`` use), kept in memory and in the store's summary
  cache (so a restarted server does not derive it again);
* the key families' exposition is encoded again only when a key's state changed;
* deriving what is missing or out of date takes at most ``budget_s`` of a scrape, and
  at least one series summary (a cold cache of a large history fills over several
  scrapes); keys still waiting are counted by ``fioloadgen_history_keys_pending``, and
  a changed key keeps its previous state until its turn.

Label cardinality is bounded: one series per key and metric, one info, verdict,
severity and timestamp series per key, for at most ``max_keys`` keys, those with the
newest runs; ``fioloadgen_history_keys_dropped`` says how many were left out.

No authentication of its own: everything here is what the read API (``/api/v1/history``)
already answers without the token; the endpoint only reads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import bottle
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from pytest_fioloadgen.report.key_head import KeyHead
from pytest_fioloadgen.store.base import Store
from pytest_fioloadgen.store.history_index import history_index, key_versions
from pytest_fioloadgen.store.query import RunQuery
from pytest_fioloadgen.verdicts.regression import (
    DEFAULT_ALPHA,
    DEFAULT_GATED_METRICS,
    DEFAULT_WINDOW,
)
from pytest_fioloadgen.verdicts.status import Status
from pytest_fioloadgen.verdicts.summaries import series_summary, summary_name

from .config import DEFAULT_METRICS_MAX_KEYS
from .http import handled
from .jobsdb import QUEUED, RUNNING, JobDB

if TYPE_CHECKING:
    from .context import ServerContext

PATH = "/metrics"
#: The most time a scrape spends deriving key states that are missing or out of date.
REFRESH_BUDGET_S = 2.0
#: Part of the cache entry's name: a change of ``KeyState`` makes older entries unused.
STATE_FORMAT = 1
#: The labels of a key's info series, in this order.
KEY_LABELS = ("history_key", "test", "profile", "workers", "backend", "target")
#: Every family this endpoint can expose (docs/grafana-dashboard.json uses only these).
METRIC_NAMES = (
    "fioloadgen_key_info",
    "fioloadgen_key_latest_value",
    "fioloadgen_key_baseline_value",
    "fioloadgen_key_change_points",
    "fioloadgen_key_verdict",
    "fioloadgen_key_verdict_severity",
    "fioloadgen_key_newest_run_timestamp_seconds",
    "fioloadgen_history_keys",
    "fioloadgen_history_keys_exported",
    "fioloadgen_history_keys_dropped",
    "fioloadgen_history_keys_pending",
    "fioloadgen_history_keys_max",
    "fioloadgen_jobs",
    "fioloadgen_executor_alive",
)


@dataclass(frozen=True)
class KeyState(KeyHead):
    """What is exported of one history key, as of one version of it."""

    #: Per metric: its figure in the newest completed run that has it (absent: none has).
    latest: Mapping[str, float]
    #: Per metric: the auto-baseline's median over the newest runs (absent: too few runs).
    baseline: Mapping[str, float]
    #: Per metric: level shifts over the key's whole history.
    change_points: Mapping[str, int]

    def labels(self) -> list[str]:
        return [
            self.history_key,
            self.test,
            self.profile,
            str(self.workers),
            self.backend,
            self.target,
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.head_json(),
            "latest": dict(self.latest),
            "baseline": dict(self.baseline),
            "change_points": dict(self.change_points),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> KeyState:
        return cls(
            **KeyHead.from_head_json(document),
            latest={str(k): float(v) for k, v in document["latest"].items()},
            baseline={str(k): float(v) for k, v in document["baseline"].items()},
            change_points={str(k): int(v) for k, v in document["change_points"].items()},
        )


class Postponed(Exception):
    """A key's state was not finished within the scrape's budget (the series summaries
    derived so far are in the store's cache: the next attempt goes on from there)."""


class Budget:
    """The time one scrape may spend deriving series summaries. However small, it lets one
    summary be derived (a budget too small for any still makes progress)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.derived = 0

    @property
    def spent(self) -> bool:
        return self.derived > 0 and time.monotonic() > self.deadline


def _summary_cached(store: Store, history_key: str, metric: str) -> bool:
    """Whether ``series_summary(store, history_key, metric)`` would be read, not derived."""
    index = history_index(store)
    if index is None:
        return False
    name = summary_name(metric, alpha=DEFAULT_ALPHA, tolerance_pct=None, window=DEFAULT_WINDOW)
    return index.cached_summary(history_key, name)[1] is not None


def key_state(
    store: Store,
    history_key: str,
    metrics: Sequence[str],
    *,
    budget: Budget | None = None,
) -> KeyState | None:
    """The state of a key from its newest runs and its cached series summaries (None when
    the key has no runs any more). With a ``budget``, a summary that is not cached is
    derived only while the budget is not spent, else Postponed is raised: one summary of
    a 10,000-run key takes about a second."""
    newest = store.query(RunQuery(history_key=history_key, limit=1))
    if not newest:
        return None
    run = newest[0]
    completed = (
        newest
        if run.status == "complete"
        else store.query(RunQuery(history_key=history_key, status="complete", limit=1))
    )
    figures = completed[0].metrics if completed else {}
    latest = {m: float(figures[m]) for m in metrics if math.isfinite(figures.get(m, math.nan))}
    baseline: dict[str, float] = {}
    change_points: dict[str, int] = {}
    for metric in metrics:
        if budget is not None and not _summary_cached(store, history_key, metric):
            if budget.spent:
                raise Postponed(history_key)
            budget.derived += 1
        # The History view's way of summarising (the defaults): one cache entry for both.
        summary = series_summary(
            store,
            history_key,
            metric,
            alpha=DEFAULT_ALPHA,
            tolerance_pct=None,
            window=DEFAULT_WINDOW,
        )
        if summary.runs == 0:
            continue  # no completed run has this figure (a read-only profile's writes)
        change_points[metric] = len(summary.change_points)
        if summary.baseline_band is not None:
            baseline[metric] = summary.baseline_band.center
    return KeyState(
        **KeyHead.of(history_key, run),
        latest=latest,
        baseline=baseline,
        change_points=change_points,
    )


@dataclass(frozen=True)
class Snapshot:
    """What one scrape exports of the history."""

    #: The exported keys' states, newest run first (at most the cap).
    exported: list[KeyState]
    #: Keys with runs in the store.
    keys: int
    #: Keys with a state that the cap left out.
    dropped: int
    #: Keys whose state is missing or out of date after this scrape's budget.
    pending: int
    #: Changes whenever a key's state or the set of keys changes: two snapshots of one
    #: generation export the same key families.
    generation: int


class KeyStates:
    """Every history key's state at its current version (refresh derives what changed)."""

    def __init__(
        self,
        store: Store,
        *,
        metrics: Sequence[str] = DEFAULT_GATED_METRICS,
        max_keys: int = DEFAULT_METRICS_MAX_KEYS,
        budget_s: float = REFRESH_BUDGET_S,
    ) -> None:
        self.store = store
        self.metrics = tuple(dict.fromkeys(metrics))
        self.max_keys = max_keys
        self.budget_s = budget_s
        self.cache_name = f"prometheus/v{STATE_FORMAT}/{','.join(self.metrics)}"
        # history key -> (the key's version, its state at that version)
        self._known: dict[str, tuple[int, KeyState]] = {}
        self._generation = 0
        self._last: Snapshot | None = None

    def refresh(self) -> Snapshot:
        """Bring the states up to the keys' versions within the budget (not thread-safe:
        one refresh at a time)."""
        versions = key_versions(self.store)
        versions.pop("", None)  # runs without a key have no history to show
        index = history_index(self.store)
        budget = Budget(self.budget_s)
        known = self._known
        before = self._generation
        for key in [key for key in known if key not in versions]:
            del known[key]
            self._generation += 1
        for key, version in versions.items():
            if key in known and known[key][0] == version:
                continue
            state = None
            if index is not None:
                cached_version, document = index.cached_summary(key, self.cache_name)
                if document is not None and cached_version == version:
                    with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
                        # (a damaged or foreign entry is derived again and replaced)
                        state = KeyState.from_json(document)
            if state is None:
                if budget.spent:
                    continue
                try:
                    state = key_state(self.store, key, self.metrics, budget=budget)
                except Postponed:
                    continue
                if state is None:  # its runs were deleted meanwhile
                    continue
                if index is not None:
                    # Tagged with the version read before deriving it: if a run was recorded
                    # meanwhile the entry is refused (or goes stale), never wrong.
                    index.store_summary(key, self.cache_name, version, state.to_json())
            known[key] = (version, state)
            self._generation += 1
        pending = sum(
            1 for key, version in versions.items() if key not in known or known[key][0] != version
        )
        if self._last is not None and self._generation == before:
            # No state changed: the same keys are exported (keys still pending may be new).
            return dataclasses.replace(self._last, keys=len(versions), pending=pending)
        states = sorted(
            (state for _version, state in known.values()),
            key=lambda state: (state.newest_started_at, state.history_key),
            reverse=True,
        )
        self._last = Snapshot(
            exported=states[: self.max_keys],
            keys=len(versions),
            dropped=max(0, len(states) - self.max_keys),
            pending=pending,
            generation=self._generation,
        )
        return self._last


class KeyFamilies(Collector):
    """The families of the exported keys of one snapshot."""

    def __init__(self, metrics: Sequence[str], snapshot: Snapshot) -> None:
        self.metrics = metrics
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        # What describes a key is on one info series; every other series carries only the
        # key (and the metric): a third of the bytes and of the encoding time, the pattern
        # of kube-state-metrics' *_info (joined with `* on(history_key) group_left(...)`).
        key, per_metric = ["history_key"], ["history_key", "metric"]
        info = GaugeMetricFamily(
            "fioloadgen_key_info",
            "1 per exported history key, with what describes it: the newest run's test, "
            "profile, workers, backend and target",
            labels=list(KEY_LABELS),
        )
        latest = GaugeMetricFamily(
            "fioloadgen_key_latest_value",
            "the newest completed run's figure of a gated metric (the unit is in the metric "
            "label: _ms milliseconds, _mib_s MiB/s, iops I/Os per second)",
            labels=per_metric,
        )
        baseline = GaugeMetricFamily(
            "fioloadgen_key_baseline_value",
            "the auto-baseline of a gated metric: the median of the key's newest runs",
            labels=per_metric,
        )
        changes = GaugeMetricFamily(
            "fioloadgen_key_change_points",
            "level shifts (change points) in the key's whole history of a gated metric",
            labels=per_metric,
        )
        verdict = GaugeMetricFamily(
            "fioloadgen_key_verdict",
            "1, labelled with the stored verdict of the key's newest run",
            labels=[*key, "verdict"],
        )
        severity = GaugeMetricFamily(
            "fioloadgen_key_verdict_severity",
            "the severity of that verdict: " + ", ".join(f"{s.severity} {s.value}" for s in Status),
            labels=key,
        )
        newest = GaugeMetricFamily(
            "fioloadgen_key_newest_run_timestamp_seconds",
            "when the key's newest run started (seconds since the epoch)",
            labels=key,
        )
        for state in self.snapshot.exported:
            name = state.history_key
            info.add_metric(state.labels(), 1.0)
            for metric in self.metrics:
                if metric in state.latest:
                    latest.add_metric([name, metric], state.latest[metric])
                if metric in state.baseline:
                    baseline.add_metric([name, metric], state.baseline[metric])
                if metric in state.change_points:
                    changes.add_metric([name, metric], state.change_points[metric])
            verdict.add_metric([name, state.verdict], 1.0)
            severity.add_metric([name], Status.parse(state.verdict).severity)
            newest.add_metric([name], state.newest_started_at)
        yield from (info, latest, baseline, changes, verdict, severity, newest)


class ServerFamilies(Collector):
    """The families recomputed at every scrape (a few samples): the exporter's own gauges
    and the job queue."""

    def __init__(
        self, snapshot: Snapshot, max_keys: int, jobs: JobDB, executor_alive: Callable[[], bool]
    ) -> None:
        self.snapshot = snapshot
        self.max_keys = max_keys
        self.jobs = jobs
        self.executor_alive = executor_alive

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot
        for name, text, value in (
            ("fioloadgen_history_keys", "history keys with runs in the store", snapshot.keys),
            (
                "fioloadgen_history_keys_exported",
                "history keys exported here",
                len(snapshot.exported),
            ),
            (
                "fioloadgen_history_keys_dropped",
                "history keys left out by the cap (serve --metrics-max-keys): the keys "
                "with the oldest newest runs",
                snapshot.dropped,
            ),
            (
                "fioloadgen_history_keys_pending",
                "history keys whose exported state is missing or out of date (derived over "
                "the next scrapes)",
                snapshot.pending,
            ),
            (
                "fioloadgen_history_keys_max",
                "the most history keys exported (serve --metrics-max-keys)",
                self.max_keys,
            ),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        counts = self.jobs.counts()
        jobs = GaugeMetricFamily(
            "fioloadgen_jobs", "the server's jobs waiting or running", labels=["state"]
        )
        for state in (QUEUED, RUNNING):
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs
        yield GaugeMetricFamily(
            "fioloadgen_executor_alive",
            "1 while the server's job executor runs (0 with serve --no-executor, or if it died)",
            value=1.0 if self.executor_alive() else 0.0,
        )


class MetricsExporter:
    """The body of ``GET /metrics`` for one server."""

    def __init__(
        self,
        store: Store,
        jobs: JobDB,
        executor_alive: Callable[[], bool],
        *,
        metrics: Sequence[str] = DEFAULT_GATED_METRICS,
        max_keys: int = DEFAULT_METRICS_MAX_KEYS,
        budget_s: float = REFRESH_BUDGET_S,
    ) -> None:
        self.states = KeyStates(store, metrics=metrics, max_keys=max_keys, budget_s=budget_s)
        self.jobs = jobs
        self.executor_alive = executor_alive
        # The key families' exposition of the last generation: 500 keys are thousands of
        # samples (about a second to encode on a busy 2-core machine), and between two
        # recorded runs every scrape would encode the same ones again.
        self._encoded: tuple[int, bytes] | None = None
        # One scrape refreshes at a time: two concurrent ones would derive the same keys.
        self._lock = threading.Lock()

    @property
    def metrics(self) -> tuple[str, ...]:
        return self.states.metrics

    def scrape(self) -> bytes:
        """The exposition in the text format (CONTENT_TYPE_LATEST)."""
        with self._lock:
            snapshot = self.states.refresh()
            if self._encoded is None or self._encoded[0] != snapshot.generation:
                families = KeyFamilies(self.metrics, snapshot)
                self._encoded = (snapshot.generation, generate_latest(families))
            keys = self._encoded[1]
        server = ServerFamilies(snapshot, self.states.max_keys, self.jobs, self.executor_alive)
        # Two expositions of disjoint families one after the other are one exposition: the
        # text format is a sequence of independent family blocks.
        return keys + generate_latest(server)


def gated_metrics(ctx: ServerContext) -> tuple[str, ...]:
    """The metrics jobs are gated on: the thresholds file's [gating] metrics, else the
    defaults (as the executor gates them)."""
    if ctx.thresholds is None:
        return DEFAULT_GATED_METRICS
    return tuple(ctx.thresholds.gating.get("metrics", DEFAULT_GATED_METRICS))


def register(app: bottle.Bottle, ctx: ServerContext) -> None:
    """Serve ``GET /metrics`` on ``app`` for the server of ``ctx``."""
    exporter = MetricsExporter(
        ctx.store,
        ctx.jobs,
        lambda: ctx.executor.alive,
        metrics=gated_metrics(ctx),
        max_keys=ctx.config.metrics_max_keys,
    )

    def scrape() -> bottle.HTTPResponse:
        body = ctx.work.run("the metrics scrape", exporter.scrape)
        return bottle.HTTPResponse(body, 200, {"Content-Type": CONTENT_TYPE_LATEST})

    # With the API's error answers: a broken store is a JSON message, never a traceback.
    app.route(PATH, "GET", handled(scrape))
