"""``fioloadgen job show ID [--raw] --store URI``: one run read straight from a history
store (sqlite, tinydb, or a server as a store), as ``sessions`` and ``compare`` read
theirs: no results server needed for a local history."""

from __future__ import annotations

import argparse
import json
import sys

from ..importing.marks import imported_from
from ..store.base import check_run_id
from .common import EXIT_OK
from .history import store_from
from .remote import SUMMARY_METRICS, when


def show_from_store(args: argparse.Namespace) -> int:
    store = store_from(args)
    try:
        run = store.get(check_run_id(args.id, where="job show"))
    finally:
        store.close()
    if args.raw:
        json.dump(run.raw, sys.stdout, indent=2)
        print()
        return EXIT_OK
    origin = imported_from(run.labels)
    for label, value in (
        ("id", run.run_id),
        ("title", run.labels.get("job_title", "-")),
        ("status", run.status),
        ("profile", run.profile_name),
        ("workers", run.workers),
        ("target", run.target),
        ("started", when(run.started_at)),
        ("ended", when(run.finished_at)),
        ("test", run.test_id or "-"),
        ("verdict", run.verdict or "-"),
        ("imported", f"yes, from {origin}" if origin else "no"),
        ("session", run.session_id),
        ("key", run.history_key or "-"),
    ):
        print(f"{label:<9}: {value}")
    reason = run.evidence.get("reason")
    if reason:
        print(f"{'reason':<9}: {reason}")
    if run.error:
        print(f"{'error':<9}: {run.error}")
    if run.metrics:
        print("summary  :")
        for name in SUMMARY_METRICS:
            if run.metrics.get(name) is not None:
                print(f"  {name:<18} {run.metrics[name]:,.3f}")
    for note in run.notes:
        print(f"note     : {note}")
    return EXIT_OK
