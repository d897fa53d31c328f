"""``fioloadgen sessions`` and ``fioloadgen compare A B``: sessions of a history store and
two sets of runs side by side (as pytest-benchmark's ``list`` and ``compare``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .. import numbers
from ..fio.results import METRIC_NAMES
from ..fio.spectrum import LABELS
from ..importing.marks import imported_from
from ..report.terminal import format_table
from ..store.base import RunRecord
from ..store.selection import resolve, sessions
from ..verdicts.comparing import (
    DEFAULT_METRICS,
    SpectrumDelta,
    any_regression,
    compare_sets,
    spectrum_deltas,
    unpaired,
)
from .common import EXIT_CHECK_FAILED, EXIT_OK
from .history import add_store_argument, store_from, when_short

#: Labels shown in the listing (the commit and branch have their own columns).
_HIDDEN_LABELS = ("git_commit", "git_branch")


def _verdicts(counts: dict[str, int] | Any) -> str:
    return " ".join(f"{name}={count}" for name, count in sorted(counts.items())) or "-"


def _p_value(p_value: float | None) -> str:
    if p_value is None:
        return "-"
    return numbers.p_value(p_value)


def _sessions(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        found = sessions(store, include_jobs=args.all)[: args.limit]
    finally:
        store.close()
    if args.json:
        json.dump([summary.__dict__ for summary in found], sys.stdout, indent=1, default=dict)
        print()
        return EXIT_OK
    header = ["session", "started", "kind", "runs", "commit", "branch", "labels", "verdicts"]
    rows = [
        [
            summary.session_id,
            when_short(summary.started_at),
            summary.kind,
            str(summary.runs),
            summary.git_commit[:12] or "-",
            summary.labels.get("git_branch", "-"),
            ", ".join(
                f"{k}={v}" for k, v in sorted(summary.labels.items()) if k not in _HIDDEN_LABELS
            )
            or "-",
            _verdicts(summary.verdicts),
        ]
        for summary in found
    ]
    text = [True, True, True, False, True, True, True, True]
    for line in format_table(header, rows, text=text):
        print(line)
    if not found:
        print(f"no {'' if args.all else 'plugin '}sessions in {store.uri}")
    return EXIT_OK


def _imported(runs: Sequence[RunRecord]) -> str:
    """', 3 imported (fioloadgen)': a side's runs that db import brought in, by origin."""
    origins = Counter(origin for run in runs if (origin := imported_from(run.labels)))
    said = ", ".join(f"{count} imported ({origin})" for origin, count in sorted(origins.items()))
    return f", {said}" if said else ""


def _compare(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        before = resolve(store, args.a, last=args.last)
        after = resolve(store, args.b, last=args.last)
    finally:
        store.close()
    metrics = tuple(args.metric) if args.metric else DEFAULT_METRICS
    rows = compare_sets(
        before.runs, after.runs, metrics=metrics, baseline_description=before.description
    )
    only_a, only_b = unpaired(before.runs, after.runs)
    regression = any_regression(rows)
    spectra = spectrum_deltas(before.runs, after.runs) if args.spectrum else []
    if args.json:
        document = {
            "a": {"name": before.name, "description": before.description, "runs": len(before.runs)},
            "b": {"name": after.name, "description": after.description, "runs": len(after.runs)},
            "rows": [row.as_dict() for row in rows],
            "only_in_a": only_a,
            "only_in_b": only_b,
            "regression": regression,
            **({"spectrum": [delta.as_dict() for delta in spectra]} if args.spectrum else {}),
        }
        json.dump(document, sys.stdout, indent=1)
        print()
        return EXIT_CHECK_FAILED if regression else EXIT_OK
    print(f"A: {before.description} ({len(before.runs)} runs{_imported(before.runs)})")
    print(f"B: {after.description} ({len(after.runs)} runs{_imported(after.runs)})")
    header = ["case", "metric", "A median", "B median", "delta", "verdict", "stat test", "p"]
    table = [
        [
            row.case,
            row.metric,
            f"{numbers.metric(row.metric, row.baseline)} (n={row.baseline_n})",
            f"{numbers.metric(row.metric, row.current)} (n={row.current_n})",
            numbers.percent(row.delta_pct),
            row.verdict,
            row.test,
            _p_value(row.p_value),
        ]
        for row in rows
    ]
    for line in format_table(
        header, table, text=[True, True, False, False, False, True, True, False]
    ):
        print(line)
    if not rows:
        print("no case was measured in both A and B (runs pair by history key)")
    if only_a or only_b:
        print(f"unpaired: {only_a} key(s) only in A, {only_b} only in B")
    for delta in spectra:
        _print_spectrum(delta)
    verdicts: dict[str, int] = {}
    for row in rows:
        verdicts[row.verdict] = verdicts.get(row.verdict, 0) + 1
    print(f"verdicts: {_verdicts(verdicts)}")
    return EXIT_CHECK_FAILED if regression else EXIT_OK


def _print_spectrum(delta: SpectrumDelta) -> None:
    """One key's spectra side by side, quantile by quantile, and the gate's word on it."""
    print()
    print(f"{delta.case} {delta.direction} latency by quantile ({delta.verdict}: {delta.message})")
    table = [
        [LABELS[name], numbers.latency(a), numbers.latency(b), numbers.percent(change)]
        for name, a, b, change in delta.rows
    ]
    for line in format_table(
        ["quantile", "A", "B", "delta"], table, text=[True, False, False, False]
    ):
        print(line)


def register(commands: Any) -> None:
    listing = commands.add_parser(
        "sessions", help="list the sessions of a history store, newest first"
    )
    listing.add_argument("--all", action="store_true", help="results-server jobs too")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    add_store_argument(listing)
    listing.set_defaults(handler=_sessions)

    compare = commands.add_parser(
        "compare",
        help="compare two sets of runs (sessions, runs, baselines, labels): deltas and the "
        "statistical verdict per metric; exit 1 on a regression of B against A",
    )
    what = (
        "a session id (or a unique prefix), latest, previous, a baseline name, a run id, "
        "K=V labels (the newest --last plugin sessions carrying them); or session:ID, "
        "baseline:NAME, run:ID"
    )
    compare.add_argument("a", metavar="A", help=f"the baseline: {what}")
    compare.add_argument("b", metavar="B", help="what is compared with A (same forms)")
    compare.add_argument(
        "--metric",
        action="append",
        choices=METRIC_NAMES,
        metavar="METRIC",
        help=f"compare this metric; repeatable (default: {', '.join(DEFAULT_METRICS)})",
    )
    compare.add_argument(
        "--last", type=int, default=5, help="K=V selectors: the newest N sessions (5)"
    )
    compare.add_argument(
        "--spectrum",
        action="store_true",
        help="also the latency at every quantile (p1 ... p99.99, max) of each key, A against"
        " B, and the distribution gate's verdict",
    )
    compare.add_argument("--json", action="store_true", help="print JSON")
    add_store_argument(compare)
    compare.set_defaults(handler=_compare)
