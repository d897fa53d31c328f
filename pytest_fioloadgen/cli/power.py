"""``fioloadgen power KEY|PROFILE``: what the regression gate can see, from recorded noise.

For each gated metric of a history key, from its recent complete runs (the baseline the
gate would use): the spread, the smallest slowdown the gate detects with 80% power at its
alpha with the given repeats (verdicts.regression.minimum_detectable_effect_pct, the same
formula the gate's ``inconclusive`` verdicts use), and how many repeats would detect the
tolerance; and the slowdown it flags 80% of the time, which also needs the current median
beyond the tolerance (verdicts.regression.detectable_slowdown_pct; checked against the
gate's own decisions on recorded A/A runs in tests/unit/test_power.py). Use it before
trusting a green build: a gate that can only see 35% changes passes a 20% regression.
"""

from __future__ import annotations

import argparse
import re
import statistics
from typing import Any

from ..exceptions import FioLoadgenError
from ..fio.results import METRIC_NAMES
from ..store.history_index import history_keys
from ..verdicts.regression import (
    DEFAULT_ALPHA,
    DEFAULT_GATED_METRICS,
    DEFAULT_WINDOW,
    default_tolerance_pct,
    detectable_slowdown_pct,
    minimum_detectable_effect_pct,
    repeats_needed,
)
from .common import EXIT_OK
from .history import add_store_argument, store_from

_KEY = re.compile(r"^[0-9a-f]{16}$")


def power_lines(
    values: list[float], metric: str, *, repeat: int, tolerance_pct: float, alpha: float
) -> str:
    """One line: the noise of ``metric`` and what the gate detects with it."""
    if len(values) < 2:
        return f"  {metric}: {len(values)} run(s), too few to estimate its noise"
    mean = statistics.fmean(values)
    cv = 100.0 * statistics.stdev(values) / mean if mean else 0.0
    effect = minimum_detectable_effect_pct(values, repeat, alpha=alpha)
    slowdown = detectable_slowdown_pct(values, repeat, tolerance_pct, alpha=alpha)
    needed = repeats_needed(values, tolerance_pct, alpha=alpha)
    detects = (
        "nothing"
        if effect is None or slowdown is None
        else f"significant changes of {effect:.1f}% and flags a {slowdown:.1f}% slowdown"
        " 80% of the time"
    )
    need = (
        f"--fio-repeat {needed} detects {tolerance_pct:g}%"
        if needed is not None
        else f"no repeat count up to the maximum detects {tolerance_pct:g}%"
    )
    return (
        f"  {metric}: n={len(values)}, CV {cv:.1f}%; with --fio-repeat {repeat} the gate"
        f" detects {detects} (tolerance {tolerance_pct:g}%, alpha {alpha:g}); {need}"
        " significantly"
    )


def _power(args: argparse.Namespace) -> int:
    metrics = args.metric or list(DEFAULT_GATED_METRICS)
    store = store_from(args)
    try:
        if _KEY.match(args.what):
            keys = [args.what]
        else:
            keys = [
                k.history_key for k in history_keys(store, profile_name=args.what) if k.complete
            ]
            if not keys:
                raise FioLoadgenError(
                    f"{store.uri} has no completed run of profile {args.what!r} "
                    "(give a profile name or a 16-digit history key)"
                )
        for key in keys:
            runs = store.query(history_key=key, status="complete", limit=args.window)
            if not runs:
                raise FioLoadgenError(f"{store.uri} has no completed run of key {key!r}")
            first = runs[0]
            print(
                f"key {key}: {first.profile_name} w{first.workers} {first.backend}/"
                f"{first.target}, last {len(runs)} runs"
            )
            for metric in metrics:
                values = [run.metrics[metric] for run in runs if run.metrics.get(metric)]
                if not values:
                    continue
                tolerance = args.tolerance or default_tolerance_pct(metric)
                print(
                    power_lines(
                        values,
                        metric,
                        repeat=args.repeat,
                        tolerance_pct=tolerance,
                        alpha=args.alpha,
                    )
                )
    finally:
        store.close()
    return EXIT_OK


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def register(commands: Any) -> None:
    power = commands.add_parser(
        "power", help="what the regression gate can detect for a key or profile, from its noise"
    )
    power.add_argument("what", metavar="KEY|PROFILE", help="a 16-digit history key or a profile")
    power.add_argument(
        "--metric", action="append", choices=METRIC_NAMES, help="repeatable (default: gated)"
    )
    power.add_argument("--repeat", type=_positive, default=1, help="repeats per run (default 1)")
    power.add_argument(
        "--tolerance", type=float, help="percent to detect (default: the metric's tolerance)"
    )
    power.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="default 0.01")
    power.add_argument(
        "--window", type=_positive, default=DEFAULT_WINDOW, help="baseline runs (default 20)"
    )
    add_store_argument(power)
    power.set_defaults(handler=_power)
