"""Static-site benchmark (a script, not a test): full and incremental ``fioloadgen report``.

    .venv/bin/python benchmarks/site_bench.py [--runs 100000] [--keys 500] [--store PATH]

1. A history of N runs over K keys (benchmarks/history_data.py: real 2-worker json+
   documents with time series, noisy series with known steps) in an sqlite file;
   ``--store PATH`` keeps it there and reuses it the next time.
2. A full build of the site from it, as ``fioloadgen report`` does it: time, files, size.
3. One more suite run (a session of 18 cases, each on its own key) recorded, then the
   site brought up to date: time and what was written.

Targets (issue 12): full build of 100k runs over 500 keys <= 5 min, update after one
18-case session <= 10 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from history_data import SESSION_CASES, record_history  # noqa: E402

from pytest_fioloadgen.report.site import build_site  # noqa: E402
from pytest_fioloadgen.store.sqlite import SQLiteStore  # noqa: E402


def site_size(out: Path) -> tuple[int, int]:
    files = [path for path in out.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def one_session(store: SQLiteStore) -> list[str]:
    """Record a session: the newest run of 18 keys again, as new runs of one session."""
    keys = sorted(store.key_versions())[:: max(1, len(store.key_versions()) // SESSION_CASES)]
    session = uuid.uuid4().hex
    recorded = []
    for key in keys[:SESSION_CASES]:
        (newest,) = store.query(history_key=key, limit=1, with_raw=True)
        run = dataclasses.replace(
            newest,
            run_id=uuid.uuid4().hex,
            session_id=session,
            started_at=time.time(),
            finished_at=time.time() + 30,
        )
        store.record(run)
        recorded.append(run.run_id)
    return recorded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--store", type=Path, help="keep (and reuse) the history here")
    parser.add_argument("--processes", type=int, help="run-data writers (default: CPUs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-site-bench-") as tmp:
        path = args.store or Path(tmp) / "history.db"
        fresh = not path.exists()
        store = SQLiteStore(path)
        try:
            if fresh:
                started = time.perf_counter()
                history = record_history(
                    store,
                    runs=args.runs,
                    keys=args.keys,
                    long_keys=args.keys // 10,
                    long_runs=min(1000, args.runs // args.keys * 2),
                )
                print(
                    f"history: {history.runs} runs over {len(history.keys)} keys recorded in "
                    f"{time.perf_counter() - started:.0f} s ({path})"
                )
            else:
                print(f"history: {len(store.key_versions())} keys in {path} (reused)")
            out = Path(tmp) / "site"
            started = time.perf_counter()
            full = build_site(store, out, processes=args.processes)
            elapsed = time.perf_counter() - started
            files, size = site_size(out)
            print(
                f"full build: {full.runs} runs over {full.keys} keys in {elapsed:.1f} s "
                f"(target <= 300 s) on {os.cpu_count()} CPUs; {files} files, "
                f"{size / 2**20:.0f} MB ({size / max(full.runs, 1) / 1024:.1f} KB a run)"
            )
            one_session(store)
            started = time.perf_counter()
            update = build_site(store, out, processes=args.processes)
            elapsed = time.perf_counter() - started
            print(
                f"update after one {SESSION_CASES}-case session: {elapsed:.2f} s (target <= 10 s), "
                f"{update.keys_written} key pages and {update.runs_written} runs written"
            )
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
