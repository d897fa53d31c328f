"""Resource caps: what one profile may make fio consume, each raised only explicitly.

The safety policy (policy.py) decides what a profile may touch; the caps bound how much
of the machine it may take. A profile beyond a cap is refused with one line naming the
numbers and the cap; the user raises a cap (or lifts it with ``none``) with
``--fio-caps KEY=VALUE,...`` (ini ``fio_caps``, env ``FIO_CAPS``) or a ``[caps]`` table in
the thresholds file; the option wins over the file, key by key.

=============  ========  ====================================================================
key            default   bounds
=============  ========  ====================================================================
numjobs        64        jobs a worker runs at once (numjobs summed over a phase's jobs)
memory         1g        a worker's I/O buffers at once: iodepth x largest block x numjobs
time           1h        startdelay + ramp_time + runtime (the longest job of each phase,
                         phases added); the runner's hang timeout follows it
disk_margin    10%       local targets: what must stay free of the file system (a % of its
                         size, or a size) after size x numjobs x workers is laid out
=============  ========  ====================================================================

Values: ``numjobs`` a count; ``memory`` and a ``disk_margin`` size a number with an optional
``k``/``m``/``g``/``t`` (powers of 1024); ``time`` seconds or a number with ``s``/``m``/``h``/
``d``; ``disk_margin`` also a percentage. ``none`` lifts a cap.

Values fio computes from ``$ncpus``, ``$pagesize`` or ``$mb_memory`` are judged with this
machine's numbers (the local backend's workers are this machine).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigError, ProfileError
from ..numbers import human_bytes
from .fio_values import size_bytes, sizes_in
from .model import Profile

__all__ = [
    "CAP_KEYS",
    "DEFAULT_CAPS",
    "Caps",
    "DiskMargin",
    "DiskNeed",
    "check_caps",
    "check_disk",
    "disk_need",
    "parse_caps",
]

CAP_KEYS = ("numjobs", "memory", "time", "disk_margin")
_UNLIMITED = ("none", "off", "unlimited")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:([kmgtp])i?b?)?$", re.IGNORECASE)
_TIME = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$", re.IGNORECASE)
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")
_TIME_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: How a refusal says where else a cap can be raised.
_ALSO = "ini fio_caps, env FIO_CAPS, or [caps] in the thresholds file"


@dataclass(frozen=True)
class DiskMargin:
    """What must stay free of a file system: a fraction of its size, or bytes."""

    fraction: float = 0.0
    size: int = 0

    def of(self, total: int) -> int:
        return int(total * self.fraction) + self.size

    def describe(self) -> str:
        if self.fraction:
            return f"{self.fraction * 100:g}%"
        return human_bytes(self.size)


@dataclass(frozen=True)
class Caps:
    """The caps in force (None: lifted) and where each came from."""

    numjobs: int | None = 64
    memory: int | None = 1024**3
    time_s: float | None = 3600.0
    disk_margin: DiskMargin | None = DiskMargin(fraction=0.10)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")

    def with_values(self, values: Mapping[str, Any], source: str) -> Caps:
        """These caps with ``values`` (as parse_caps returns them) set from ``source``."""
        if not values:
            return self
        fields = {"time": "time_s"}
        changed: dict[str, Any] = {fields.get(key, key): value for key, value in values.items()}
        sources = {**self.sources, **{key: source for key in values}}
        return Caps(
            numjobs=changed.get("numjobs", self.numjobs),
            memory=changed.get("memory", self.memory),
            time_s=changed.get("time_s", self.time_s),
            disk_margin=changed.get("disk_margin", self.disk_margin),
            sources=sources,
        )


DEFAULT_CAPS = Caps()


def _parse_size(text: str, where: str, key: str) -> int:
    match = _SIZE.match(text)
    if match is None:
        raise ConfigError(f"{where}: {key}={text!r} is not a size (like 512m, 4g)")
    power = "kmgtp".index(match.group(2).lower()) + 1 if match.group(2) else 0
    value = int(float(match.group(1)) * 1024**power)
    if value <= 0:
        raise ConfigError(f"{where}: {key}={text!r} must be more than 0")
    return value


def _parse_one(key: str, text: str, where: str) -> Any:
    if text.lower() in _UNLIMITED:
        return None
    if key == "numjobs":
        if not text.isdigit() or int(text) < 1:
            raise ConfigError(f"{where}: numjobs={text!r} is not a positive integer")
        return int(text)
    if key == "memory":
        return _parse_size(text, where, key)
    if key == "time":
        match = _TIME.match(text)
        if match is None or float(match.group(1)) <= 0:
            raise ConfigError(f"{where}: time={text!r} is not a duration (like 600, 90m, 2h)")
        return float(match.group(1)) * _TIME_UNITS[match.group(2).lower()]
    percent = _PERCENT.match(text)
    if percent is not None:
        fraction = float(percent.group(1)) / 100
        if fraction >= 1:
            raise ConfigError(f"{where}: disk_margin={text!r} must be under 100%")
        return DiskMargin(fraction=fraction)
    return DiskMargin(size=_parse_size(text, where, key))


def parse_caps(items: Iterable[str] | Mapping[str, Any], where: str) -> dict[str, Any]:
    """``KEY=VALUE`` items (or a thresholds file's table) -> {key: value or None}; a
    ConfigError naming ``where`` for an unknown key or a bad value."""
    pairs: list[tuple[str, str]] = []
    if isinstance(items, Mapping):
        pairs = [(str(key), str(value)) for key, value in items.items()]
    else:
        for item in items:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"{where}: {item!r} is not KEY=VALUE (like numjobs=128)")
            pairs.append((key, value))
    caps: dict[str, Any] = {}
    for key, value in pairs:
        key = key.strip()
        if key not in CAP_KEYS:
            raise ConfigError(f"{where}: unknown cap {key!r} (caps: {', '.join(CAP_KEYS)})")
        caps[key] = _parse_one(key, value.strip(), where)
    return caps


# -- what a profile asks for -------------------------------------------------------------


def _number(options: Mapping[str, str | None], key: str, default: int) -> int:
    text = options.get(key)
    kb_base = _kb_base(options)
    value = size_bytes(text, kb_base) if text is not None else None
    return default if value is None or value < 0 else value


def _kb_base(options: Mapping[str, str | None]) -> int:
    text = options.get("kb_base")
    return 1000 if text is not None and text.strip() == "1000" else 1024


def _largest_block(options: Mapping[str, str | None]) -> int:
    kb_base = _kb_base(options)
    sizes = [
        size
        for key in ("bs", "bsrange", "bssplit")
        if options.get(key)
        for size in sizes_in(options.get(key) or "", kb_base)
    ]
    return max(sizes, default=4096)


def _is_on(options: Mapping[str, str | None], key: str) -> bool:
    if key not in options:
        return False
    value = options[key]
    return value is None or value.strip().lower() not in ("0", "false", "no", "off")


def _refusal(profile: Profile, what: str, cap: str, caps: Caps, raised: str) -> ProfileError:
    origin = caps.source_of(cap)
    origin = "default" if origin == "default" else f"from {origin}"
    return ProfileError(
        f"profile '{profile.label}': {what} ({origin}); if you mean it: --fio-caps"
        f" {cap}={raised} ({_ALSO})"
    )


def check_caps(profile: Profile, caps: Caps) -> None:
    """Refuse a profile beyond a cap (ProfileError naming its numbers and the cap)."""
    for phase in profile.phases():
        if caps.numjobs is not None:
            jobs = sum(_number(options, "numjobs", 1) for options in phase)
            if jobs > caps.numjobs:
                raise _refusal(
                    profile,
                    f"{jobs} jobs at once per worker (numjobs over a phase's jobs) exceed the"
                    f" numjobs cap of {caps.numjobs}",
                    "numjobs",
                    caps,
                    str(jobs),
                )
        if caps.memory is not None:
            buffers = [
                (
                    _number(options, "iodepth", 1),
                    _largest_block(options),
                    _number(options, "numjobs", 1),
                )
                for options in phase
            ]
            memory = sum(depth * block * jobs for depth, block, jobs in buffers)
            if memory > caps.memory:
                depth, block, jobs = max(buffers, key=lambda b: b[0] * b[1] * b[2])
                raise _refusal(
                    profile,
                    f"I/O buffers of {human_bytes(memory)} per worker at once (largest job:"
                    f" iodepth {depth} x block {human_bytes(block)} x numjobs {jobs}) exceed"
                    f" the memory cap of {human_bytes(caps.memory)}",
                    "memory",
                    caps,
                    _size_text(memory),
                )
    if caps.time_s is not None:
        asked = profile.time_bound_s
        if asked > caps.time_s:
            raise _refusal(
                profile,
                f"startdelay + ramp_time + runtime come to {_duration(asked)} (phases added),"
                f" over the time cap of {_duration(caps.time_s)}",
                "time",
                caps,
                _time_text(asked),
            )


def _size_text(count: int) -> str:
    """A cap value at least ``count`` bytes, in the largest whole unit: 2048m, 800g."""
    if count >= 1024**3:
        return f"{math.ceil(count / 1024**3)}g"
    return f"{math.ceil(count / 1024**2)}m"


def _time_text(seconds: float) -> str:
    """A time cap at least ``seconds``, in the largest whole unit: 31d, 2h, 90m."""
    for unit, scale in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= scale:
            return f"{math.ceil(seconds / scale)}{unit}"
    return f"{math.ceil(seconds)}s"


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


@dataclass(frozen=True)
class DiskNeed:
    """What a profile lays out per worker: bytes, the largest job's figures for the
    message, and the option that fills the file system (fill_device), if any."""

    bytes: int
    size: int
    jobs: int
    fills: str | None = None


def disk_need(profile: Profile) -> DiskNeed:
    """Bytes of files one worker lays out: per job the larger of ``size`` and
    ``filesize x nrfiles``, times numjobs, over every job (files outlive their phase).
    A size fio derives (a percentage of an existing file) counts nothing."""
    total = 0
    largest = (0, 0)
    for phase in profile.phases():
        for options in phase:
            for key in ("fill_device", "fill_fs"):
                if _is_on(options, key):
                    return DiskNeed(0, 0, 0, fills=key)
            kb_base = _kb_base(options)
            size = _number(options, "size", 0)
            filesize = max(sizes_in(options.get("filesize") or "", kb_base), default=0)
            per_job = max(size, filesize * _number(options, "nrfiles", 1))
            jobs = _number(options, "numjobs", 1)
            total += per_job * jobs
            if per_job * jobs > largest[0] * largest[1]:
                largest = (per_job, jobs)
    return DiskNeed(total, largest[0], largest[1])


def check_disk(
    profile: Profile,
    caps: Caps,
    *,
    workers: int,
    target: str,
    free: int,
    total: int,
    reusable: int = 0,
) -> None:
    """Refuse a profile whose files (size x numjobs x workers) would leave less than the
    disk margin free on the target's file system. ``reusable``: bytes this session's
    files already take there (a profile rewrites its files in place)."""
    if caps.disk_margin is None:
        return
    need = disk_need(profile)
    margin = caps.disk_margin.of(total)
    usable = max(0, free + reusable - margin)
    if need.fills is not None:
        raise _refusal(
            profile,
            f"{need.fills} fills the file system of target {target} (it keeps"
            f" {caps.disk_margin.describe()} of it free: the disk_margin cap)",
            "disk_margin",
            caps,
            "none",
        )
    needed = need.bytes * workers
    if needed <= usable:
        return
    raise _refusal(
        profile,
        f"needs {human_bytes(needed)} on target {target} (largest job: size"
        f" {human_bytes(need.size)} x numjobs {need.jobs}; x {workers} worker(s)) but"
        f" {human_bytes(free)} is free and {human_bytes(margin)}"
        f" (disk_margin {caps.disk_margin.describe()}) must stay free",
        "disk_margin",
        caps,
        "none",
    )
