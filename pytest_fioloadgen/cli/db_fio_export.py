"""``fioloadgen db export --format fio-json``: a stored run as fio's standalone json+
documents, which fio's own tools read (fio/standalone.py): one file per worker and one
of all workers merged, from any store, without a server."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..exceptions import FioLoadgenError
from ..fio.standalone import merged_standalone, worker_documents
from ..store.base import check_run_id
from .common import EXIT_OK
from .history import store_from

#: Where the merged document goes, under --out: apart from the per-worker files, so that
#: ``db import --from fio-json DIR --workers N`` reads the workers only.
MERGED_DIR = "merged"


def run_fio_export(args: argparse.Namespace) -> int:
    if not args.id:
        raise FioLoadgenError("db export --format fio-json: name the run(s) with --id")
    if not args.out:
        raise FioLoadgenError("db export --format fio-json: name the directory with --out")
    out = Path(args.out)
    store = store_from(args)
    try:
        runs = [store.get(check_run_id(run_id, where="--id")) for run_id in args.id]
    finally:
        store.close()
    (out / MERGED_DIR).mkdir(parents=True, exist_ok=True)
    for run in runs:
        if not run.raw:
            raise FioLoadgenError(f"run {run.run_id} has no fio document to export")
        documents = worker_documents(run.raw)
        for name, document in documents:
            _write(out / f"{run.run_id}.{name}.json", document)
        _write(out / MERGED_DIR / f"{run.run_id}.json", merged_standalone(run.raw))
        print(
            f"run {run.run_id}: {len(documents)} worker document(s) in {out},"
            f" the merged one in {out / MERGED_DIR}"
        )
    return EXIT_OK


def _write(path: Path, document: dict[str, object]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
