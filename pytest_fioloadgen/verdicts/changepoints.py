"""Level shifts in a series of runs, in near-linear time.

Three steps, each O(n log n) or better in the length of the series:

1. **Propose** by binary segmentation with the least-squares cost on the series scaled by
   its noise: the split of a segment that explains the most variance is taken while its
   gain beats a BIC-like penalty (3 log n, the penalty PELT used here before), at most one
   proposal per ten points. Every segment's best split is one vectorised pass over
   cumulative sums, so a split costs O(segment length), not O(length^2) as in ruptures'
   ``Binseg`` (one Python call and one variance per candidate) or PELT with few changes.
2. **Refine** each proposal to the best single split between its neighbours (binary
   segmentation places a split of a segment with several steps between them), again
   after step 3 has dropped some.
3. **Confirm** each proposal against the segments on either side: the medians must differ
   by more than the tolerance and a two-sided Mann-Whitney U test must reject equality at
   ``alpha``. The weakest failing proposal is dropped first and its neighbours, whose
   segments just grew, are tested again; a heap keeps that O(P log P) in proposals.

Before segmenting, values further than 3 noise units from their running median (7 points)
are clipped to it: the least-squares cost is pulled by single outlier runs (a busy
neighbour), which would otherwise win splits and use up proposals. Confirmation works on
the values as measured. ``benchmarks/change_points_bench.py`` measures time, precision and
recall against PELT.
"""

from __future__ import annotations

import heapq
import importlib
import math
import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy
from numpy.typing import NDArray

#: The regression gate's alpha (regression.DEFAULT_ALPHA; a test keeps them equal).
DEFAULT_ALPHA = 0.01
#: Fewest runs on either side of a shift: fewer cannot carry a rank test.
DEFAULT_MIN_SIZE = 3
#: Running-median clipping before segmentation, in noise units.
CLIP_NOISE_UNITS = 3.0
#: A bound on proposals (and so on the work of steps 2 and 3): one per this many points.
POINTS_PER_PROPOSAL = 10

Floats = NDArray[numpy.float64]


def _stats() -> ModuleType:
    """scipy.stats, imported when a test needs it (about 2 s of CPU at import, which
    every pytest start would pay: see regression._stats)."""
    return importlib.import_module("scipy.stats")


def noise_level(series: Floats) -> float:
    """The series' noise: scaled MAD of successive differences / sqrt 2.

    Differences cancel the level, so level shifts barely move the estimate; the MAD
    ignores outliers. A series with no such noise falls back to its standard deviation.
    """
    differences = numpy.diff(series)
    center = numpy.median(differences)
    noise = 1.4826 * float(numpy.median(numpy.abs(differences - center))) / math.sqrt(2.0)
    if noise == 0.0:
        noise = float(numpy.std(series)) or 1.0
    return noise


def change_points(
    values: Sequence[float],
    *,
    min_size: int = DEFAULT_MIN_SIZE,
    alpha: float = DEFAULT_ALPHA,
    tolerance_pct: float = 0.0,
) -> list[int]:
    """Indices where a new level starts in a series (oldest first).

    A shift is kept only when the segments on either side differ by more than
    ``tolerance_pct`` (medians) and by a Mann-Whitney U test at ``alpha``, so a single
    outlier run or a drift within noise is not reported as a shift.
    """
    everything = numpy.asarray(values, dtype=numpy.float64)
    # A run without the figure (NaN) has no level; shifts are found among the others and
    # named by their index in ``values``.
    where = numpy.flatnonzero(numpy.isfinite(everything))
    series = everything[where]
    if len(series) < 2 * min_size:
        return []
    noise = noise_level(series)
    from scipy import ndimage  # imported when used, as _stats

    running = ndimage.median_filter(series, size=2 * min_size + 1, mode="nearest")
    clipped = numpy.clip(
        series, running - CLIP_NOISE_UNITS * noise, running + CLIP_NOISE_UNITS * noise
    )
    scaled = clipped / noise
    penalty = 3.0 * math.log(len(series))
    proposals = binary_segmentation(
        scaled,
        min_size=min_size,
        penalty=penalty,
        max_proposals=1 + len(series) // POINTS_PER_PROPOSAL,
    )
    kept = confirmed(
        series,
        refine(scaled, proposals, min_size=min_size),
        alpha=alpha,
        tolerance_pct=tolerance_pct,
    )
    # A dropped proposal may have held its neighbour off the true step (segments need
    # min_size runs): place the survivors again, and test them where they now are.
    placed = refine(scaled, kept, min_size=min_size)
    if placed != kept:
        kept = confirmed(series, placed, alpha=alpha, tolerance_pct=tolerance_pct)
    return [int(where[index]) for index in kept]


def mann_whitney_p(first: Floats, second: Floats) -> float:
    """Two-sided Mann-Whitney U p-value, as ``scipy.stats.mannwhitneyu`` computes it.

    Large samples take scipy's normal approximation (tie and continuity corrections)
    written out here: scipy's wrapper costs about 0.4 ms a call, which dominated the
    detector (two tests per proposal). Where scipy would use the exact distribution (a
    sample of 8 or fewer without ties) scipy is called.
    """
    n1, n2 = len(first), len(second)
    combined = numpy.concatenate((first, second))
    ordered = numpy.sort(combined)
    _, ties = numpy.unique(ordered, return_counts=True)
    if (n1 <= 8 or n2 <= 8) and len(ties) == len(ordered):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = _stats().mannwhitneyu(first, second, alternative="two-sided")
        return float(result.pvalue)
    # Average ranks (1-based) of the first sample's values among all values.
    ranks = (
        numpy.searchsorted(ordered, first, side="left")
        + numpy.searchsorted(ordered, first, side="right")
        + 1
    ) / 2.0
    u1 = float(ranks.sum()) - n1 * (n1 + 1) / 2.0
    u = max(u1, n1 * n2 - u1)
    count = n1 + n2
    tie_term = float(numpy.sum(ties.astype(numpy.float64) ** 3 - ties))
    variance = n1 * n2 / 12.0 * ((count + 1) - tie_term / (count * (count - 1)))
    if variance <= 0.0:
        return 1.0  # every value equal
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    from scipy import special

    return min(1.0, 2.0 * float(special.ndtr(-z)))


def _prefix_sums(signal: Floats) -> Floats:
    return numpy.concatenate(([0.0], numpy.cumsum(signal)))


def _best_split(sums: Floats, start: int, end: int, min_size: int) -> tuple[float, int] | None:
    """(gain, index) of the least-squares split of [start, end), or None when too short.

    The gain is the drop in squared error: S_left^2/n_left + S_right^2/n_right - S^2/n,
    for every candidate at once.
    """
    length = end - start
    if length < 2 * min_size:
        return None
    cuts = numpy.arange(start + min_size, end - min_size + 1)
    left = sums[cuts] - sums[start]
    right = sums[end] - sums[cuts]
    total = sums[end] - sums[start]
    gains = left**2 / (cuts - start) + right**2 / (end - cuts) - total**2 / length
    best = int(numpy.argmax(gains))
    return float(gains[best]), int(cuts[best])


def binary_segmentation(
    signal: Floats, *, min_size: int, penalty: float, max_proposals: int
) -> list[int]:
    """Greedy top-down splits while the best one gains more than ``penalty``."""
    sums = _prefix_sums(signal)
    heap: list[tuple[float, int, int, int]] = []

    def consider(start: int, end: int) -> None:
        best = _best_split(sums, start, end, min_size)
        if best is not None:
            heapq.heappush(heap, (-best[0], best[1], start, end))

    consider(0, len(signal))
    found: list[int] = []
    while heap and len(found) < max_proposals:
        negative_gain, cut, start, end = heapq.heappop(heap)
        if -negative_gain <= penalty:
            break
        found.append(cut)
        consider(start, cut)
        consider(cut, end)
    return sorted(found)


def refine(signal: Floats, proposals: Sequence[int], *, min_size: int) -> list[int]:
    """Move each proposal to the best split between its neighbours (two passes at most)."""
    sums = _prefix_sums(signal)
    cuts = list(proposals)
    for _ in range(2):
        moved = False
        for position, cut in enumerate(cuts):
            start = cuts[position - 1] if position else 0
            end = cuts[position + 1] if position + 1 < len(cuts) else len(signal)
            best = _best_split(sums, start, end, min_size)
            if best is not None and best[1] != cut:
                cuts[position] = best[1]
                moved = True
        if not moved:
            break
    return cuts


def confirmed(
    series: Floats, proposals: Sequence[int], *, alpha: float, tolerance_pct: float
) -> list[int]:
    """The proposals whose segments differ beyond the tolerance and by a rank test.

    Proposals are a linked list; failing ones wait in a heap, worst first (the smallest
    shift within the tolerance, then the largest p-value). Dropping one merges its two
    segments, so only its neighbours are tested again; a stamp marks heap entries made
    stale by a re-test.
    """
    cuts = list(proposals)
    count = len(cuts)
    previous = list(range(-1, count - 1))
    following = list(range(1, count + 1))
    alive = [True] * count
    stamps = [0] * count
    failing: list[tuple[int, float, int, int]] = []

    def bounds(position: int) -> tuple[int, int]:
        before, after = previous[position], following[position]
        start = cuts[before] if before >= 0 else 0
        end = cuts[after] if after < count else len(series)
        return start, end

    def test(position: int) -> None:
        stamps[position] += 1
        start, end = bounds(position)
        before = series[start : cuts[position]]
        after = series[cuts[position] : end]
        center = float(numpy.median(before))
        shift_pct = (
            abs(float(numpy.median(after)) - center) / abs(center) * 100.0 if center else math.inf
        )
        if shift_pct <= tolerance_pct:
            # Too small to matter whatever the test says: worst first, smallest shift first.
            heapq.heappush(failing, (0, shift_pct, position, stamps[position]))
            return
        p_value = mann_whitney_p(after, before)
        if not p_value < alpha:
            heapq.heappush(failing, (1, -p_value, position, stamps[position]))

    for position in range(count):
        test(position)
    while failing:
        _rank, _badness, position, stamp = heapq.heappop(failing)
        if not alive[position] or stamp != stamps[position]:
            continue
        alive[position] = False
        before, after = previous[position], following[position]
        if before >= 0:
            following[before] = after
        if after < count:
            previous[after] = before
        for neighbour in (before, after):
            if 0 <= neighbour < count:
                test(neighbour)
    return [cut for position, cut in enumerate(cuts) if alive[position]]
