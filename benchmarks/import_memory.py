"""Peak memory of ``fioloadgen db import --from ...`` against the size of the source: a
FIOLoadGen database or a directory of fio json+ files made of N copies of a real fio
output (tests/data/imports), each copy a distinct run (its timestamp changed), imported
into an empty sqlite store.

    python benchmarks/import_memory.py make fioloadgen-db N PATH
    python benchmarks/import_memory.py make fio-json N DIR
    /usr/bin/time -f '%M KiB peak, %e s' fioloadgen db import --from ... --store ...

Peak RSS that does not grow with N is the bounded memory the importer promises: it reads
one row or file at a time and keeps one run in memory.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

DATA = Path(__file__).parent.parent / "tests" / "data" / "imports"
JOBS_TABLE = (
    "CREATE TABLE jobs (id text PRIMARY KEY, title text NOT NULL, profile text NOT NULL,"
    " profile_spec text, storageclass text, workers integer NOT NULL, status text NOT NULL,"
    " started integer, ended integer, raw_json text, summary text, type text, raw_output"
    " text, provider text, platform text)"
)


def _copy(document: dict[str, object], number: int) -> str:
    return json.dumps({**document, "timestamp": 1_700_000_000 + number}, indent=1)


def make_database(count: int, path: Path) -> None:
    document = json.loads((DATA / "fioloadgen-randread-w2.json").read_text())
    spec = (DATA / "randread.fio").read_text()
    with sqlite3.connect(path) as conn:
        conn.execute(JOBS_TABLE)
        conn.executemany(
            "INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    f"job-{n}",
                    f"run {n}",
                    "randread",
                    spec,
                    "gp3",
                    2,
                    "complete",
                    1_700_000_000 + n,
                    1_700_000_030 + n,
                    _copy(document, n),
                    "{}",
                    "adhoc",
                    "",
                    "aws",
                    "openshift",
                )
                for n in range(count)
            ),
        )
    conn.close()


def make_directory(count: int, directory: Path) -> None:
    document = json.loads((DATA / "client-jsonplus-w2.json").read_text())
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (directory / f"run-{n:06d}.json").write_text(_copy(document, n))


def main() -> None:
    _make, kind, count, where = sys.argv[1:5]
    if kind == "fioloadgen-db":
        make_database(int(count), Path(where))
    else:
        make_directory(int(count), Path(where))


if __name__ == "__main__":
    main()
