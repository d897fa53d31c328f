"""How fio 3.33 turns an option's text into the value it uses.

Read from fio's source at tag fio-3.33 (options.c ``fio_keyword_replace``, ``bc_calc``;
parse.c ``str_to_decimal``, ``get_mult_bytes``, ``get_mult_time``) and checked against
``fio --parse-only --debug=parse`` (tests/integration/test_fio_values.py):

* **Keywords.** In every ``key=value`` line of a job, fio replaces ``$pagesize``,
  ``$mb_memory`` and ``$ncpus`` (case-sensitive, anywhere in the line) by numbers of the
  machine it runs on.
* **bc.** When it replaced one and the line holds ``+``, ``-``, ``*`` or ``/`` (the key
  counts: ``hugepage-size``) and no ``'``, fio runs ``sh -c "echo '<value>' | bc"`` and
  uses what bc prints as the value. dash's ``echo`` turns ``\\n`` and ``\\0NNN`` into real
  characters and bc prints strings, so the value fio uses can be anything. The policy
  refuses every such line (``sends_to_bc``): fio never starts ``sh`` or ``bc`` for a
  profile the harness runs. (Debian's fio is built without fio's own in-process
  arithmetic, ``CONFIG_ARITHMETIC``: ``size=(1+1)m`` is refused by fio itself.)
* **Numbers.** ``strtoll`` (base 16 when ``0x`` appears anywhere), then a unit looked up
  right after the digits: ``k``/``m``/``g``/``t``/``p`` are powers of ``kb_base`` (1024 by
  default) and, fio's old quirk, ``kib``/``mib``/... are powers of 1000 then (and the other
  way round under ``kb_base=1000``); a ``.`` ends the number (``1.5g`` is 1 byte). Times
  (``runtime``, ``ramp_time``, ``startdelay``) are seconds without a unit; ``us``/``ms``
  prefixes, exactly ``s``, ``m``, ``h``, ``d``, and anything else is microseconds.
  Integer options (``numjobs``, ``iodepth``) are read as sizes too: ``numjobs=1k`` is 1024.
"""

from __future__ import annotations

import functools
import os
import re

__all__ = [
    "KEYWORDS",
    "keyword_values",
    "sends_to_bc",
    "size_bytes",
    "sizes_in",
    "substituted",
    "time_s",
]

#: fio's keywords, in the order fio replaces them.
KEYWORDS = ("$pagesize", "$mb_memory", "$ncpus")
#: Characters that make fio hand a line with a keyword to bc.
_BC_OPERATORS = frozenset("+-*/")

_LEADING_NUMBER = re.compile(r"\s*[+-]?(0[xX][0-9a-fA-F]+|\d+)")
_SEPARATORS = ":-,/"
_TIME_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@functools.lru_cache(maxsize=1)
def keyword_values() -> dict[str, str]:
    """The numbers fio replaces its keywords with on this machine (fio_keywords_init:
    the page size, physical memory in MiB, configured CPUs)."""
    page = os.sysconf("SC_PAGE_SIZE")
    memory_mb = os.sysconf("SC_PHYS_PAGES") * page // (1024 * 1024)
    cpus = os.sysconf("SC_NPROCESSORS_CONF")
    return {"$pagesize": str(page), "$mb_memory": str(memory_mb), "$ncpus": str(cpus)}


def sends_to_bc(line: str) -> bool:
    """Whether fio would evaluate ``line`` (a whole ``key=value``) with ``sh`` and ``bc``.

    fio also skips bc for lines of 128 characters or more; a line that long with a keyword
    and an operator is counted here too: what fio would then parse is no number either.
    """
    if "=" not in line or "'" in line:
        return False
    if not any(keyword in line for keyword in KEYWORDS):
        return False
    return any(char in _BC_OPERATORS for char in line)


def substituted(text: str, values: dict[str, str] | None = None) -> str:
    """``text`` with fio's keywords replaced as fio replaces them (a line that fio sends
    to bc is refused before this matters)."""
    values = keyword_values() if values is None else values
    for keyword in KEYWORDS:
        text = text.replace(keyword, values[keyword])
    return text


def _strtoll(text: str) -> tuple[int, str] | None:
    """The integer ``strtoll`` reads at the start of ``text`` and what follows, or None."""
    base16 = "0x" in text or "0X" in text
    stripped = text.lstrip()
    sign = 1
    if stripped[:1] in ("+", "-"):
        sign = -1 if stripped[0] == "-" else 1
        stripped = stripped[1:]
    if base16:
        digits = re.match(r"(?:0[xX])?([0-9a-fA-F]+)", stripped)
        if digits is None:
            return None
        return sign * int(digits.group(1), 16), stripped[digits.end() :]
    digits = re.match(r"\d+", stripped)
    if digits is None:
        return None
    return sign * int(digits.group(0)), stripped[digits.end() :]


def _unit_start(text: str) -> str:
    """What fio's get_mult_* look at: the text after the leading digits and signs (a sign
    counts only before the first digit)."""
    index = 0
    digit_seen = False
    while index < len(text):
        char = text[index]
        if char.isdigit():
            digit_seen = True
        elif char not in "+-" or digit_seen:
            break
        index += 1
    return text[index:]


def _byte_multiplier(text: str, kb_base: int) -> int | None:
    """get_mult_bytes: the unit's multiplier; None for a percentage."""
    rest = text if len(text) < 2 else _unit_start(text)
    if len(text) >= 2 and not (rest[:1].isalpha() or rest[:1] == "%"):
        return 1
    unit = rest.lower()
    for index, char in enumerate(unit):
        if char in _SEPARATORS:
            unit = unit[:index]
            break
    opposite = {1000: 1024, 1024: 1000}.get(kb_base, kb_base)
    for power, prefix in enumerate(("kib", "mib", "gib", "tib", "pib"), start=1):
        if unit.startswith(prefix):
            return int(opposite**power)
    for power, prefix in enumerate("kmgtp", start=1):
        if unit.startswith(prefix):
            return int(kb_base**power)
    if unit.startswith("%"):
        return None
    return 1


def size_bytes(text: str, kb_base: int = 1024) -> int | None:
    """A size (or an integer option) as fio reads it: only what precedes the first ','
    (fio's per-direction lists). None for what fio would refuse, a percentage or a zone
    count."""
    text = text.split(",", 1)[0]
    if not text.strip() or text.rstrip().endswith("z"):
        return None
    parsed = _strtoll(text)
    if parsed is None:
        return None
    multiplier = _byte_multiplier(text, kb_base)
    if multiplier is None:
        return None
    return parsed[0] * multiplier


def sizes_in(text: str, kb_base: int = 1024) -> list[int]:
    """Every size in a block-size list, range or split (``4k,16k``, ``1k-64k``,
    ``4k/50:64k/50``): what bounds the largest buffer a job allocates."""
    found = []
    for part in re.split(r"[,:]", text):
        for piece in part.split("-"):
            size_text = piece.split("/", 1)[0]
            size = size_bytes(size_text, kb_base) if size_text.strip() else None
            if size is not None:
                found.append(size)
    return found


def time_s(text: str, *, ranged: bool = False) -> float | None:
    """Seconds for a time option (runtime, ramp_time, startdelay), read as fio reads it.

    fio parses a value, then again from after each ',', ':' or '-' in it (parse.c
    handle_option); only a ranged option (startdelay) keeps the later parts, as the
    range's upper end, even when the first part is no time at all (``x-30d``). So a
    ranged value counts its longest part; a plain one its first. None when fio would
    refuse it."""
    if not ranged:
        return _one_time_s(text.split(",", 1)[0])
    starts = [0] + [match.end() for match in re.finditer(r"[,:-]", text)]
    parts = [_one_time_s(text[start:].split(",", 1)[0]) for start in starts]
    found = [part for part in parts if part is not None]
    return max(found) if found else None


def _one_time_s(text: str) -> float | None:
    parsed = _strtoll(text)
    if parsed is None:
        return None
    number = parsed[0]
    # get_mult_time: past every digit and sign, a letter starts the unit.
    unit = text.lstrip("0123456789+-")
    if not unit[:1].isalpha():
        return float(number)
    unit = unit.lower()
    if unit.startswith("us"):
        return number * 1e-6
    if unit.startswith("ms"):
        return number * 1e-3
    return number * _TIME_UNITS.get(unit, 1e-6)
