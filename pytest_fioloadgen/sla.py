"""Latency-SLA search: the highest sustained IOPS whose p99 latency stays under a target.

PerfKitBenchmarker's fio_latency_sla has the idea; here each probe is an ordinary run of
the case (recorded, with its own id and history key: ``randread-4k-ri2500-w2-local``)
whose p99 comes from fio's merged histograms across workers, and the answer is a run of
its own: metric ``sla_iops`` under the test part ``<test>@p99<target>ms``, so it gets
thresholds (``sla_iops = 5000`` in the thresholds file) and a history like any metric.

The search: one uncapped run gives the ceiling (if its p99 already meets the target, that
is the answer); then a bisection over ``rate_iops`` between 0 and the ceiling. A probe
passes when its p99 is under the target *and* it sustained its rate (at least
SUSTAINED_SHARE of it): a rate the storage cannot deliver says nothing about latency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .cases import Case, CaseOutcome
from .exceptions import ConfigError
from .session import BenchmarkSession
from .verdicts.thresholds import Limit

#: A capped probe must deliver this share of its rate to count.
SUSTAINED_SHARE = 0.9
DEFAULT_PROBES = 6


@dataclass(frozen=True)
class Probe:
    """One run of the search."""

    rate_iops: int | None
    iops: float
    p99_ms: float
    passed: bool
    run_id: str

    def describe(self) -> str:
        cap = "uncapped" if self.rate_iops is None else f"rate_iops={self.rate_iops}"
        verdict = "ok" if self.passed else "over"
        return f"{cap}: {self.iops:,.0f} IOPS p99 {self.p99_ms:.3f} ms ({verdict})"


@dataclass(frozen=True)
class SlaResult:
    """The answer (0 when no probe met the target), every probe, and the recorded run."""

    p99_ms: float
    direction: str
    iops: float
    probes: tuple[Probe, ...]
    outcome: CaseOutcome

    @property
    def best(self) -> Probe | None:
        passing = [probe for probe in self.probes if probe.passed]
        return max(passing, key=lambda probe: probe.iops) if passing else None


def _jobs(case: Case) -> int:
    """fio jobs a per-job ``rate_iops`` applies to: workers x numjobs of every job."""
    total = 0
    profile = case.profile.with_overrides(**dict(case.overrides))
    for _section, options in profile.effective_job_options():
        text = (options.get("numjobs") or "1").strip()
        total += int(text) if text.isdigit() else 1
    return max(1, total) * case.workers


def sla_label(p99_ms: float) -> str:
    """The test part suffix of the answer's run: ``sla-p99-2ms``."""
    return f"sla-p99-{p99_ms:g}ms"


def max_iops_under(
    session: BenchmarkSession,
    case: Case,
    *,
    p99_ms: float,
    direction: str = "read",
    probes: int = DEFAULT_PROBES,
    limits: Sequence[Limit] = (),
    tolerances: Mapping[str, float] | None = None,
    test_id: str = "",
    run: Any = None,
) -> SlaResult:
    """Search the highest IOPS of ``case`` whose ``direction`` p99 stays under ``p99_ms``.

    ``run`` runs one probe case and returns its CaseOutcome (default: ``session.run``;
    the plugin passes its own so probes show in the test's outcomes).
    """
    if not p99_ms > 0:
        raise ConfigError(f"max_iops_under: p99_ms={p99_ms!r} must be a positive number")
    if direction not in ("read", "write"):
        raise ConfigError(f"max_iops_under: direction={direction!r} is not read or write")
    if probes < 2:
        raise ConfigError(f"max_iops_under: probes={probes!r} must be at least 2")
    metric = f"{direction}_lat_p99_ms"

    def probe(rate: int | None) -> tuple[Probe, CaseOutcome]:
        probed = case if rate is None else case.with_overrides({"rate_iops": str(rate)})
        outcome = (run or (lambda c: session.run(c, test_id=test_id)))(probed)
        iops = outcome.result.metrics.get(f"{direction}_iops", 0.0)
        p99 = outcome.result.metrics.get(metric)
        if p99 is None:
            raise ConfigError(
                f"max_iops_under: case {probed.id} measured no {direction} latency"
                f" ({metric} missing); choose direction='write' for write profiles"
            )
        target = None if rate is None else rate * _jobs(case)
        sustained = target is None or iops >= SUSTAINED_SHARE * target
        return Probe(rate, iops, p99, p99 <= p99_ms and sustained, outcome.record.run_id), outcome

    first, first_outcome = probe(None)
    found = [first]
    best_outcome = first_outcome if first.passed else None
    if not first.passed:
        jobs = _jobs(case)
        low, high = 0.0, first.iops
        for _step in range(probes - 1):
            middle = (low + high) / 2
            rate = max(1, math.floor(middle / jobs))
            if found and any(p.rate_iops == rate for p in found):
                break  # the interval is down to one rate step
            attempt, outcome = probe(rate)
            found.append(attempt)
            if attempt.passed:
                low = middle
                if best_outcome is None or attempt.iops > best_outcome.result.metrics.get(
                    f"{direction}_iops", 0.0
                ):
                    best_outcome = outcome
            else:
                high = middle
    best = max((p for p in found if p.passed), key=lambda p: p.iops, default=None)
    answer = best.iops if best is not None else 0.0
    basis = best_outcome or first_outcome
    label = sla_label(p99_ms)
    sla_case = replace(case, test=f"{case.test}@{label}", repeat=0, repeats=1)
    notes = (
        f"latency SLA search: highest {direction} IOPS with p99 <= {p99_ms:g} ms over"
        f" {len(found)} probe(s): {answer:,.0f}",
        *(f"probe {index + 1} {p.describe()} run {p.run_id}" for index, p in enumerate(found)),
    )
    metrics = {"sla_iops": answer, metric: best.p99_ms if best else first.p99_ms}
    outcome = session.record_derived(
        sla_case,
        basis,
        metrics,
        limits=limits,
        tolerances=tolerances,
        test_id=f"{test_id.split('[', 1)[0]}@{label}" if test_id else sla_case.test,
        notes=notes,
    )
    return SlaResult(p99_ms, direction, answer, tuple(found), outcome)
