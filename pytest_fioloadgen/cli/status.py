"""``fioloadgen status``: what the results server is doing (with ``--url`` or
``FIO_API_URL``), otherwise the Kubernetes workers of ``--namespace``.
"""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from ..exceptions import FioLoadgenError
from .cluster import add_cluster_options, cluster_status
from .common import EXIT_OK
from .remote import add_url_option, client
from .remote_profiles import wants_server


def _status(args: argparse.Namespace) -> int:
    if not wants_server(args):
        try:
            return cluster_status(args)
        except FioLoadgenError as err:
            raise FioLoadgenError(
                "status needs a results server (--url or FIO_API_URL) or a cluster "
                f"(--kubeconfig, KUBECONFIG): {err}"
            ) from err
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
    status = commands.add_parser(
        "status",
        help="results server status (--url / FIO_API_URL), else the kubernetes workers",
    )
    add_url_option(status)
    add_cluster_options(status)
    status.set_defaults(handler=_status)
