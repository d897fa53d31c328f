"""What a history store keeps and the contract every store implementation honours."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..exceptions import StoreError

if TYPE_CHECKING:
    # Only for the Protocol's signatures: store.query imports RunRecord from here.
    from .query import RunPage, RunQuery

#: Run states. A run that fio could not complete is still recorded ("failed") so the
#: history shows that it happened and why.
RUN_STATUSES = ("complete", "failed")


#: Run ids travel in URLs, file names (the static site's run data) and terminals: up to
#: 100 ASCII letters, digits, '.', '_', ':' or '-' (uuids, hex digests, "<id>-c1"). Runs
#: that come in from outside (the API, imports) are checked against it.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"


def _column(kind: str, doc: str, **extra: Any) -> dict[str, Any]:
    """Field metadata read by store.schema: how the field is typed, stored and documented."""
    return {"kind": kind, "doc": doc, **extra}


@dataclass(frozen=True)
class RunRecord:
    """One fio run of one case, as it is stored and as every consumer reads it back.

    This class is the record schema: store.schema derives the JSON wire form and its
    checks, the sqlite columns, the TinyDB fields and the OpenAPI document from these
    fields and their metadata, so a new run field is one edit here.

    ``metrics`` holds flat metric names, one figure each, no nesting: ``iops``,
    ``bw_mib_s``, then ``read_``/``write_`` + ``iops``, ``bw_mib_s``, ``lat_mean_ms``,
    ``lat_max_ms`` or ``lat_p99_ms``... (fio.results.flat_metrics makes them).
    ``raw`` is the fio JSON document the metrics came from (stored compressed).
    ``notes`` records what the harness changed in the profile before running it, e.g. a
    ``directory=`` replaced by the worker's directory.
    """

    run_id: str = field(metadata=_column("text", "unique id of the run", pattern=RUN_ID_PATTERN))
    session_id: str = field(metadata=_column("text", "the session (or server job) it ran in"))
    profile_name: str = field(metadata=_column("text", "the profile's name"))
    profile_hash: str = field(metadata=_column("text", "sha256 of the profile text as run"))
    profile_text: str = field(metadata=_column("text", "the fio job file as it ran"))
    workers: int = field(metadata=_column("count", "how many fio workers ran it"))
    backend: str = field(metadata=_column("text", "local, static or kubernetes"))
    target: str = field(metadata=_column("text", "the storage target (storage class)"))
    started_at: float = field(metadata=_column("time", "start, seconds since the epoch"))
    finished_at: float = field(metadata=_column("time", "end, seconds since the epoch"))
    status: str = field(
        default="complete", metadata=_column("text", "complete, or failed (fio did not finish)")
    )
    metrics: Mapping[str, float] = field(
        default_factory=dict, metadata=_column("metrics", "flat metrics (iops, read_lat_p99_ms...)")
    )
    labels: Mapping[str, str] = field(
        default_factory=dict, metadata=_column("labels", "KEY=VALUE labels (git commit...)")
    )
    fingerprint: Mapping[str, Any] = field(
        default_factory=dict, metadata=_column("object", "facts about the environment")
    )
    raw: Mapping[str, Any] | None = field(
        default=None, metadata=_column("raw", "fio's JSON document (only when asked for)")
    )
    notes: tuple[str, ...] = field(
        default=(), metadata=_column("strings", "what the harness changed or noticed")
    )
    repeat: int = field(default=0, metadata=_column("count", "repeat or confirmation number"))
    test_id: str = field(
        default="", metadata=_column("text", "the pytest node id, or 'job' for server jobs")
    )
    #: The run's one status (verdicts.status.Status), decided once by the session.
    verdict: str | None = field(
        default=None, metadata=_column("optional-text", "the run's status (pass, fail...)")
    )
    error: str = field(default="", metadata=_column("text", "why the run failed"))
    #: Which runs this one may be compared with (see pytest_fioloadgen.identity).
    history_key: str = field(
        default="", metadata=_column("text", "which runs it may be compared with")
    )
    #: What the verdict was decided on: its reason, the threshold checks and the
    #: comparisons with the baseline (verdicts.gating.Verdict.evidence).
    evidence: Mapping[str, Any] = field(
        default_factory=dict,
        metadata=_column("object", "the verdict's reason, threshold checks and comparisons"),
    )
    #: The latency at the fixed ladder of quantiles, per direction (fio/spectrum.py):
    #: what the distribution gate compares, small enough to read without the raw document.
    spectrum: Mapping[str, Any] = field(
        default_factory=dict,
        metadata=_column("object", "latency (ms) at a ladder of quantiles, per direction"),
    )
    #: The sweep the run was a point of (cases.Case.sweep_record): ``axes`` (option ->
    #: every value swept), ``point`` (this run's values) and ``fixed`` (the other
    #: overrides); empty for a run outside a sweep, and for runs stored before it was kept.
    sweep: Mapping[str, Any] = field(
        default_factory=dict,
        metadata=_column("object", "the sweep it was a point of: axes, point, fixed overrides"),
    )


BASELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RUN_ID = re.compile(RUN_ID_PATTERN)


@dataclass(frozen=True)
class Baseline:
    """A named, pinned set of runs that later runs are compared with (--fio-baseline NAME)."""

    name: str
    run_ids: tuple[str, ...]
    created_at: float
    note: str = ""


def check_run_id(run_id: str, *, where: str = "run") -> str:
    """A run id by the rule of RUN_ID (checked wherever runs come in from outside)."""
    if not RUN_ID.match(run_id):
        shown = repr(run_id)
        if len(run_id) > 60:
            shown = f"{run_id[:40]!r}... ({len(run_id)} characters)"
        raise StoreError(
            f"{where}: run id {shown} is not a run id: 1-100 ASCII letters, digits, '.', '_', "
            "':' or '-', starting with a letter or digit"
        )
    return run_id


def check_baseline_name(name: str) -> str:
    """Baseline names travel in URLs and CLI arguments: a restricted, path-free alphabet."""
    if not BASELINE_NAME.match(name):
        raise StoreError(
            f"baseline name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    return name


def baseline_runs(name: str, run_ids: Sequence[str]) -> list[str]:
    """What a store pins for baseline ``name``: the run ids once each, in order, after
    checking the name; no run at all is a mistake, not an empty baseline."""
    check_baseline_name(name)
    wanted = list(dict.fromkeys(run_ids))
    if not wanted:
        raise StoreError(f"baseline {name!r} needs at least one run")
    return wanted


@runtime_checkable
class Store(Protocol):
    """A history store, chosen by URI scheme (see ``pytest_fioloadgen.store.open_store``)."""

    uri: str

    def record(self, run: RunRecord) -> None:
        """Store a run; a run_id already present is an error (runs are immutable)."""

    def get(self, run_id: str) -> RunRecord:
        """Return one run; raise StoreError naming the id when it is unknown."""

    def query(self, query: RunQuery | None = None, /, **filters: Any) -> list[RunRecord]:
        """The runs ``query`` selects (store.query.RunQuery; ``filters`` are RunQuery
        fields applied to it: ``store.query(history_key=k, limit=1)``), newest first (by
        started_at, then run_id). ``raw`` is only loaded when the query asks for it
        (``with_raw``), so listing long histories stays cheap."""

    def run_ids(self, query: RunQuery | None = None, /, **filters: Any) -> list[str]:
        """The ids of the runs ``query`` would return, in its order, without the runs: a
        bulk read takes this list first, then the runs a few at a time (``runs_json``)."""

    def runs_json(self, run_ids: Sequence[str], *, with_raw: bool = True) -> list[tuple[str, str]]:
        """(run id, the run's JSON wire document as text: store.wire.run_json_text) for
        each of ``run_ids`` that exists, in that order, once each (unknown ids are left
        out). What bulk reads send: a store may pass fio's stored document through."""

    def search(self, query: RunQuery) -> RunPage:
        """A page of the runs ``query`` selects, newest first, with the count of every
        run its filters match and the cursor of the next page (never with the raw fio
        documents: a listing)."""

    def delete(self, run_id: str) -> bool:
        """Remove one run; return whether it existed."""

    def pin_baseline(self, name: str, run_ids: Sequence[str], *, note: str = "") -> Baseline:
        """Create or replace the named baseline; every run id must exist (StoreError)."""

    def get_baseline(self, name: str) -> Baseline:
        """The named baseline; StoreError naming it when unknown."""

    def baselines(self) -> list[Baseline]:
        """Every baseline, by name."""

    def delete_baseline(self, name: str) -> bool:
        """Remove a baseline (not its runs); return whether it existed."""

    def close(self) -> None:
        """Release files and connections; the store is unusable afterwards."""
