"""A run judged by its timeline: the validity checks (validity.py) add their metrics,
notes and unstable reasons; with window skew the merged figures become the workers'
common window's; under a fault, its phases (phases.py) add theirs, and what the fault
disturbed on purpose is expected, not unstable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..fio.results import RunResult
from ..fio.timeline import timeline_of
from .phases import analyse, phase_line
from .validity import judge, measured_span, window_metrics


@dataclass(frozen=True)
class JudgedTimeline:
    """A result with what its timeline said: metrics added (or the common window's),
    notes, reasons the run is unstable, and evidence to store."""

    result: RunResult
    notes: tuple[str, ...] = ()
    unstable: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)
    #: Window skew alone made it unstable: a new measurement may be taken.
    skew_only: bool = False


def judge_run_timeline(
    result: RunResult,
    worker_names: Mapping[str, str],
    stored_faults: Sequence[Mapping[str, Any]],
    stall_factor: float,
) -> JudgedTimeline:
    """The run's timeline judged (the module's doc says how); ``worker_names`` maps each
    fio server address to its worker's name, ``stored_faults`` are the case's fault
    events as stored (CaseFaults.stored())."""
    timeline = timeline_of(result.raw)
    if timeline is None:
        return JudgedTimeline(result, evidence={"faults": stored_faults} if stored_faults else {})
    analysis = None
    injected = [event for event in stored_faults if event.get("injected_s") is not None]
    if injected:
        analysis = analyse(timeline, injected[0], measured=measured_span(timeline))
    expected = [analysis.disturbed_s] if analysis is not None else []
    judgement = judge(
        timeline,
        [worker.iops for worker in result.workers],
        stall_factor=stall_factor,
        worker_names=worker_names,
        expected=expected,
    )
    metrics = dict(result.metrics)
    metrics.update(judgement.metrics)
    notes = judgement.notes()
    evidence: dict[str, Any] = {"timeline": judgement.evidence()}
    if stored_faults:
        evidence["faults"] = stored_faults
        notes += [
            f"fault {event['describe']}: " + "; ".join(event["said"]) for event in stored_faults
        ]
        notes += [
            f"fault {event['describe']}: {event['error']}"
            for event in stored_faults
            if event["error"]
        ]
    if analysis is not None:
        metrics.update(analysis.metrics())
        phases = analysis.evidence(timeline)
        evidence["phases"] = phases
        notes.append("phases " + phase_line(phases))
    if judgement.common_window is not None:
        metrics.update(window_metrics(timeline, judgement.common_window))
        notes.append(
            "timeline: merged figures are over the workers' common window only"
            f" (intervals {judgement.common_window[0]}-{judgement.common_window[1]})"
        )
    if timeline.notes:
        notes += [f"timeline: {note}" for note in timeline.notes]
    return JudgedTimeline(
        replace(result, metrics=metrics),
        tuple(notes),
        tuple(judgement.unstable_reasons),
        evidence,
        judgement.skew_only,
    )
