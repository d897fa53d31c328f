"""A job file from a handful of parameters, like FIOLoadGen's custom profile form.

Every parameter is checked here, in Python, against bounds within which fio's own parser
accepts the file (tests/unit/test_server_builder.py runs fio on the extremes): a preview
costs no fio process, so anyone may ask for one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .jobsdb import JobError

BLOCK_SIZE_FORM = re.compile(r"^(\d{1,8})([kKmM]?)$")
SIZE_FORM = re.compile(r"^(\d{1,7})([kKmMgG])$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
#: Every job file the builder can make is one fio's parser accepts (a test runs fio on the
#: extremes), so a preview needs no fio process: 512 B sectors up to 64 MiB per I/O.
MIN_BLOCK, MAX_BLOCK = 512, 64 << 20
#: At least one block; at most 64 TiB, more than any worker directory holds.
MIN_SIZE, MAX_SIZE = 1 << 20, 64 << 40
_INTEGER = re.compile(r"^[0-9]{1,12}$")
#: The integer parameters' ranges (low, high).
READ_PCT = (0, 100)
IODEPTH = (1, 1024)
RUNTIME_S = (1, 86400)


def _int(spec: Mapping[str, Any], key: str, low: int, high: int, default: int | None) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise JobError(f"custom profile: {key} must be an integer from {low} to {high}")
    # ASCII digits only: int() also takes other scripts' digits or " 1_0 ", no form sends them.
    number = value if isinstance(value, int) else int(value) if _INTEGER.match(value) else low - 1
    if not low <= number <= high:
        raise JobError(f"custom profile: {key} {value!r} must be an integer from {low} to {high}")
    return number


def _bytes(
    spec: Mapping[str, Any],
    key: str,
    default: str,
    form: re.Pattern[str],
    low: int,
    high: int,
    example: str,
) -> tuple[str, int]:
    """A fio size (``4k``) within [low, high] bytes: (as given, in bytes)."""
    value = spec.get(key, default)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    match = form.match(value) if isinstance(value, str) else None
    if match is None:
        raise JobError(f"custom profile: {key} {str(value)[:40]!r} is not like {example}")
    number = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if not low <= number <= high:
        raise JobError(
            f"custom profile: {key} {value!r} must be from {human_size(low)} to {human_size(high)}"
        )
    return value, number


def human_size(size: int) -> str:
    for unit, factor in (("t", 1 << 40), ("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def build_job_file(spec: Mapping[str, Any]) -> str:
    """``pattern`` random|sequential, ``read_pct`` 0-100, ``block_size`` (4k), ``iodepth``,
    ``runtime`` seconds, optional ``size`` (default 256m); errors name the parameter."""
    pattern = spec.get("pattern", "random")
    if pattern not in ("random", "sequential"):
        raise JobError(f"custom profile: pattern {pattern!r} must be random or sequential")
    read_pct = _int(spec, "read_pct", *READ_PCT, 100)
    iodepth = _int(spec, "iodepth", *IODEPTH, 4)
    runtime = _int(spec, "runtime", *RUNTIME_S, 30)
    block_size, block = _bytes(
        spec, "block_size", "4k", BLOCK_SIZE_FORM, MIN_BLOCK, MAX_BLOCK, "4k or 1m"
    )
    size, total = _bytes(spec, "size", "256m", SIZE_FORM, MIN_SIZE, MAX_SIZE, "256m or 1g")
    if block > total:
        raise JobError(f"custom profile: block_size {block_size} is larger than size {size}")
    prefix = "rand" if pattern == "random" else ""
    if read_pct == 100:
        rw = f"{prefix}read"
    elif read_pct == 0:
        rw = f"{prefix}write"
    else:
        rw = f"{prefix}rw" if prefix else "rw"
    lines = [
        f"# Custom: {pattern} {read_pct}% read, bs={block_size}, iodepth={iodepth}, "
        f"runtime={runtime}s",
        "[global]",
        "ioengine=libaio",
        f"iodepth={iodepth}",
        "time_based",
        f"runtime={runtime}",
        f"size={size}",
        "",
        "[custom]",
        f"rw={rw}",
        f"bs={block_size}",
    ]
    if 0 < read_pct < 100:
        lines.append(f"rwmixread={read_pct}")
    if read_pct < 100:
        lines.append("refill_buffers")
    return "\n".join(lines) + "\n"
