"""A case, the cell of the benchmark matrix, what it is judged by, and what running it
produced (session.py runs cases; planning.py builds them from the settings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .faults.spec import FaultSpec
from .fio.results import RunResult
from .identity import override_tags
from .profiles import OVERRIDABLE_OPTIONS, Profile
from .store.base import RunRecord
from .verdicts.gating import Verdict
from .verdicts.regression import Comparison
from .verdicts.status import Status
from .verdicts.thresholds import Check, Limit


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: a test's profile (with its overrides or sweep point) on N
    workers of a target, and which repeat."""

    profile: Profile
    workers: int
    target: str
    repeat: int = 0
    repeats: int = 1
    #: The test part of the identity (identity.case_test_part): the pytest node id without
    #: its parameters, ``job`` for server and CLI jobs.
    test: str = ""
    #: Options this case sets on top of the profile (a marker's, fio_run's, a sweep
    #: point), as (option, value) in a fixed order: part of its id and its history.
    overrides: tuple[tuple[str, str], ...] = ()
    #: Which of the overrides are sweep axes (--fio-sweep, the marker's sweep=): the
    #: response curves are drawn along them.
    swept: tuple[str, ...] = ()
    #: Faults injected during the run (faults/): part of its id and its history.
    faults: tuple[FaultSpec, ...] = ()
    #: The sweep this case is a point of: each swept option with every value the sweep
    #: runs it at, in the sweep's order (iodepth: 1, 8, 32). Stored with the run, so a
    #: view finds the run's sweep siblings and draws their response curve.
    sweep: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def name(self) -> str:
        """The measurement without the worker count and target: 'lat-qd1-4k-bs16k';
        a case under a fault carries its tag: 'randread-4k-fault-throttle'."""
        tags = [*override_tags(dict(self.overrides)), *(f.tag for f in self.faults)]
        return "-".join([self.profile.name, *tags])

    @property
    def id(self) -> str:
        base = f"{self.name}-w{self.workers}-{self.target}"
        return f"{base}-r{self.repeat + 1}" if self.repeats > 1 else base

    @property
    def key(self) -> tuple[str, str, int, str]:
        """Cases sharing a key are repeats of the same measurement."""
        return (self.test, self.name, self.workers, self.target)

    def sweep_record(self) -> dict[str, Any]:
        """What a run of this case stores as its sweep (RunRecord.sweep): the axes with
        all their values, this case's point on them, and the other overrides it shares
        with its siblings; empty outside a sweep."""
        if not self.sweep:
            return {}
        overrides = dict(self.overrides)
        axes = {option: list(values) for option, values in self.sweep}
        return {
            "axes": axes,
            "point": {option: overrides[option] for option in axes if option in overrides},
            "fixed": {option: value for option, value in overrides.items() if option not in axes},
        }

    def with_faults(self, faults: Sequence[FaultSpec] | None) -> Case:
        """The case under ``faults`` instead of its own (None: unchanged)."""
        return self if faults is None else replace(self, faults=tuple(faults))

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Case:
        """The case with more overrides (later ones win)."""
        if not overrides:
            return self
        merged = {**dict(self.overrides), **{k: v for k, v in overrides.items() if v is not None}}
        return replace(self, overrides=normalized_overrides(merged))


def normalized_overrides(overrides: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(option, text) pairs in OVERRIDABLE_OPTIONS order: the same overrides always make
    the same case."""
    order = list(OVERRIDABLE_OPTIONS)

    def position(item: tuple[str, Any]) -> tuple[int, str]:
        key = item[0]
        return (order.index(key) if key in order else len(order), key)

    return tuple(
        (key, str(value).strip())
        for key, value in sorted(overrides.items(), key=position)
        if value is not None
    )


@dataclass(frozen=True)
class CaseRules:
    """What a case's runs are judged by: limits, regression tolerances and the
    distribution gate's table (thresholds file and marker)."""

    limits: tuple[Limit, ...] = ()
    tolerances: Mapping[str, float] = field(default_factory=dict)
    distribution: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseOutcome:
    """What running a case produced: the result, its one verdict and the stored record."""

    case: Case
    result: RunResult
    verdict: Verdict
    record: RunRecord
    profile_as_run: Profile
    #: Which confirmation run this was (0: the regular run).
    confirmation: int = 0
    #: Set when the result looks like it came from a cache rather than the storage.
    cache_note: str = ""
    #: Unstable by window skew alone (the workers started apart): worth measuring again.
    skew_only: bool = False

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """Comparisons against history (empty before a case's last repeat, or when gating
        is off)."""
        return self.verdict.comparisons

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.verdict.checks

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.is_regression)

    @property
    def status(self) -> Status:
        """The run's one status, as stored with it."""
        return self.verdict.status
