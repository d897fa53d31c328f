"""``fioloadgen status``: what the results server is doing.

Its own module so that a cluster status (the kubernetes backend's) can take over when no
server URL is given, without the two fighting over the name.
"""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from .common import EXIT_OK
from .remote import add_url_option, client


def _status(args: argparse.Namespace) -> int:
    api = client(args)
    data = api.get("/status")["data"]
    running = data.get("running_job")
    print(f"server      : {api.base_url} (version {data['version']})")
    print(f"backend     : {data['backend']} ({'deployed' if data['deployed'] else 'not deployed'})")
    print("workers     : " + ", ".join(f"{t}={n}" for t, n in data["workers"].items()))
    print(f"running job : {running['id'] + ' ' + running['title'] if running else 'none'}")
    print(f"queued jobs : {data['queue_length']}")
    print(f"uptime      : {datetime.timedelta(seconds=int(data['uptime_s']))}")
    return EXIT_OK


def register(commands: Any) -> None:
    status = commands.add_parser("status", help="status of the results server (--url)")
    add_url_option(status)
    status.set_defaults(handler=_status)
