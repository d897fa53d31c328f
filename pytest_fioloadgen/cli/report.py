"""``fioloadgen report --store URI --out DIR``: the static history site."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exceptions import FioLoadgenError
from ..report.site import build_site
from ..store import open_store
from ..verdicts.thresholds import Thresholds
from .common import EXIT_OK


def _check_store_exists(uri: str) -> None:
    """Opening an sqlite store creates it; a report of a mistyped path should not."""
    if "://" in uri and not uri.startswith("sqlite:///"):
        return  # a server: it answers for itself
    path = uri.removeprefix("sqlite://").removeprefix("sqlite:")
    if not Path(path).expanduser().exists():
        raise FioLoadgenError(f"history store {uri!r} does not exist")


def _report(args: argparse.Namespace) -> int:
    if not args.out.strip():
        # Path("") is the working directory: the site would land among the user's files.
        raise FioLoadgenError("--out is empty: name the directory the site goes to")
    _check_store_exists(args.store)
    thresholds = Thresholds.load(Path(args.thresholds)) if args.thresholds else None
    store = open_store(args.store)
    try:
        summary = build_site(store, Path(args.out), thresholds=thresholds, full=args.full)
    finally:
        store.close()
    index = (summary.out / "index.html").resolve()
    how = "built" if summary.full else "updated"
    print(
        f"{how} the site of {summary.keys} history keys and {summary.runs} runs at "
        f"{index.as_uri()} in {summary.seconds:.1f} s ({summary.keys_written} key pages "
        f"and {summary.runs_written} runs written)"
    )
    return EXIT_OK


def register(commands: Any) -> None:
    report = commands.add_parser(
        "report", help="write a static HTML history site from a store (works offline)"
    )
    report.add_argument("--store", required=True, metavar="URI", help="history store URI")
    report.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output directory: new, empty, or a site this command built (it removes only "
        "files it wrote itself, as its manifest lists them)",
    )
    report.add_argument(
        "--thresholds", metavar="PATH", help="thresholds file whose limits the trends show"
    )
    report.add_argument(
        "--full",
        action="store_true",
        help="rewrite every page (default: only keys with new or deleted runs, and new runs)",
    )
    report.set_defaults(handler=_report)
