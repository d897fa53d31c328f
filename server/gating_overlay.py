"""The seam to the regression gating work: thresholds, a baseline band and change points
for one history series.

``history_overlay`` asks ``pytest_fioloadgen.regression.history_overlay`` when that
function exists and otherwise answers with empty lists, so the history API and the UI
already carry the fields and start showing them as soon as the gating code provides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from pytest_fioloadgen import regression


class ThresholdLine(TypedDict):
    label: str
    value: float
    #: "min" (higher is better: fail below) or "max" (fail above).
    bound: str


class BaselineBand(TypedDict):
    label: str
    low: float
    high: float
    center: float


class ChangePoint(TypedDict):
    run_id: str
    started_at: float
    #: "regression" or "improvement".
    direction: str
    delta_pct: float


class Overlay(TypedDict):
    thresholds: list[ThresholdLine]
    baseline_band: BaselineBand | None
    change_points: list[ChangePoint]


def empty_overlay() -> Overlay:
    return {"thresholds": [], "baseline_band": None, "change_points": []}


def history_overlay(
    store: Any, history_key: str, metric: str, points: Sequence[dict[str, Any]]
) -> Overlay:
    """The gating overlay of a series, or empty lists until the gating code provides it.

    ``points`` are the series oldest first: dicts with run_id, started_at, value.
    """
    provider = getattr(regression, "history_overlay", None)
    if provider is None:
        return empty_overlay()
    found = provider(store=store, history_key=history_key, metric=metric, points=points)
    overlay = empty_overlay()
    overlay.update(found)
    return overlay
