"""Synthetic history series with known level shifts, shared by the benchmarks.

A series is what a key's IOPS looks like over many runs: a level with 5% noise, runs that
fall far below it now and then (2%: a busy neighbour, a slow run), and steps of 10-40%
up or down after segments of at least 15 runs (about 80 on average). Every step is larger
than the half-tolerance that ``trend.level_shifts`` asks of IOPS (5%), so a detector should
find all of them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

#: A detected shift within this many runs of a true one counts as finding it.
MATCH_MARGIN = 3


@dataclass(frozen=True)
class Series:
    values: list[float]
    steps: list[int]  # indices where a new level starts


def stepped_series(
    count: int,
    rng: random.Random,
    *,
    level: float = 10_000.0,
    cv: float = 0.05,
    outliers: float = 0.02,
    mean_segment: float = 80.0,
    min_segment: int = 15,
    min_step: float = 0.10,
    max_step: float = 0.40,
) -> Series:
    values: list[float] = []
    steps: list[int] = []
    while True:
        segment = max(min_segment, int(rng.expovariate(1.0 / mean_segment)))
        if count - len(values) - segment < min_segment:
            segment = count - len(values)
        for _ in range(segment):
            value = rng.gauss(level, cv * level)
            if rng.random() < outliers:
                value = level * rng.uniform(0.5, 0.8)
            values.append(value)
        if len(values) >= count:
            return Series(values, steps)
        steps.append(len(values))
        change = rng.uniform(min_step, max_step)
        # Down as often as up, but the level stays within a realistic range.
        down = (rng.random() < 0.5 or level > 40_000) and level > 3_000
        level = level * (1 - change) if down else level * (1 + change)


def matched(found: Sequence[int], truth: Sequence[int], margin: int = MATCH_MARGIN) -> int:
    """How many true steps a detection lies within ``margin`` of (each matched once)."""
    unmatched = list(truth)
    hits = 0
    for index in found:
        near = [step for step in unmatched if abs(step - index) <= margin]
        if near:
            unmatched.remove(min(near, key=lambda step: abs(step - index)))
            hits += 1
    return hits
