"""Sets of runs a user names: sessions, runs, pinned baselines, labels.

``fioloadgen sessions`` lists what a store's sessions are; ``fioloadgen compare A B``,
``baseline set`` and the results server's compare resolve names like ``latest``,
``branch=main`` or a session id here, so each spelling means the same runs everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..exceptions import StoreError
from .base import RunRecord, Store

#: Server jobs and CLI runs carry this test id; everything else came from a plugin session.
JOB_TEST_ID = "job"
#: Shortest session id prefix accepted for a session (ids are 32 hex digits).
MIN_PREFIX = 6


@dataclass(frozen=True)
class SessionSummary:
    """One session of a store: when, with what labels, how many runs and their verdicts."""

    session_id: str
    started_at: float
    runs: int
    #: Labels every run of the session carries (git commit and branch among them).
    labels: Mapping[str, str]
    verdicts: Mapping[str, int]
    #: "plugin" (a pytest session) or "job" (results-server jobs).
    kind: str

    @property
    def git_commit(self) -> str:
        return self.labels.get("git_commit", "")


@dataclass(frozen=True)
class Selection:
    """Runs a name resolved to, and how to say what they are."""

    name: str
    description: str
    runs: tuple[RunRecord, ...] = field(default=())


def sessions(store: Store, *, include_jobs: bool = False) -> list[SessionSummary]:
    """Every session of the store, newest first (plugin sessions unless include_jobs)."""
    by_session: dict[str, list[RunRecord]] = {}
    for run in store.query():
        by_session.setdefault(run.session_id, []).append(run)
    found = []
    for session_id, runs in by_session.items():
        kind = "plugin" if any(run.test_id != JOB_TEST_ID for run in runs) else "job"
        if kind == "job" and not include_jobs:
            continue
        common = dict(runs[0].labels)
        for run in runs[1:]:
            common = {k: v for k, v in common.items() if run.labels.get(k) == v}
        found.append(
            SessionSummary(
                session_id=session_id,
                started_at=min(run.started_at for run in runs),
                runs=len(runs),
                labels=common,
                verdicts=dict(Counter(run.verdict or "none" for run in runs)),
                kind=kind,
            )
        )
    return sorted(found, key=lambda summary: summary.started_at, reverse=True)


def parse_labels(text: str) -> dict[str, str] | None:
    """``K=V[,K=V]`` as a dict, or None when ``text`` is not a label selector."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all("=" in part and not part.startswith("=") for part in parts):
        return None
    return dict(part.split("=", 1) for part in parts)


def session_runs(store: Store, session_id: str) -> list[RunRecord]:
    return store.query(session_id=session_id, status="complete")


def latest_plugin_sessions(
    store: Store, count: int, labels: Mapping[str, str] | None = None
) -> list[SessionSummary]:
    """The newest ``count`` plugin sessions whose runs all carry ``labels``."""
    wanted = labels or {}
    matching = [
        summary
        for summary in sessions(store)
        if all(summary.labels.get(key) == value for key, value in wanted.items())
    ]
    return matching[:count]


def _from_sessions(store: Store, name: str, chosen: Sequence[SessionSummary]) -> Selection:
    runs = [run for summary in chosen for run in session_runs(store, summary.session_id)]
    ids = ", ".join(summary.session_id[:12] for summary in chosen)
    return Selection(name, f"{len(chosen)} session(s) {ids}", tuple(runs))


def resolve(store: Store, name: str, *, last: int = 5) -> Selection:
    """The runs ``name`` means, tried in this order: ``session:ID``, ``run:ID``,
    ``baseline:NAME``; ``latest`` and ``previous`` (plugin sessions); ``K=V[,K=V]`` (the
    newest ``last`` plugin sessions carrying those labels); a session id or a unique
    prefix of one; a baseline name; a run id. StoreError naming ``name`` otherwise."""
    kind, sep, rest = name.partition(":")
    if sep and kind in ("session", "run", "baseline"):
        return _resolve_kind(store, kind, rest, name)
    if name in ("latest", "previous"):
        newest = latest_plugin_sessions(store, 2)
        index = 0 if name == "latest" else 1
        if len(newest) <= index:
            raise StoreError(f"{store.uri} has no {name} plugin session")
        return _from_sessions(store, name, [newest[index]])
    labels = parse_labels(name)
    if labels is not None:
        chosen = latest_plugin_sessions(store, last, labels)
        if not chosen:
            raise StoreError(f"{store.uri} has no plugin session whose runs all carry {name}")
        selection = _from_sessions(store, name, chosen)
        return Selection(name, f"{name}: {selection.description}", selection.runs)
    for kind in ("session", "baseline", "run"):
        try:
            return _resolve_kind(store, kind, name, name)
        except StoreError:
            continue
    if len(name) >= MIN_PREFIX:
        prefixed = [s for s in sessions(store, include_jobs=True) if s.session_id.startswith(name)]
        if len(prefixed) == 1:
            return _from_sessions(store, name, prefixed)
        if len(prefixed) > 1:
            raise StoreError(f"{name!r} is the start of {len(prefixed)} session ids; give more")
    raise StoreError(
        f"{name!r} is not a session, baseline, run, label selector (K=V) or latest/previous "
        f"in {store.uri} (fioloadgen sessions lists the sessions)"
    )


def _resolve_kind(store: Store, kind: str, value: str, name: str) -> Selection:
    if kind == "session":
        runs = session_runs(store, value)
        if not runs:
            raise StoreError(f"{store.uri} has no completed run in session {value!r}")
        return Selection(name, f"session {value[:12]}", tuple(runs))
    if kind == "baseline":
        baseline = store.get_baseline(value)
        runs = [store.get(run_id) for run_id in baseline.run_ids]
        return Selection(name, f"baseline {value!r} ({len(runs)} runs)", tuple(runs))
    run = store.get(value)
    return Selection(name, f"run {value[:12]}", (run,))
