"""``fioloadgen job ls|show|delete|rerun|cancel`` against the results server."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..apiclient import ApiClient
from ..exceptions import FioLoadgenError
from ..importing.marks import imported_from
from ..store.query import Cursor, RunQuery, to_params
from . import job_local
from .common import EXIT_OK
from .history import add_store_argument
from .remote import add_url_option, client, print_job, when


def _imported_mark(job: dict[str, Any]) -> str:
    """' (imported from fioloadgen)' after the title of a run brought in by db import."""
    origin = imported_from(job.get("labels") or {})
    return f" (imported from {origin})" if origin else ""


def _list(args: argparse.Namespace) -> int:
    """Every run with its queue state (plugin runs and server jobs alike), as the UI."""
    wanted = RunQuery(
        profile_name=args.profile,
        verdict=args.verdict,
        test=args.test,
        session_id=args.session,
        text=args.search,
        limit=args.limit,
        after=_cursor(args.cursor),
        offset=args.offset,
    )
    # status is the queue state in the job list, not the run's (RunQuery.status).
    params = to_params(wanted) + ([("status", args.status)] if args.status else [])
    page = client(args).request("GET", "/jobs", params=params).json()
    print(
        f"{'ID':<36}  {'STATUS':<11}  {'VERDICT':<12}  {'ENDED':<19}  {'W':>3}  "
        f"{'PROFILE':<24}  TITLE"
    )
    for job in page["data"]:
        print(
            f"{job['id']:<36}  {job['status']:<11}  {job.get('verdict') or '-':<12}  "
            f"{when(job['ended']):<19}  {job['workers']:>3}  {job['profile']:<24}  {job['title']}"
            + _imported_mark(job)
        )
    print(f"runs and jobs: {len(page['data'])} of {page['total']}")
    if page.get("next_cursor"):
        print(f"next page: fioloadgen job ls --cursor {page['next_cursor']} (and the same filters)")
    return EXIT_OK


def _cursor(text: str | None) -> Cursor | None:
    if text is None:
        return None
    try:
        return Cursor.decode(text)
    except ValueError as err:
        raise FioLoadgenError(
            f"--cursor {text[:80]!r} is not a page cursor ({err}): give the one a listing printed"
        ) from err


def _show(args: argparse.Namespace) -> int:
    if args.store:
        return job_local.show_from_store(args)
    api = client(args)
    path = f"/jobs/{ApiClient.quote(args.id)}"
    if args.raw:
        json.dump(api.get(path + "/raw")["data"], sys.stdout, indent=2)
        print()
        return EXIT_OK
    print_job(api.get(path)["data"])
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    client(args).send("DELETE", f"/jobs/{ApiClient.quote(args.id)}")
    print(f"deleted job {args.id}")
    return EXIT_OK


def _rerun(args: argparse.Namespace) -> int:
    job = client(args).send("POST", f"/jobs/{ApiClient.quote(args.id)}/rerun", expect=202)
    print(f"queued job {job['data']['id']} (a rerun of {args.id})")
    return EXIT_OK


def _cancel(args: argparse.Namespace) -> int:
    client(args).send("POST", f"/jobs/{ApiClient.quote(args.id)}/cancel")
    print(f"cancelled job {args.id}")
    return EXIT_OK


def register(commands: Any) -> None:
    job = commands.add_parser("job", help="jobs on the results server")
    actions = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "ls", help="list every run with its queue state (plugin runs too), newest first"
    )
    listing.add_argument("--status", help="only those in this state (queued, running, ...)")
    listing.add_argument("--profile", help="only runs of this profile")
    listing.add_argument("--verdict", help="only runs with this verdict (pass, regression...)")
    listing.add_argument("--test", help="only runs of this test (node id without [...], or job)")
    listing.add_argument("--session", help="only runs of this session")
    listing.add_argument("--search", help="title, test id or profile contains this")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument(
        "--cursor", help="the page after the one that printed this cursor (next page: ...)"
    )
    listing.add_argument(
        "--offset", type=int, default=0, help="skip this many (deep pages: prefer --cursor)"
    )
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one job and its summary")
    show.add_argument("id")
    show.add_argument("--raw", action="store_true", help="print fio's JSON output")
    add_store_argument(show)
    show.set_defaults(handler=_show)
    for name, handler, text in (
        ("delete", _delete, "delete a job that is not running, and its run"),
        ("rerun", _rerun, "queue the same job again"),
        ("cancel", _cancel, "cancel a queued job"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id")
        action.set_defaults(handler=handler)
    for action in actions.choices.values():
        add_url_option(action)
