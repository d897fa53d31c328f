"""``fioloadgen db import --from fioloadgen-db|fio-json``: runs made elsewhere brought
into a history store (pytest_fioloadgen.importing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..exceptions import FioLoadgenError
from ..importing.fio_output import FioOutputFiles
from ..importing.fioloadgen_db import FIOLOADGEN, FioLoadgenDatabase
from ..importing.importer import ImportSummary, import_runs, import_session_id
from ..importing.profiles_out import write_profiles
from ..importing.same_as import SameAs
from ..importing.sources import Source
from ..store.base import Store
from ..store.selection import parse_labels
from .common import EXIT_CHECK_FAILED, EXIT_OK, unfiltered
from .history import add_store_argument, store_from

SOURCES = ("fioloadgen-db", "fio-json")


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``db import`` that read other tools' results."""
    parser.add_argument(
        "--from",
        dest="source_kind",
        choices=SOURCES,
        help="read runs made elsewhere: a FIOLoadGen database (fioservice.db), or fio"
        " json/json+ output files or directories (FILE is then the source)",
    )
    parser.add_argument(
        "--profile", dest="import_profile", metavar="NAME", help="fio-json: the profile name"
    )
    parser.add_argument(
        "--target",
        metavar="T",
        help="the storage target the runs measured (fio-json; fioloadgen-db:"
        " for jobs without a storage class)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="fio-json: files of one run (one per worker) per run",
    )
    parser.add_argument(
        "--label", action="append", default=[], metavar="K=V", help="add a label; repeatable"
    )
    parser.add_argument(
        "--same-as",
        metavar="RUN_ID|PROFILE@TARGET",
        help="file the imported runs under this run's history key, or that of the newest"
        " run made here of PROFILE on TARGET with as many workers (they measured the same)",
    )
    parser.add_argument(
        "--profiles-into",
        metavar="DIR",
        help="fioloadgen-db: write its profiles that the safety policy allows into DIR",
    )
    add_store_argument(parser)


def _labels(texts: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for text in texts:
        parsed = parse_labels(text)
        if parsed is None:
            raise FioLoadgenError(f"--label {text!r}: expected KEY=VALUE")
        labels.update(parsed)
    return labels


def _source(args: argparse.Namespace) -> tuple[Source, str]:
    paths = [Path(name) for name in args.file]
    if not paths:
        raise FioLoadgenError(f"db import --from {args.source_kind}: name the file(s) to read")
    if args.source_kind == "fioloadgen-db":
        if len(paths) != 1:
            raise FioLoadgenError("db import --from fioloadgen-db reads one database file")
        database = FioLoadgenDatabase(paths[0], default_target=args.target or "default")
        return database, import_session_id(FIOLOADGEN, database.name)
    if not args.import_profile or not args.target:
        raise FioLoadgenError(
            "db import --from fio-json needs --profile NAME and --target T: fio's output"
            " names neither"
        )
    files = FioOutputFiles(
        paths, profile_name=args.import_profile, target=args.target, workers=args.workers
    )
    return files, import_session_id("fio-json", args.import_profile + "\0" + args.target)


def _same_as(store: Store, spec: str | None) -> SameAs | None:
    return None if spec is None else SameAs(store, spec)


class _Bar:
    """'importing [#####.....] 120/500 jobs' on a terminal's stderr, redrawn in place;
    nothing when stderr is not a terminal (logs and tests keep the summary only)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        # The bar is this module's own text: its \r goes to the terminal unescaped.
        self.stream = unfiltered(sys.stderr)
        self.tty = self.stream.isatty()

    def __call__(self, done: int, total: int, width: int = 30) -> None:
        if not self.tty or total <= 0:
            return
        filled = int(width * min(done / total, 1.0))
        self.stream.write(
            f"\rimporting [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {self.unit}"
        )
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _print_summary(summary: ImportSummary) -> None:
    for title, lines in (
        ("skipped", summary.skipped),
        ("refused", summary.refused),
    ):
        for line in lines:
            print(f"{title}: {line}")
    print(summary.line())


def run_import(args: argparse.Namespace) -> int:
    """``db import --from ...``: exit 0 when nothing was refused, else EXIT_CHECK_FAILED."""
    if args.workers is not None and args.source_kind != "fio-json":
        raise FioLoadgenError("--workers applies to --from fio-json only")
    if args.profiles_into and args.source_kind != "fioloadgen-db":
        raise FioLoadgenError("--profiles-into applies to --from fioloadgen-db only")
    source, session_id = _source(args)
    store = store_from(args)
    try:
        same_as = _same_as(store, args.same_as)
        bar = _Bar(source.unit)
        try:
            summary = import_runs(
                source,
                store,
                session_id=session_id,
                same_as=same_as,
                labels=_labels(args.label),
                progress=bar,
            )
        finally:
            bar.end()
        if args.profiles_into and isinstance(source, FioLoadgenDatabase):
            written = write_profiles(source.profiles(), Path(args.profiles_into))
            for line in written.refused:
                print(f"profile refused: {line}")
            print(written.line())
    finally:
        source.close()
        store.close()
    _print_summary(summary)
    return EXIT_CHECK_FAILED if summary.refused else EXIT_OK
