"""One number format for every view: 3 significant digits and a unit, never scientific.

The terminal summary, ``fioloadgen compare``, the pytest-html extras and the pygal charts
use these; the site's and the UI's JavaScript (assets/charts.js) follow the same
rules, so ``29.1k`` IOPS and ``1.20 ms`` read the same everywhere.
"""

from __future__ import annotations

import math

#: SI prefixes for counts (IOPS): 29100 -> 29.1k.
_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
#: Latency units, from a value in milliseconds.
_TIME_UNITS = ((1000.0, "s"), (1.0, "ms"), (1e-3, "µs"), (1e-6, "ns"))


def sig3(value: float) -> str:
    """3 significant digits in plain notation: 0.0123, 1.20, 12.3, 123, 1230."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    digits = 3 - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    # Rounding can carry into one more digit (9.996 -> 10.0): recompute for it.
    if rounded and math.floor(math.log10(abs(rounded))) != math.floor(math.log10(abs(value))):
        digits -= 1
    return f"{rounded:.{max(digits, 0)}f}"


def si(value: float) -> str:
    """A count with an SI prefix: 29123 -> 29.1k, 1234567 -> 1.23M, 512 -> 512."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale * 0.9995:
            return sig3(value / scale) + prefix
    return sig3(value)


def latency(ms: float) -> str:
    """A latency given in milliseconds, in the unit that keeps 1-3 integer digits."""
    for scale, unit in _TIME_UNITS:
        if abs(ms) >= scale * 0.9995:
            return f"{sig3(ms / scale)} {unit}"
    return f"{sig3(ms / 1e-6)} ns" if ms else "0 ms"


def metric(name: str, value: float | None) -> str:
    """A metric value by its name's unit (``-`` when not measured)."""
    if value is None or not math.isfinite(value):
        return "-"
    if name.endswith("_ms"):
        return latency(value)
    if name.endswith("bw_mib_s"):
        return f"{sig3(value)} MiB/s"
    if name.endswith("iops") or name == "iops_per_worker":
        return si(value)
    return sig3(value)


def percent(delta: float | None) -> str:
    """A signed change in percent, to a tenth below 100% (a change of 0.01% is noise, not
    a figure worth three digits): +12.3%, -0.4%, +0.0%, +120%."""
    if delta is None or not math.isfinite(delta):
        return "-"
    if abs(delta) < 99.95:
        return f"{delta:+.1f}%"
    return f"{'+' if delta > 0 else ''}{sig3(delta)}%"


def plain(name: str, value: float | None) -> str:
    """A metric value without its unit (a table whose header names the unit)."""
    if value is None or not math.isfinite(value):
        return "-"
    if name.endswith("iops") or name == "iops_per_worker":
        return si(value)
    return sig3(value)


def p_value(value: float) -> str:
    """A p-value: 3 significant digits down to 0.0001, below that "<0.0001"."""
    return "<0.0001" if value < 0.0001 else sig3(value)


#: Binary prefixes for byte counts.
_BYTE_UNITS = ((1024.0**4, "TiB"), (1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB"))


def human_bytes(count: float) -> str:
    """A byte count in the binary unit that keeps 1-3 integer digits: 21474836480 ->
    20.0 GiB, 4096 -> 4.00 KiB, 512 -> 512 B."""
    for scale, unit in _BYTE_UNITS:
        if abs(count) >= scale * 0.9995:
            return f"{sig3(count / scale)} {unit}"
    return f"{sig3(count)} B"
