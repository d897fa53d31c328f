"""What a fault is, as a user writes it: a name, when, for how long, and its parameters.

The same spec comes from three places and reads the same in each:

* the command line, ini and environment: ``--fio-fault 'throttle-target:iops=200,at=3s,for=3s'``
  (``NAME:key=value,...``; a value with commas or spaces in double quotes);
* the ``fio`` marker: ``@pytest.mark.fio(fault="pause-worker:worker=2,at=10s,for=3s")`` or
  a spec made in Python;
* Python: ``fio_run(case, faults=[throttle_target(iops=200, at=10, duration=5)])``.

``at`` is seconds after the measurement starts (the client's start plus the profile's
``ramp_time``; fio 3.33 reports no job start); ``for`` how long the fault lasts before its
undo (a fault without one, like ``kill-worker``, may omit it). A fault and its parameters
are part of the case's identity: its id carries a tag (``fault-throttle``) and its history
key the whole canonical spec, so a case under a fault never shares history with the
undisturbed case.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import FaultError

#: Short tags of the built-in faults in case ids (others: their own name).
TAGS = {
    "throttle-target": "throttle",
    "pause-worker": "pause",
    "kill-worker": "kill",
    "noisy-neighbor": "noisy",
    "delete-pod": "delete-pod",
    "drain-node": "drain",
    "command": "command",
    "call": "call",
}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, where: str) -> float:
    """Seconds from ``3``, ``3s``, ``500ms``, ``2m``; a FaultError naming ``where``."""
    match = _DURATION.match(str(text))
    if match is None:
        raise FaultError(f"{where}: {text!r} is not a duration (like 3s, 500ms, 2m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _seconds(value: float) -> str:
    return f"{value:g}s"


@dataclass(frozen=True)
class FaultSpec:
    """One fault of a case. ``params`` hold the fault's own keys as text (``at`` and
    ``for`` are fields). ``action``/``undo`` are Python callables for ``call`` faults,
    which only Python can give (not part of the identity beyond their names)."""

    name: str
    at_s: float
    for_s: float | None = None
    params: tuple[tuple[str, str], ...] = ()
    action: Callable[[], Any] | None = field(default=None, compare=False)
    undo: Callable[[], Any] | None = field(default=None, compare=False)

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.params).get(key, default)

    @property
    def tag(self) -> str:
        """The tag in case ids: ``fault-throttle``."""
        return "fault-" + TAGS.get(self.name, self.name)

    def canonical(self) -> str:
        """The spec in one form (keys sorted, durations in seconds): the identity."""
        parts = [f"at={_seconds(self.at_s)}"]
        if self.for_s is not None:
            parts.append(f"for={_seconds(self.for_s)}")
        parts += [f"{key}={_quoted(value)}" for key, value in sorted(self.params)]
        if self.action is not None:
            parts.append(f"action={_callable_name(self.action)}")
        if self.undo is not None:
            parts.append(f"undo={_callable_name(self.undo)}")
        return f"{self.name}:" + ",".join(parts)

    def describe(self) -> str:
        """``throttle-target@3s for 3s (iops=200)``."""
        text = f"{self.name}@{_seconds(self.at_s)}"
        if self.for_s is not None:
            text += f" for {_seconds(self.for_s)}"
        if self.params:
            text += " (" + ", ".join(f"{k}={v}" for k, v in self.params) + ")"
        return text

    @property
    def ends_s(self) -> float:
        """When the fault's window ends (its start when it has no ``for``)."""
        return self.at_s + (self.for_s or 0.0)


def _callable_name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", "") or ""
    name = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{name}" if module else str(name)


def _quoted(value: str) -> str:
    return f'"{value}"' if re.search(r'[,\s"=]', value) else value


def _split_pairs(text: str, where: str) -> list[tuple[str, str]]:
    """``a=1,b="x, y"`` -> [("a", "1"), ("b", "x, y")]: commas inside quotes stay."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=False)
    lexer.whitespace = ","
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError as err:
        raise FaultError(f"{where}: {err} in {text!r}") from err
    pairs = []
    for token in tokens:
        key, sep, value = token.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise FaultError(f"{where}: {token!r} is not key=value")
        pairs.append((key, value.strip()))
    return pairs


def parse_fault(
    text: str,
    where: str,
    keys_of: Callable[[str], frozenset[str] | None],
    names: Sequence[str] = (),
) -> FaultSpec:
    """``NAME:key=value,...`` as a spec; ``keys_of`` gives a fault name's keys (None: no
    such fault; ``names`` are listed then). An unknown name or key, a bad duration, or a
    missing ``at`` is one FaultError line."""
    name, _sep, rest = str(text).strip().partition(":")
    name = name.strip()
    if not _NAME.match(name):
        raise FaultError(f"{where}: {name!r} is not a fault name (like throttle-target)")
    keys = keys_of(name)
    if keys is None:
        raise FaultError(f"{where}: unknown fault {name!r} (known: {', '.join(sorted(names))})")
    return spec_from_pairs(name, _split_pairs(rest, where), where, keys)


def spec_from_pairs(
    name: str,
    pairs: list[tuple[str, str]],
    where: str,
    keys: frozenset[str],
    *,
    action: Callable[[], Any] | None = None,
    undo: Callable[[], Any] | None = None,
) -> FaultSpec:
    """A spec from ``key=value`` pairs: ``at`` and ``for`` taken out, the rest checked
    against the fault's ``keys``."""
    at_s: float | None = None
    for_s: float | None = None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params or (key == "at" and at_s is not None) or (key == "for" and for_s):
            raise FaultError(f"{where}: {name}: {key} given twice")
        if key == "at":
            at_s = parse_duration(value, f"{where}: {name}: at")
        elif key in ("for", "duration"):
            for_s = parse_duration(value, f"{where}: {name}: for")
        elif key not in keys:
            raise FaultError(
                f"{where}: {name}: unknown key {key!r} (keys: at, for, "
                f"{', '.join(sorted(keys)) or 'none else'})"
            )
        else:
            params[key] = value
    if at_s is None:
        raise FaultError(f"{where}: {name}: at= is missing (seconds into the measurement)")
    return FaultSpec(name, at_s, for_s, tuple(sorted(params.items())), action, undo)
