"""Thresholds: absolute, direction-aware limits on the flat metrics, and the verdicts.

A thresholds file (TOML) has levels that get more specific::

    [defaults]                       # every profile
    read_lat_p99_ms = 20             # a bare number follows the metric's direction:
                                     # latency -> a ceiling, throughput -> a floor
    [profile.randread-4k]
    iops = 1000
    [profile.randread-4k.workers.4]  # only for the 4-worker case
    iops = { min = 3500 }
    [profile.randread-4k.per_worker] # checked on every worker's own figure
    iops = 800

The most specific level wins per metric: defaults < defaults.workers.N < profile <
profile.workers.N, and inline thresholds on the ``fio`` marker win over the file.
A run's status combines these checks with the history comparisons (verdicts.gating).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ..exceptions import ThresholdError
from ..fio.results import METRIC_NAMES, RunResult, higher_is_better, worker_metrics

IMBALANCE_METRIC = "worker_iops_cv_pct"

_LIMIT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "number"},
        {
            "type": "object",
            "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
            "additionalProperties": False,
            "minProperties": 1,
        },
    ]
}
_METRICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: _LIMIT_SCHEMA for name in METRIC_NAMES},
    "additionalProperties": False,
}
_TOLERANCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "number", "minimum": 0} for name in METRIC_NAMES},
    "additionalProperties": False,
}
#: ``max_worker_cv = 30``: the workers' IOPS may vary by at most this CV (percent), the
#: same limit as ``worker_iops_cv_pct = {max = 30}`` (verdicts/validity.py).
MAX_WORKER_CV = "max_worker_cv"
_LEVEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{name: _LIMIT_SCHEMA for name in METRIC_NAMES},
        MAX_WORKER_CV: {"type": "number", "exclusiveMinimum": 0},
        "per_worker": _METRICS_SCHEMA,
        # Regression gating: how much worse (percent) a metric may get before it counts.
        "tolerance": _TOLERANCE_SCHEMA,
        # The gate on the whole latency distribution (verdicts/distribution.py).
        "distribution": {
            "type": "object",
            "properties": {
                "gate": {"type": "boolean"},
                "tolerance_pct": {"type": "number", "exclusiveMinimum": 0},
                "shift_tolerance_pct": {"type": "number", "exclusiveMinimum": 0},
                "min_mass_pct": {"type": "number", "exclusiveMinimum": 0},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
_GATING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
        "min_baseline": {"type": "integer", "minimum": 2},
        # Timeline stalls: an interval p99 above this many times the median interval p99.
        "stall_factor": {"type": "number", "exclusiveMinimum": 1},
        "metrics": {
            "type": "array",
            "items": {"enum": list(METRIC_NAMES)},
            "minItems": 1,
            "uniqueItems": True,
        },
        # Repeatability: the largest CV (percent) of a metric over a case's repeats.
        "max_cv": {
            "oneOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {
                    "type": "object",
                    "properties": {
                        name: {"type": "number", "exclusiveMinimum": 0} for name in METRIC_NAMES
                    },
                    "additionalProperties": False,
                },
            ]
        },
    },
    "additionalProperties": False,
}
_LEVEL_WITH_WORKERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_LEVEL_SCHEMA["properties"],
        "workers": {
            "type": "object",
            "patternProperties": {"^[1-9][0-9]*$": _LEVEL_SCHEMA},
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
THRESHOLDS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "defaults": _LEVEL_WITH_WORKERS,
        "profile": {"type": "object", "additionalProperties": _LEVEL_WITH_WORKERS},
        "gating": _GATING_SCHEMA,
        # Resource caps (profiles/caps.py checks keys and values): numjobs = 128, ...
        "caps": {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer", "number"]},
        },
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Limit:
    """One bound on one metric, and where it was set."""

    metric: str
    bound: str  # "min" or "max"
    value: float
    source: str
    per_worker: bool = False

    def allows(self, measured: float) -> bool:
        return measured >= self.value if self.bound == "min" else measured <= self.value

    def describe(self) -> str:
        symbol = ">=" if self.bound == "min" else "<="
        return f"{self.metric} {symbol} {self.value:g}"


@dataclass(frozen=True)
class Check:
    """A limit applied to a measured value (None: the run did not measure that metric)."""

    limit: Limit
    measured: float | None
    worker: str | None = None

    @property
    def applicable(self) -> bool:
        return self.measured is not None

    def as_dict(self) -> dict[str, Any]:
        """The check as it is stored with the run (RunRecord.evidence)."""
        return {
            "metric": self.limit.metric,
            "bound": self.limit.bound,
            "limit": self.limit.value,
            "source": self.limit.source,
            "per_worker": self.limit.per_worker,
            "worker": self.worker,
            "measured": self.measured,
            "passed": self.passed,
            "message": self.message(),
        }

    @property
    def passed(self) -> bool:
        return self.measured is None or self.limit.allows(self.measured)

    def message(self) -> str:
        who = f"worker {self.worker} " if self.worker else ""
        if self.measured is None:
            return f"{who}{self.limit.metric}: not measured in this run ({self.limit.source})"
        relation = "<" if self.limit.bound == "min" else ">"
        if self.passed:
            relation = ">=" if self.limit.bound == "min" else "<="
        return (
            f"{who}{self.limit.metric} {self.measured:.6g} {relation} {self.limit.bound} "
            f"{self.limit.value:g} ({self.limit.source})"
        )


@dataclass(frozen=True)
class LimitChecks:
    """Every limit of a case applied to its result: fail, pass, or none (no limits)."""

    checks: tuple[Check, ...] = ()

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    @property
    def status(self) -> str:
        if any(not check.passed for check in self.checks):
            return "fail"
        return "pass" if any(check.applicable for check in self.checks) else "none"

    def failure_message(self) -> str:
        lines = [check.message() for check in self.failures]
        return "threshold violated: " + "; ".join(lines) if lines else ""


def _limit(metric: str, spec: Any, source: str, per_worker: bool) -> list[Limit]:
    if isinstance(spec, Mapping):
        return [
            Limit(metric, bound, float(spec[bound]), source, per_worker)
            for bound in ("min", "max")
            if bound in spec
        ]
    bound = "min" if higher_is_better(metric) else "max"
    return [Limit(metric, bound, float(spec), source, per_worker)]


def _level_limits(level: Mapping[str, Any], source: str) -> dict[tuple[str, bool], list[Limit]]:
    """Limits of one level keyed by (metric, per_worker), so a later level replaces them."""
    limits: dict[tuple[str, bool], list[Limit]] = {}
    for key, spec in level.items():
        if key in ("workers", "per_worker", "tolerance", "distribution"):
            continue
        if key == MAX_WORKER_CV:
            limits[(IMBALANCE_METRIC, False)] = _limit(
                IMBALANCE_METRIC, {"max": spec}, f"{source} {MAX_WORKER_CV}", False
            )
            continue
        limits[(key, False)] = _limit(key, spec, source, False)
    for key, spec in level.get("per_worker", {}).items():
        limits[(key, True)] = _limit(key, spec, f"{source} per_worker", True)
    return limits


def _schema_error(error: jsonschema.ValidationError, where: str) -> ThresholdError:
    path = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    message = error.message
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        unexpected = sorted(set(error.instance) - set(schema.get("properties", {})))
        if unexpected:
            key = f"{path}.{unexpected[0]}" if error.absolute_path else unexpected[0]
            if "patternProperties" in schema:
                return ThresholdError(f"{where}: key {key}: worker counts are positive integers")
            return ThresholdError(
                f"{where}: key {key}: unknown name {unexpected[0]!r} (metrics are: "
                f"{', '.join(METRIC_NAMES)}; levels: defaults, profile.NAME, workers.N, per_worker)"
            )
    return ThresholdError(f"{where}: key {path}: {message}")


def _check_bounds(document: Mapping[str, Any], where: str, path: tuple[str, ...] = ()) -> None:
    """A {min, max} pair that no value can satisfy is a mistake, not a limit."""
    for key, value in document.items():
        if not isinstance(value, Mapping):
            continue
        if set(value) <= {"min", "max"} and {"min", "max"} <= set(value):
            if value["min"] > value["max"]:
                dotted = ".".join((*path, str(key)))
                raise ThresholdError(
                    f"{where}: key {dotted}: min {value['min']:g} is above max"
                    f" {value['max']:g}, so no run could pass"
                )
            continue
        _check_bounds(value, where, (*path, str(key)))


def validate_level(level: Any, where: str) -> None:
    """Validate inline thresholds (marker) against the schema of one level."""
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_LEVEL_WITH_WORKERS).iter_errors(level)
    )
    if error is not None:
        raise _schema_error(error, where)
    _check_bounds(level, where)


@dataclass(frozen=True)
class Thresholds:
    """The parsed thresholds file (possibly empty) and where it came from."""

    document: Mapping[str, Any]
    source: str = ""

    @classmethod
    def empty(cls) -> Thresholds:
        return cls({}, "")

    @classmethod
    def load(cls, path: Path, *, display: str | None = None) -> Thresholds:
        where = display or str(path)
        try:
            with path.open("rb") as handle:
                document = tomllib.load(handle)
        except FileNotFoundError as err:
            raise ThresholdError(f"thresholds file {where} does not exist") from err
        except tomllib.TOMLDecodeError as err:
            raise ThresholdError(f"thresholds file {where} is not valid TOML: {err}") from err
        except OSError as err:
            raise ThresholdError(f"thresholds file {where} cannot be read: {err.strerror}") from err
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(THRESHOLDS_SCHEMA).iter_errors(document)
        )
        if error is not None:
            raise _schema_error(error, f"thresholds file {where}")
        _check_bounds(document, f"thresholds file {where}")
        return cls(document, where)

    def profile_names(self) -> list[str]:
        return sorted(self.document.get("profile", {}))

    def check_profiles(self, known: Iterable[str]) -> None:
        """A limit for a profile that does not exist is a typo, not a no-op."""
        known_names = set(known)
        for name in self.profile_names():
            if name not in known_names:
                raise ThresholdError(
                    f"thresholds file {self.source}: key profile.{name}: no such profile "
                    f"(known: {', '.join(sorted(known_names)) or 'none'})"
                )

    def _levels(
        self,
        profile: str,
        workers: int,
        inline: Mapping[str, Any] | None,
        inline_source: str,
    ) -> list[tuple[Mapping[str, Any], str]]:
        """The levels that apply to a case, least specific first."""
        levels: list[tuple[Mapping[str, Any], str]] = []
        defaults = self.document.get("defaults", {})
        profile_level = self.document.get("profile", {}).get(profile, {})
        file_label = self.source
        levels.append((defaults, f"{file_label} [defaults]"))
        levels.append(
            (
                defaults.get("workers", {}).get(str(workers), {}),
                f"{file_label} [defaults.workers.{workers}]",
            )
        )
        levels.append((profile_level, f"{file_label} [profile.{profile}]"))
        levels.append(
            (
                profile_level.get("workers", {}).get(str(workers), {}),
                f"{file_label} [profile.{profile}.workers.{workers}]",
            )
        )
        if inline:
            levels.append((inline, inline_source))
            levels.append(
                (
                    inline.get("workers", {}).get(str(workers), {}),
                    f"{inline_source} workers.{workers}",
                )
            )
        return levels

    def limits_for(
        self,
        profile: str,
        workers: int,
        inline: Mapping[str, Any] | None = None,
        inline_source: str = "marker fio(thresholds=...)",
    ) -> list[Limit]:
        """The effective limits of one case, most specific level winning per metric."""
        merged: dict[tuple[str, bool], list[Limit]] = {}
        for level, source in self._levels(profile, workers, inline, inline_source):
            merged.update(_level_limits(level, source))
        return [limit for limits in merged.values() for limit in limits]

    def distribution_for(
        self, profile: str, workers: int, inline: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The distribution gate's table for a case (``gate``, ``tolerance_pct``,
        ``shift_tolerance_pct``, ``min_mass_pct``), most specific level winning per key."""
        merged: dict[str, Any] = {}
        for level, _source in self._levels(profile, workers, inline, "marker"):
            merged.update(level.get("distribution", {}))
        return merged

    def tolerances_for(
        self, profile: str, workers: int, inline: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Regression tolerances (percent) set for a case, most specific level winning."""
        merged: dict[str, float] = {}
        for level, _source in self._levels(profile, workers, inline, "marker"):
            merged.update({k: float(v) for k, v in level.get("tolerance", {}).items()})
        return merged

    @property
    def caps(self) -> Mapping[str, Any]:
        """The [caps] table: resource caps (profiles/caps.py), over the defaults and under
        --fio-caps."""
        caps: Mapping[str, Any] = self.document.get("caps", {})
        return caps

    @property
    def gating(self) -> Mapping[str, Any]:
        """The [gating] table: alpha, min_baseline, metrics (all optional)."""
        gating: Mapping[str, Any] = self.document.get("gating", {})
        return gating


def evaluate(result: RunResult, limits: Iterable[Limit]) -> LimitChecks:
    """Apply limits to a result: merged figures, and each worker's own for per_worker."""
    checks: list[Check] = []
    for limit in limits:
        if limit.per_worker:
            for worker in result.workers:
                measured = worker_metrics(worker).get(limit.metric)
                checks.append(Check(limit, measured, worker.name))
        else:
            checks.append(Check(limit, result.metrics.get(limit.metric)))
    return LimitChecks(tuple(checks))
