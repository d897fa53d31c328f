"""``fioloadgen profile check|ls|show``: fio job profiles on this machine (or, with
``--url`` / FIO_API_URL, on a results server; ``add``/``rm`` are in remote_profiles)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..backends.sandbox import SANDBOX_MODES, choose_sandbox, in_ci
from ..exceptions import FioLoadgenError, ProfileError
from ..options import parse_bool, parse_choice
from ..profiles import (
    Allowance,
    allowed_variables,
    check_files,
    discover_profiles,
    load_profile,
    read_profile_text,
    shipped_profiles_dir,
)
from ..profiles.caps import DEFAULT_CAPS, check_caps, parse_caps
from ..profiles.lint import blocking, lint
from ..profiles.policy import allowed_engines
from ..settings import parse_variable_names
from .common import EXIT_CHECK_FAILED, EXIT_OK
from .remote_profiles import list_remote, register_remote, show_remote, wants_server


def _check(args: argparse.Namespace) -> int:
    where = "--allow-engines" if args.allow_engines is not None else "FIO_ALLOW_ENGINES"
    spec = (
        args.allow_engines
        if args.allow_engines is not None
        else os.environ.get("FIO_ALLOW_ENGINES", "")
    )
    allowance = Allowance(engines=allowed_engines(spec.split(","), where))
    names_where, names = (
        ("--fio-env", args.fio_env)
        if args.fio_env
        else ("FIO_ENV", [os.environ.get("FIO_ENV", "")])
    )
    variables = allowed_variables(parse_variable_names(names, names_where), os.environ)
    caps_where, caps_spec = (
        ("--fio-caps", args.fio_caps)
        if args.fio_caps is not None
        else ("FIO_CAPS", os.environ.get("FIO_CAPS"))
    )
    caps = DEFAULT_CAPS.with_values(
        parse_caps([part for part in (caps_spec or "").split(",") if part.strip()], caps_where),
        caps_where,
    )
    mode_where, mode = (
        ("--fio-sandbox", args.fio_sandbox)
        if args.fio_sandbox is not None
        else ("FIO_SANDBOX", os.environ.get("FIO_SANDBOX") or "auto")
    )
    # fio --parse-only of a file nobody checked yet: confined like every fio process.
    sandbox = choose_sandbox(
        parse_choice(mode, mode_where, SANDBOX_MODES),
        where=mode_where,
        strict="CI is set" if in_ci(os.environ) else None,
    )
    if not sandbox.confined and mode == "auto":
        print(f"fioloadgen: fio --parse-only runs unconfined: {sandbox.reason}", file=sys.stderr)
    verdicts = check_files(
        [Path(path) for path in args.files],
        fio_binary=args.fio_binary,
        allowance=allowance,
        sandbox=sandbox,
        env=variables,
    )
    strict = args.strict or parse_bool(os.environ.get("FIO_LINT_STRICT", ""), "FIO_LINT_STRICT")
    failed = False
    for path, reason in verdicts:
        if reason is None:
            try:
                check_caps(load_profile(path, env=variables), caps)
            except ProfileError as err:
                reason = str(err)
        if reason is not None:
            print(f"{path}: refused: {reason}")
            failed = True
            continue
        # Lint: whether the figures will mean anything (profiles/lint.py).
        findings = lint(load_profile(path, env=variables))
        stopping = blocking(findings, strict=strict)
        failed = failed or bool(stopping)
        counted = f" ({len(findings)} lint finding(s))" if findings else ""
        print(f"{path}: {'refused by lint' if stopping else 'accepted'}{counted}")
        # One verdict line per file; its findings indented below it.
        for finding in findings:
            print(f"  {finding.line()}")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def _directory(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else shipped_profiles_dir()


def _list(args: argparse.Namespace) -> int:
    if wants_server(args):
        return list_remote(args)
    for name, path in discover_profiles(_directory(args)).items():
        description = load_profile(path).description.splitlines()
        print(f"{name:28} {description[0] if description else ''}".rstrip())
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    if wants_server(args):
        return show_remote(args)
    profiles = discover_profiles(_directory(args))
    if args.name not in profiles:
        raise FioLoadgenError(
            f"no profile named {args.name!r} in {_directory(args)} "
            f"(known: {', '.join(profiles) or 'none'})"
        )
    sys.stdout.write(read_profile_text(profiles[args.name], _directory(args)))
    return EXIT_OK


def register(commands: Any) -> None:
    profile = commands.add_parser("profile", help="inspect and check fio job profiles")
    actions = profile.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate job files (fio --parse-only, the safety policy and profile lint)",
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--fio-binary", default="fio", help="fio executable (default: fio)")
    check.add_argument(
        "--allow-engines",
        metavar="ENGINE,...",
        help="network storage engines you trust these profiles to use, e.g. rbd "
        "(default: FIO_ALLOW_ENGINES, else none)",
    )
    check.add_argument(
        "--fio-env",
        action="append",
        metavar="VAR",
        help="an environment variable the profiles may name as ${VAR}; repeatable (default: "
        "FIO_ENV, else none: any ${VAR} is refused)",
    )
    check.add_argument(
        "--fio-caps",
        metavar="KEY=VALUE,...",
        help="raise resource caps as --fio-caps does, e.g. numjobs=128,time=2h "
        "(default: FIO_CAPS, else the defaults)",
    )
    check.add_argument(
        "--fio-sandbox",
        choices=SANDBOX_MODES,
        help="where fio --parse-only runs: auto (bubblewrap when it can start; never "
        "unconfined when CI is set), bwrap or none (default: FIO_SANDBOX, else auto)",
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="lint warnings refuse the profile too (default: FIO_LINT_STRICT)",
    )
    check.set_defaults(handler=_check)
    listing = actions.add_parser("ls", help="list profiles with their description")
    listing.add_argument("--dir", help="profiles directory (default: the shipped profiles)")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="print a profile's job file")
    show.add_argument("name")
    show.add_argument("--dir", help="profiles directory (default: the shipped profiles)")
    show.set_defaults(handler=_show)
    register_remote(actions, listing, show)
