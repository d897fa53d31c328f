"""``python -m fioloadgen_server serve ...`` (what ``fioloadgen server start`` runs)."""

import argparse
import sys

from pytest_fioloadgen.exceptions import FioLoadgenError

from .cli import EXIT_USAGE, register

parser = argparse.ArgumentParser(prog="fioloadgen")
parser.add_argument("--debug", action="store_true")
register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args()
try:
    status = args.handler(args)
except FioLoadgenError as err:
    if args.debug:
        raise
    # One line, as the fioloadgen command prints it: `server start` shows this line.
    print(f"fioloadgen: error: {err}", file=sys.stderr)
    status = EXIT_USAGE
sys.exit(status)
