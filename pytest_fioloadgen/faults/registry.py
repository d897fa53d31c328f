"""Which faults exist: the built-in ones, and those a conftest registers.

A conftest registers a named fault with the firstresult hook
``pytest_fioloadgen_fault_type(name)``: given a name it does not know it returns None,
given its own it returns a ``FaultType`` (its keys and how to make it for a run). The
plugin passes the hook as ``extra`` here, so a registered name parses, validates and runs
exactly like a built-in one.
"""

from __future__ import annotations

from collections.abc import Callable

from ..exceptions import FaultError
from .builtin import BUILTIN, FaultType
from .kubernetes import KUBERNETES
from .spec import FaultSpec, parse_fault

#: Looks a fault type up by name (None: unknown).
Lookup = Callable[[str], FaultType | None]

ALL_BUILTIN: dict[str, FaultType] = {**BUILTIN, **KUBERNETES}


def lookup(extra: Lookup | None = None) -> Lookup:
    """A lookup over the built-in faults, ``extra`` (a conftest's) first."""

    def find(name: str) -> FaultType | None:
        found = extra(name) if extra is not None else None
        return found if found is not None else ALL_BUILTIN.get(name)

    return find


def parse(text: str, where: str, find: Lookup) -> FaultSpec:
    """A ``NAME:key=value,...`` spec checked against the fault's keys."""

    def keys_of(name: str) -> frozenset[str] | None:
        found = find(name)
        return found.keys if found is not None else None

    return parse_fault(text, where, keys_of, sorted(ALL_BUILTIN))


def fault_type(spec: FaultSpec, find: Lookup) -> FaultType:
    found = find(spec.name)
    if found is None:
        raise FaultError(f"unknown fault {spec.name!r} (known: {', '.join(sorted(ALL_BUILTIN))})")
    return found
