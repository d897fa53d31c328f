"""``fioloadgen db export|import``: runs as a JSON document (never SQL)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..exceptions import FioLoadgenError
from . import db_fio_export, db_sources
from .common import EXIT_OK, read_json_file
from .history import add_store_argument
from .remote import add_url_option, client


def _export(args: argparse.Namespace) -> int:
    if args.format == "fio-json":
        return db_fio_export.run_fio_export(args)
    if args.store:
        raise FioLoadgenError("db export --store reads a store with --format fio-json only")
    document = client(args).get(
        "/export",
        ids=",".join(args.id) if args.id else None,
        profile_name=args.profile,
        limit=args.limit,
    )
    text = json.dumps(document, indent=1)
    if args.out:
        Path(args.out).write_text(text)
        print(f"exported {len(document['runs'])} run(s) to {args.out}")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    if args.source_kind:
        return db_sources.run_import(args)
    if args.store:
        raise FioLoadgenError("db import --store reads runs made elsewhere: add --from")
    if len(args.file) != 1:
        raise FioLoadgenError("db import: name one export document (or use --from)")
    document = read_json_file(Path(args.file[0]), "export")
    result = client(args).send("POST", "/import", document)["data"]
    imported, skipped = len(result["imported"]), len(result["skipped"])
    print(f"imported {imported} run(s), skipped {skipped} already present")
    return EXIT_OK


def register(commands: Any) -> None:
    db = commands.add_parser("db", help="export or import runs of the results server (JSON)")
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write runs as a JSON document")
    export.add_argument("--id", action="append", help="a run or job id; repeatable")
    export.add_argument("--profile", help="only runs of this profile")
    export.add_argument("--limit", type=int, default=1000, help="at most this many runs")
    export.add_argument(
        "--out", help="file to write (default: stdout); with --format fio-json: a directory"
    )
    export.add_argument(
        "--format",
        choices=("json", "fio-json"),
        default="json",
        help="json: this tool's export document (from a server); fio-json: fio's"
        " standalone json+ per worker and merged, as fio's own tools read it",
    )
    add_store_argument(export)
    export.set_defaults(handler=_export)
    imported = actions.add_parser(
        "import",
        help="import a JSON document written by export, or runs made elsewhere (--from)",
    )
    imported.add_argument("file", nargs="*", help="the export document (with --from: sources)")
    db_sources.add_import_arguments(imported)
    imported.set_defaults(handler=_import)
    for action in (export, imported):
        add_url_option(action)
