"""``fioloadgen profile ls|show`` against the results server, and ``profile add|rm``.

``ls`` and ``show`` read local files unless a server is named (``--url`` or
FIO_API_URL), so the local commands keep working as before; ``add`` and ``rm`` change the
server's profiles and always need one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..apiclient import ApiClient
from ..exceptions import FioLoadgenError
from .common import EXIT_OK
from .remote import add_url_option, client


def wants_server(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "url", None) or os.environ.get("FIO_API_URL"))


def list_remote(args: argparse.Namespace) -> int:
    for entry in client(args).get("/profiles")["data"]:
        origin = "" if entry["source"] == "shipped" else " (added)"
        print(f"{entry['name']:28} {entry['description']}{origin}".rstrip())
    return EXIT_OK


def show_remote(args: argparse.Namespace) -> int:
    entry = client(args).get(f"/profiles/{ApiClient.quote(args.name)}")["data"]
    sys.stdout.write(entry["text"])
    return EXIT_OK


def _add(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FioLoadgenError(f"cannot read profile file {path}: {err}") from err
    name = args.name or path.stem
    api = client(args)
    response = api.request(
        "PUT",
        f"/profiles/{ApiClient.quote(name)}",
        body={"text": text},
        write=True,
        expect=(200, 201),
    )
    print(f"profile {name!r} {'replaced' if response.status_code == 200 else 'added'}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    client(args).send("DELETE", f"/profiles/{ApiClient.quote(args.name)}")
    print(f"profile {args.name!r} deleted")
    return EXIT_OK


def register_remote(
    actions: Any, listing: argparse.ArgumentParser, show: argparse.ArgumentParser
) -> None:
    """Add --url to ls/show and the add/rm actions to the ``profile`` command."""
    add_url_option(listing)
    add_url_option(show)
    add = actions.add_parser("add", help="add or replace a profile on the results server")
    add.add_argument("file", help="the fio job file")
    add.add_argument("--name", help="profile name (default: the file name without .fio)")
    add.set_defaults(handler=_add)
    remove = actions.add_parser("rm", help="delete a profile added to the results server")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)
    for action in (add, remove):
        add_url_option(action)
