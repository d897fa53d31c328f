"""``fioloadgen run``: queue a job on the results server, optionally wait for it."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_CHECK_FAILED, EXIT_OK
from .remote import add_url_option, client, print_job, wait_for


def _run(args: argparse.Namespace) -> int:
    api = client(args)
    body: dict[str, Any] = {"profile": args.profile, "workers": args.workers, "title": args.title}
    if args.target:
        body["target"] = args.target
    job = api.send("POST", "/jobs", body, expect=202)["data"]
    print(f"queued job {job['id']}")
    if not args.wait:
        return EXIT_OK
    job = wait_for(api, job["id"], poll_s=args.poll)
    print_job(job)
    return EXIT_OK if job["status"] == "complete" else EXIT_CHECK_FAILED


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run a profile on the results server's workers")
    add_url_option(run)
    run.add_argument("--profile", required=True, help="profile name (fioloadgen profile ls --url)")
    run.add_argument("--workers", type=int, required=True, help="how many workers")
    run.add_argument("--title", required=True, help="a title for the job")
    run.add_argument("--target", help="storage target (default: the server's first)")
    run.add_argument("--wait", action="store_true", help="wait, show progress and the summary")
    run.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    run.set_defaults(handler=_run)
