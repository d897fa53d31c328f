"""``fioloadgen history`` and ``fioloadgen baseline``: regression history in a store."""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..exceptions import FioLoadgenError
from ..fio.results import METRIC_NAMES
from ..options import split_list
from ..store import Store, default_store_uri, open_store
from ..store.history_index import history_keys
from ..store.selection import latest_plugin_sessions, parse_labels, session_runs
from ..verdicts.regression import DEFAULT_MIN_BASELINE
from ..verdicts.summaries import key_trend
from ..verdicts.trends import Trend
from .common import EXIT_OK

_KEY = re.compile(r"^[0-9a-f]{16}$")


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="history store URI (default: FIO_STORE, else .fioloadgen/history.db here)",
    )


def store_from(args: argparse.Namespace) -> Store:
    """The store a command works on: --store, FIO_STORE, or the plugin's default."""
    uri = args.store or os.environ.get("FIO_STORE") or default_store_uri(Path.cwd())
    if uri == "none":
        raise FioLoadgenError("this command needs a history store, not --store none")
    return open_store(uri, rootdir=Path.cwd())


def when_short(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


_when = when_short


def _labels(labels: Any) -> str:
    """Labels of a run, the commit shortened: what a user needs to find the change."""
    shown = dict(labels)
    if "git_commit" in shown:
        shown["git_commit"] = shown["git_commit"][:12]
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "no labels"


def _print_trend(trend: Trend, *, series: bool) -> None:
    print(
        f"key {trend.history_key}: {trend.profile_name} w{trend.workers} "
        f"{trend.backend}/{trend.target}, {len(trend.points)} runs, {trend.metric}"
    )
    if series:
        for point in trend.points:
            when = _when(point.started_at)
            print(f"  {when}  {point.value:12.6g}  {point.run_id}  {_labels(point.labels)}")
    if not trend.change_points:
        print("  no change points")
    for change in trend.change_points:
        shift = "n/a" if change.shift_pct is None else f"{change.shift_pct:+.1f}%"
        print(
            f"  change point at run {change.run_id} ({_when(change.started_at)}, "
            f"{_labels(change.labels)}): {change.before:.6g} -> {change.after:.6g} ({shift})"
        )


def _history(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        if _KEY.match(args.what):
            trends = [key_trend(store, args.what, args.metric, limit=args.limit)]
            if not trends[0].points:
                raise FioLoadgenError(f"{store.uri} has no completed run of key {args.what!r}")
        else:
            keys = [k for k in history_keys(store, profile_name=args.what) if k.complete]
            if not keys:
                raise FioLoadgenError(
                    f"{store.uri} has no completed run of profile {args.what!r} "
                    "(give a profile name or a 16-digit history key)"
                )
            trends = [key_trend(store, k.history_key, args.metric, limit=args.limit) for k in keys]
        for trend in trends:
            _print_trend(trend, series=args.series)
    finally:
        store.close()
    return EXIT_OK


def _baseline_set(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        run_ids = list(args.run or [])
        if args.session:
            run_ids += [r.run_id for r in store.query(session_id=args.session, status="complete")]
            if not run_ids:
                raise FioLoadgenError(
                    f"{store.uri} has no completed run in session {args.session!r}"
                )
        for session_id in split_list(args.sessions):
            found = [r.run_id for r in session_runs(store, session_id)]
            if not found:
                raise FioLoadgenError(
                    f"--sessions: {store.uri} has no completed run in session {session_id!r}"
                )
            run_ids += found
        if args.label:
            labels = parse_labels(args.label)
            if labels is None:
                raise FioLoadgenError(f"--label: {args.label!r} is not KEY=VALUE[,KEY=VALUE]")
            chosen = latest_plugin_sessions(store, args.last, labels)
            if not chosen:
                raise FioLoadgenError(
                    f"--label: {store.uri} has no plugin session whose runs all carry {args.label}"
                )
            run_ids += [r.run_id for s in chosen for r in session_runs(store, s.session_id)]
        if args.latest_session:
            # The newest pytest session, not the results server's latest jobs.
            newest = latest_plugin_sessions(store, 1)
            if not newest:
                raise FioLoadgenError(f"{store.uri} has no plugin session to pin")
            run_ids += [r.run_id for r in session_runs(store, newest[0].session_id)]
        if not run_ids:
            raise FioLoadgenError(
                "baseline set needs --session ID, --sessions A,B,C, --label K=V [--last N], "
                "--latest-session or --run ID"
            )
        run_ids = list(dict.fromkeys(run_ids))
        baseline = store.pin_baseline(args.name, run_ids, note=args.note)
        pinned = [store.get(run_id) for run_id in baseline.run_ids]
        sessions_pinned = len({run.session_id for run in pinned})
        keys = Counter(run.history_key for run in pinned)
        print(
            f"baseline {baseline.name!r}: {len(baseline.run_ids)} runs of {sessions_pinned} "
            f"session(s) pinned in {store.uri}"
        )
        short = sum(1 for count in keys.values() if count < DEFAULT_MIN_BASELINE)
        if short:
            # A baseline gates a key only with enough runs of it: say so now, not at the
            # first session that uses it.
            print(
                f"  {short} of {len(keys)} key(s) have fewer than {DEFAULT_MIN_BASELINE} runs "
                "in it and cannot gate yet: pin more sessions (--sessions A,B,C, --label K=V "
                "--last N) or sessions run with --fio-repeat"
            )
    finally:
        store.close()
    return EXIT_OK


def _baseline_list(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        baselines = store.baselines()
        if not baselines:
            print(f"no baselines in {store.uri}")
        for baseline in baselines:
            note = f"  {baseline.note}" if baseline.note else ""
            when = _when(baseline.created_at)
            print(f"{baseline.name:24} {len(baseline.run_ids):5} runs  {when}{note}")
    finally:
        store.close()
    return EXIT_OK


def _baseline_rm(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        if not store.delete_baseline(args.name):
            raise FioLoadgenError(f"{store.uri} has no baseline {args.name!r}")
        print(f"baseline {args.name!r} removed (its runs stay in the history)")
    finally:
        store.close()
    return EXIT_OK


def register(commands: Any) -> None:
    history = commands.add_parser(
        "history", help="a history key's (or a profile's keys') trend and change points"
    )
    history.add_argument("what", metavar="KEY|PROFILE")
    history.add_argument("--metric", default="iops", choices=METRIC_NAMES, metavar="METRIC")
    history.add_argument(
        "--limit",
        type=int,
        help="only the newest N runs of each key (change points come from the whole history)",
    )
    history.add_argument("--series", action="store_true", help="print every run of the series")
    add_store_argument(history)
    history.set_defaults(handler=_history)

    baseline = commands.add_parser("baseline", help="pin, list and remove named baselines")
    actions = baseline.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    pin = actions.add_parser("set", help="pin runs as baseline NAME (replaces it)")
    pin.add_argument("name")
    pin.add_argument("--session", help="pin every completed run of this session id")
    pin.add_argument(
        "--sessions", metavar="A,B,C", help="pin every completed run of these sessions"
    )
    pin.add_argument(
        "--label",
        metavar="K=V[,K=V]",
        help="pin the runs of the newest --last plugin sessions carrying these labels",
    )
    pin.add_argument("--last", type=int, default=5, help="with --label: how many sessions (5)")
    pin.add_argument(
        "--latest-session",
        action="store_true",
        help="pin the newest plugin (pytest) session's runs",
    )
    pin.add_argument("--run", action="append", metavar="RUN_ID", help="pin this run; repeatable")
    pin.add_argument("--note", default="", help="a note kept with the baseline")
    add_store_argument(pin)
    pin.set_defaults(handler=_baseline_set)
    listing = actions.add_parser("list", help="list baselines")
    add_store_argument(listing)
    listing.set_defaults(handler=_baseline_list)
    remove = actions.add_parser("rm", help="remove a baseline (not its runs)")
    remove.add_argument("name")
    add_store_argument(remove)
    remove.set_defaults(handler=_baseline_rm)
