"""A job file from a handful of parameters, like FIOLoadGen's custom profile form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .jobsdb import JobError

_BLOCK_SIZE = re.compile(r"^\d{1,7}[kKmM]?$")
_SIZE = re.compile(r"^\d{1,6}[kKmMgG]$")


_INTEGER = re.compile(r"^[0-9]{1,12}$")


def _int(spec: Mapping[str, Any], key: str, low: int, high: int, default: int | None) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise JobError(f"custom profile: {key} must be an integer from {low} to {high}")
    # ASCII digits only: int() also takes other scripts' digits or " 1_0 ", no form sends them.
    number = value if isinstance(value, int) else int(value) if _INTEGER.match(value) else low - 1
    if not low <= number <= high:
        raise JobError(f"custom profile: {key} {value!r} must be an integer from {low} to {high}")
    return number


def build_job_file(spec: Mapping[str, Any]) -> str:
    """``pattern`` random|sequential, ``read_pct`` 0-100, ``block_size`` (4k), ``iodepth``,
    ``runtime`` seconds, optional ``size`` (default 256m); errors name the parameter."""
    pattern = spec.get("pattern", "random")
    if pattern not in ("random", "sequential"):
        raise JobError(f"custom profile: pattern {pattern!r} must be random or sequential")
    read_pct = _int(spec, "read_pct", 0, 100, 100)
    iodepth = _int(spec, "iodepth", 1, 1024, 4)
    runtime = _int(spec, "runtime", 1, 86400, 30)
    block_size = str(spec.get("block_size", "4k"))
    if not _BLOCK_SIZE.match(block_size):
        raise JobError(f"custom profile: block_size {block_size!r} is not like 4k or 1m")
    size = str(spec.get("size", "256m"))
    if not _SIZE.match(size):
        raise JobError(f"custom profile: size {size!r} is not like 256m or 1g")
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
