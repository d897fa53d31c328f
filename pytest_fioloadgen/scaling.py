"""Scaling efficiency: how much of N times one worker's IOPS N workers deliver."""

from __future__ import annotations

from collections.abc import Sequence

from .cases import Case, CaseOutcome
from .fio.results import RunResult
from .profiles import Profile


def with_scaling(
    case: Case, profile: Profile, result: RunResult, outcomes: Sequence[CaseOutcome]
) -> RunResult:
    """scaling_efficiency = iops(N) / (N x iops(1)) against the session's 1-worker runs
    (``outcomes``) of the same profile content on the same target (the mean over its
    repeats); without one, the result as it is."""
    if case.workers == 1:
        return result.with_metric("scaling_efficiency", 1.0)
    singles = [
        outcome.result.metrics["iops"]
        for outcome in outcomes
        if outcome.case.workers == 1
        and outcome.case.target == case.target
        and outcome.profile_as_run.content_hash == profile.content_hash
    ]
    single = sum(singles) / len(singles) if singles else 0.0
    if single <= 0:
        return result
    return result.with_metric(
        "scaling_efficiency", result.metrics["iops"] / (case.workers * single)
    )
