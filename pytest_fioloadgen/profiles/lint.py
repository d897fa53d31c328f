"""Profile lint: checks that a profile measures what it seems to measure.

The safety policy (profiles.policy) decides whether a profile may run at all; lint says
whether its figures will mean anything: jobs that run concurrently, latency that is not
measured, the page cache, time-based runs without a warm-up or an end, reads of data
that was never written. Each finding has a stable code (for suppressing and grepping), a
severity and a one-line reason naming the job. It runs in ``fioloadgen profile check``,
at collection (errors, and warnings under ``fio_lint_strict``, stop the test there) and
on every run (its findings become the run's notes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .model import Profile, Section

WARN = "warn"
ERROR = "error"

#: code -> (short name, severity). Codes are stable: never reuse or renumber one.
CHECKS: dict[str, tuple[str, str]] = {
    "FL001": ("concurrent-jobs", WARN),
    "FL002": ("no-latency", ERROR),
    "FL003": ("buffered-io", WARN),
    "FL004": ("fits-in-cache", WARN),
    "FL005": ("no-ramp", WARN),
    "FL006": ("endless", ERROR),
    "FL007": ("rate-cap", WARN),
    "FL008": ("unwritten-read", WARN),
}
#: Below this a direct-I/O working set may live in a device's or controller's own cache.
DEVICE_CACHE_BYTES = 16 * 1024**2
_READS = frozenset({"read", "randread", "rw", "readwrite", "randrw", "trim", "randtrim"})
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


@dataclass(frozen=True)
class Finding:
    """One lint finding: code, severity and a one-line reason."""

    code: str
    reason: str

    @property
    def name(self) -> str:
        return CHECKS[self.code][0]

    @property
    def severity(self) -> str:
        return CHECKS[self.code][1]

    def is_error(self, *, strict: bool = False) -> bool:
        return self.severity == ERROR or strict

    def line(self) -> str:
        """'FL003 buffered-io (warn): job 'x' ...' as notes and the CLI print it."""
        return f"{self.code} {self.name} ({self.severity}): {self.reason}"


@dataclass(frozen=True)
class LintContext:
    """What lint knows of where the profile runs."""

    workers: int = 1
    #: Memory of the machine whose page cache serves buffered I/O (None: unknown).
    memory_bytes: int | None = None
    #: --fio-prefill writes every read profile's data before it runs.
    prefill: bool = False


def size_bytes(text: str | None) -> int | None:
    """A fio size (``128m``, ``1g``, ``4096``) in bytes; None for percentages and values
    fio computes."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)i?b?\s*", text.lower())
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def _set(options: Mapping[str, str | None], key: str) -> bool:
    if key not in options:
        return False
    value = options[key]
    return value is None or value.strip() not in ("0", "false")


def _mib(value: int) -> str:
    return f"{value / 1024**2:,.0f} MiB" if value < 1024**3 else f"{value / 1024**3:,.1f} GiB"


def _rw(options: Mapping[str, str | None]) -> str:
    return (options.get("rw") or options.get("readwrite") or "read").split(":")[0].strip()


def _job_findings(
    section: Section, options: Mapping[str, str | None], context: LintContext
) -> list[Finding]:
    job = f"job '{section.name}'"
    found: list[Finding] = []
    for key in ("gtod_reduce", "disable_clat", "disable_lat"):
        if _set(options, key):
            found.append(
                Finding(
                    "FL002",
                    f"{job} sets {key}: completion latency is not measured, so"
                    " every latency figure and gate is empty",
                )
            )
            break
    direct = _set(options, "direct") and not _set(options, "buffered")
    numjobs_text = (options.get("numjobs") or "1").strip()
    numjobs = int(numjobs_text) if numjobs_text.isdigit() else 1
    size = size_bytes(options.get("size"))
    working_set = size * numjobs * context.workers if size is not None else None
    if not direct:
        found.append(
            Finding(
                "FL003",
                f"{job} uses buffered I/O (no direct=1): its figures include"
                " the page cache, not only the storage",
            )
        )
        if working_set is not None and context.memory_bytes and working_set < context.memory_bytes:
            found.append(
                Finding(
                    "FL004",
                    f"{job} works on {_mib(working_set)} ({options.get('size')} x {numjobs}"
                    f" job(s) x {context.workers} worker(s)), which fits in the"
                    f" {_mib(context.memory_bytes)} of memory: buffered reads come from the"
                    " page cache",
                )
            )
    elif working_set is not None and working_set < DEVICE_CACHE_BYTES:
        found.append(
            Finding(
                "FL004",
                f"{job} works on {_mib(working_set)}, small enough to be served"
                " from a device or controller cache; use a larger size",
            )
        )
    if _set(options, "time_based"):
        runtime = options.get("runtime")
        if runtime is None or runtime.strip() in ("", "0"):
            found.append(
                Finding("FL006", f"{job} is time_based without a runtime: it never ends on its own")
            )
        if options.get("ramp_time") is None:
            found.append(
                Finding(
                    "FL005",
                    f"{job} is time_based without ramp_time: its first"
                    " seconds (empty queues, cold caches) count in every figure",
                )
            )
    filename = options.get("filename") or ""
    reads = _rw(options) in _READS
    if reads and not context.prefill:
        never_written = filename.startswith("/dev/") or options.get("allow_file_create") == "0"
        if never_written:
            found.append(
                Finding(
                    "FL008",
                    f"{job} reads {filename or 'existing files'} that this run"
                    " never wrote (thin-provisioned storage answers unwritten blocks"
                    " without touching the disk): use --fio-prefill",
                )
            )
    return found


def lint(profile: Profile, context: LintContext | None = None) -> list[Finding]:
    """Every finding for ``profile`` (as it will run: overrides and placement applied)."""
    context = context or LintContext()
    jobs = profile.effective_job_options()
    found: list[Finding] = []
    for index, (section, options) in enumerate(jobs):
        if index > 0 and not (_set(options, "stonewall") or "wait_for" in options):
            previous = jobs[index - 1][0].name
            found.append(
                Finding(
                    "FL001",
                    f"jobs '{previous}' and '{section.name}' run at the same time"
                    " (no stonewall): each one's figures include the other's load",
                )
            )
        found += _job_findings(section, options, context)
    # One finding per code and reason: numjobs sections repeat themselves otherwise.
    return list(dict.fromkeys(found))


def blocking(findings: Sequence[Finding], *, strict: bool = False) -> list[Finding]:
    """The findings that stop a profile (errors; warnings too when strict)."""
    return [finding for finding in findings if finding.is_error(strict=strict)]


def rate_cap_finding(
    profile: Profile, iops_per_worker: Sequence[float], *, tolerance: float = 0.05
) -> Finding | None:
    """A rate-limited profile checked against its cap after the run: a worker well below
    its cap could not sustain it (its latency is a saturation figure); one above it means
    the cap did not hold. None when the profile has no rate_iops cap or every worker kept
    it."""
    caps = []
    for _section, options in profile.effective_job_options():
        text = options.get("rate_iops")
        if text is None or not text.split(",")[0].strip().isdigit():
            return None
        numjobs_text = options.get("numjobs") or "1"
        jobs = int(numjobs_text) if numjobs_text.isdigit() else 1
        caps.append(int(text.split(",")[0]) * jobs)
    if not caps or not iops_per_worker:
        return None
    cap = float(sum(caps))
    low, high = min(iops_per_worker), max(iops_per_worker)
    if low < cap * (1 - 2 * tolerance):
        return Finding(
            "FL007",
            f"rate_iops caps each worker at {cap:,.0f} IOPS but one reached only {low:,.0f}:"
            " the storage could not keep the rate, its latency is at saturation",
        )
    if high > cap * (1 + tolerance):
        return Finding(
            "FL007", f"rate_iops caps each worker at {cap:,.0f} IOPS but one did {high:,.0f}"
        )
    return None
