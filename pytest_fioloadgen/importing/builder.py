"""A source run made a RunRecord: merged by the package's own result parser, like runs
measured here (rates and mean/min/max weighted by I/O counts; percentiles from summed
histogram bins, fio's own when one job measured a direction, else absent), and marked
imported.

Imported runs are job runs (test part ``job``) of their own history: their fingerprint
carries ``imported_from`` (an identity fact), and a profile rebuilt from fio's echo of
its options differs from any job file run here. ``same_as`` files them under an existing
history key instead, when the user asserts they measured the same thing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import FioLoadgenError, ResultError
from ..fio.results import RunResult, parse_result
from ..fio.spectrum import run_spectrum
from ..identity import JOB_TEST, history_key
from ..profiles.model import parse_profile
from ..store.base import RunRecord
from ..verdicts.status import Status
from .marks import IMPORTED_FROM
from .same_as import SameAs
from .sources import SourceDocument, SourceRun

#: The fingerprint fact that gives imported runs their own history (identity.IDENTITY_FACTS).
IMPORTED_FACT = "imported_from"
#: Options fio echoes that say where and how it was run, not what the job measures: a
#: rebuilt profile leaves them out (``directory`` as runs made here do: the backend
#: places it), so two runs of one job in two directories share their history.
_NOT_JOB_OPTIONS = frozenset({"output-format", "output", "client", "server", "directory"})


def merged_document(documents: Sequence[SourceDocument]) -> Mapping[str, Any]:
    """One fio document for the run: the document itself, or several documents (one per
    worker) as one client/server document whose clients are named after the files."""
    if len(documents) == 1:
        return documents[0].document
    entries: list[Mapping[str, Any]] = []
    for part in documents:
        document = part.document
        if "client_stats" in document:
            entries += [
                entry
                for entry in document["client_stats"]
                if isinstance(entry, Mapping) and entry.get("jobname") != "All clients"
            ]
        else:
            # A standalone document is one worker: its jobs become that client's entries.
            entries += [
                {**entry, "hostname": part.name, "port": None}
                for entry in document.get("jobs", [])
                if isinstance(entry, Mapping)
            ]
    first = documents[0].document
    merged: dict[str, Any] = {
        "fio version": first.get("fio version", ""),
        "timestamp": max(int(d.document.get("timestamp", 0) or 0) for d in documents),
        "client_stats": entries,
    }
    if "global options" in first:
        merged["global options"] = first["global options"]
    return merged


def rebuilt_profile(document: Mapping[str, Any]) -> str:
    """A job file from the options fio echoes in its output (``global options`` and each
    job's ``job options``): the nearest thing to the profile that ran when the source
    does not keep it."""
    sections: list[str] = []
    global_options = document.get("global options")
    if isinstance(global_options, Mapping) and global_options:
        sections.append(_section("global", global_options))
    entries = document.get("client_stats") or document.get("jobs") or []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("jobname") == "All clients":
            continue
        name = str(entry.get("jobname", "job"))
        if name in seen:
            continue  # the same job on another worker
        seen.add(name)
        options = entry.get("job options")
        sections.append(_section(name, options if isinstance(options, Mapping) else {}))
    return "\n".join(sections)


def _section(name: str, options: Mapping[str, Any]) -> str:
    lines = [f"[{name}]"]
    for key, value in options.items():
        if key in _NOT_JOB_OPTIONS:
            continue
        lines.append(f"{key}={value}" if value not in ("", None) else str(key))
    return "\n".join(lines) + "\n"


def profile_hash(text: str, name: str) -> str:
    """The stored profile's hash as runs made here compute it (the canonical text), or
    the text's own sha256 when this package cannot parse it (it is kept, never run)."""
    try:
        return parse_profile(text, name=name).content_hash
    except FioLoadgenError:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _times(
    source: SourceRun, document: Mapping[str, Any], result: RunResult
) -> tuple[float, float]:
    """(started, finished): the source's, else fio's end timestamp less the runtime."""
    runtime_s = max(result.read.runtime_ms, result.write.runtime_ms) / 1000.0
    finished = source.finished_at
    if finished is None:
        stamp = document.get("timestamp")
        finished = float(stamp) if isinstance(stamp, int | float) and stamp > 0 else 0.0
    started = source.started_at
    if started is None:
        started = max(finished - runtime_s, 0.0)
    return started, max(finished, started)


def percentile_notes(result: RunResult) -> list[str]:
    """Why a direction measured by several jobs has no percentiles (no histogram bins)."""
    notes = []
    for name, stats in (("read", result.read), ("write", result.write)):
        latency = stats.latency
        if latency is not None and not latency.percentiles_ms:
            notes.append(
                f"no {name} latency percentiles: fio's output has no histogram bins (json,"
                " not json+) and several jobs measured it, so they cannot be merged (an"
                " average of percentiles would be wrong)"
            )
    return notes


def build_record(
    source: SourceRun,
    *,
    session_id: str,
    same_as: SameAs | None = None,
    extra_labels: Mapping[str, str] | None = None,
) -> RunRecord:
    """The run record of ``source``; ResultError when fio's document is not a run."""
    document = merged_document(source.documents)
    result = parse_result(document)
    if any(worker.error for worker in result.workers):
        failing = next(worker for worker in result.workers if worker.error)
        raise ResultError(f"fio reported error {failing.error} on worker {failing.name}")
    workers = len(result.workers)
    notes = list(source.notes)
    if source.declared_workers is not None and source.declared_workers != workers:
        notes.append(
            f"the source says {source.declared_workers} worker(s); fio's output holds"
            f" {workers}: the output is what is stored"
        )
    profile_text = source.profile_text
    if profile_text is None:
        profile_text = rebuilt_profile(document)
        notes.append("the profile is rebuilt from the options fio echoes in its output")
    digest = profile_hash(profile_text, source.profile_name)
    fingerprint = {
        "fio_version": result.fio_version,
        IMPORTED_FACT: source.origin,
        "source": dict(source.source_facts),
    }
    key = history_key(
        test=JOB_TEST,
        profile_hash=digest,
        workers=workers,
        backend=source.backend,
        target=source.target,
        fingerprint=fingerprint,
    )
    if same_as is not None:
        key, why = same_as.key_for(workers)
        notes.append(why)
    notes += percentile_notes(result)
    started, finished = _times(source, document, result)
    labels = {**source.labels, **(extra_labels or {}), IMPORTED_FROM: source.origin}
    return RunRecord(
        run_id=source.run_id,
        session_id=session_id,
        profile_name=source.profile_name,
        profile_hash=digest,
        profile_text=profile_text,
        workers=workers,
        backend=source.backend,
        target=source.target,
        started_at=started,
        finished_at=finished,
        status="complete",
        metrics=dict(result.metrics),
        labels=labels,
        fingerprint=fingerprint,
        raw=document,
        notes=tuple(notes),
        test_id=JOB_TEST,
        verdict=Status.NONE.value,
        history_key=key,
        evidence={"reason": f"imported from {source.origin}: no verdict was decided here"},
        spectrum=run_spectrum(result),
    )
