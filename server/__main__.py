"""``python -m fioloadgen_server serve ...`` (what ``fioloadgen server start`` runs)."""

import argparse
import sys

from .cli import register

parser = argparse.ArgumentParser(prog="fioloadgen")
parser.add_argument("--debug", action="store_true")
register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args()
sys.exit(args.handler(args))
