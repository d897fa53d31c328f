"""The ``fioloadgen`` command: parse arguments, call the domain, set the exit status.

Errors a user can cause print one line on stderr (a traceback only with ``--debug``).
Exit statuses: 0 ok, 1 a check failed (e.g. a profile was refused), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .exceptions import FioLoadgenError
from .profiles import check_files, discover_profiles, load_profile, shipped_profiles_dir

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


def _profile_check(args: argparse.Namespace) -> int:
    verdicts = check_files([Path(path) for path in args.files], fio_binary=args.fio_binary)
    for path, reason in verdicts:
        print(f"{path}: {'accepted' if reason is None else 'refused: ' + reason}")
    return EXIT_CHECK_FAILED if any(reason is not None for _path, reason in verdicts) else EXIT_OK


def _profiles_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else shipped_profiles_dir()


def _profile_ls(args: argparse.Namespace) -> int:
    for name, path in discover_profiles(_profiles_dir(args)).items():
        description = load_profile(path).description.splitlines()
        print(f"{name:28} {description[0] if description else ''}".rstrip())
    return EXIT_OK


def _profile_show(args: argparse.Namespace) -> int:
    profiles = discover_profiles(_profiles_dir(args))
    if args.name not in profiles:
        raise FioLoadgenError(
            f"no profile named {args.name!r} in {_profiles_dir(args)} "
            f"(known: {', '.join(profiles) or 'none'})"
        )
    sys.stdout.write(profiles[args.name].read_text())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fioloadgen", description="Storage benchmarking with fio (pytest-fioloadgen)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    profile = commands.add_parser("profile", help="inspect and check fio job profiles")
    profile_commands = profile.add_subparsers(
        dest="profile_command", metavar="ACTION", required=True
    )
    check = profile_commands.add_parser(
        "check", help="validate job files (fio --parse-only and the safety policy)"
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--fio-binary", default="fio", help="fio executable (default: fio)")
    check.set_defaults(handler=_profile_check)
    listing = profile_commands.add_parser("ls", help="list profiles with their description")
    listing.add_argument("--dir", help="profiles directory (default: the shipped profiles)")
    listing.set_defaults(handler=_profile_ls)
    show = profile_commands.add_parser("show", help="print a profile's job file")
    show.add_argument("name")
    show.add_argument("--dir", help="profiles directory (default: the shipped profiles)")
    show.set_defaults(handler=_profile_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except FioLoadgenError as err:
        if args.debug:
            raise
        print(f"fioloadgen: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fioloadgen: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
