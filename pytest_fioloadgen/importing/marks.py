"""How a run says it was imported: one label every view reads (and filters on)."""

from __future__ import annotations

from collections.abc import Mapping

#: The label an imported run carries: where it came from (``fioloadgen``, ``fio-json``).
IMPORTED_FROM = "imported-from"


def imported_from(labels: Mapping[str, str]) -> str | None:
    """The origin of an imported run (None: the run was measured by this harness)."""
    origin = labels.get(IMPORTED_FROM)
    return origin or None
