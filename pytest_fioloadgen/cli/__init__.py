"""The ``fioloadgen`` command: parse arguments, call the domain, set the exit status.

Each area of commands lives in its own module with a ``register(commands)`` function that
adds its subparsers and sets ``handler`` on them; this module only assembles them.
Errors a user can cause print one line on stderr (a traceback only with ``--debug``):
the package's own errors, and any OSError (a file or directory the user named that
cannot be used). Everything printed goes through common.printable(): no control
character from a profile or a store reaches the terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from .. import __version__
from ..apiclient import ApiError
from ..exceptions import FioLoadgenError
from . import (
    cluster,
    compare,
    db,
    history,
    jobs,
    legacy_forms,
    power,
    profiles,
    report,
    run,
    status,
)
from .common import EXIT_AUTH, EXIT_UNREACHABLE, EXIT_USAGE, os_error_line, printable_output

#: Modules whose ``register`` adds subcommands, in the order --help lists them.
COMMAND_MODULES = (profiles, status, run, jobs, db, history, compare, power, report, cluster)
#: Entry-point group for command areas outside this package (the results server's
#: ``serve`` and ``server``): this package never imports them by name.
COMMAND_ENTRY_POINTS = "fioloadgen.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fioloadgen", description="Storage benchmarking with fio (pytest-fioloadgen)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    for entry_point in entry_points(group=COMMAND_ENTRY_POINTS):
        entry_point.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with printable_output():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    # FIOLoadGen 1.5's verb forms (profile --ls, job --show ID, db-dump, ...) still work.
    arguments, note = legacy_forms.translate(sys.argv[1:] if argv is None else argv)
    if note:
        print(f"fioloadgen: {note}", file=sys.stderr)
    args = parser.parse_args(arguments)
    try:
        status: int = args.handler(args)
    except FioLoadgenError as err:
        if args.debug:
            raise
        print(f"fioloadgen: error: {err}", file=sys.stderr)
        if isinstance(err, ApiError) and err.unreachable:
            return EXIT_UNREACHABLE
        if isinstance(err, ApiError) and err.status in (401, 403):
            return EXIT_AUTH
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fioloadgen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:
        # A file or directory the user named cannot be used (too long a name, a
        # directory where a file goes, no permission): one line naming it.
        if args.debug:
            raise
        print(f"fioloadgen: error: {os_error_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    return status
