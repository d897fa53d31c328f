"""FIOLoadGen 1.5's ``fiocli`` verb forms, rewritten to ours before argparse sees them.

Users of FIOLoadGen type ``profile --ls``, ``job --show ID --raw`` or ``db-dump``; argparse
would answer with a bare usage error. The rewrite is a pure function of argv, so each form
maps to exactly one new command, and the caller prints one note naming it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

#: ``COMMAND --FLAG`` forms that become ``COMMAND ACTION``; the flag's value (if any)
#: stays as the action's first argument.
_FLAG_ACTIONS: dict[str, dict[str, str]] = {
    "profile": {"--ls": "ls", "--show": "show"},
    "job": {"--ls": "ls", "--show": "show", "--delete": "delete"},
}
#: fiocli's hyphenated commands.
_DASHED = {"db-dump": ["db", "export"], "profile-add": ["profile", "add"]}
#: Options of fiocli that ours spells differently or does not need.
_RUN_RENAMES = {"--storageclass": "--target"}
_RUN_DROPPED = ("--provider", "--platform")
#: 1.5's ``job --show --with-spec`` printed fio's options; ``--raw`` shows all of them.
_SHOW_RENAMES = {"--with-spec": "--raw"}


def _command_index(argv: Sequence[str]) -> int | None:
    """Where the command word is: the first argument that is not a global option."""
    for index, arg in enumerate(argv):
        if not arg.startswith("-"):
            return index
    return None


def _option_value(rest: list[str], name: str) -> str | None:
    """Remove ``NAME VALUE`` (or ``NAME=VALUE``) from ``rest`` and return VALUE."""
    for index, arg in enumerate(rest):
        if arg == name and index + 1 < len(rest):
            value = rest[index + 1]
            del rest[index : index + 2]
            return value
        if arg.startswith(name + "="):
            del rest[index]
            return arg.partition("=")[2]
    return None


def _rewrite(command: str, rest: list[str]) -> list[str] | None:
    """The new form of ``command rest`` (without the program's global options), or None."""
    if command in _DASHED:
        new = list(_DASHED[command])
        if command == "db-dump":
            # 1.5 dumped a table as SQL; ours exports the runs as JSON (--table has no use).
            _option_value(rest, "--table")
        if command == "profile-add":
            path = _option_value(rest, "--file")
            return [*new, *([path] if path else []), *rest]
        return [*new, *rest]
    if command == "profile-rm":
        name = _option_value(rest, "--name")
        return ["profile", "rm", *([name] if name else []), *rest]
    if command == "db" and rest[:1] == ["dump"]:
        _option_value(rest, "--table")
        return ["db", "export", *rest[1:]]
    if command in _FLAG_ACTIONS and rest and rest[0] in _FLAG_ACTIONS[command]:
        action = _FLAG_ACTIONS[command][rest[0]]
        tail = rest[1:]
        if action == "ls" and "--queued" in tail:
            tail = [arg for arg in tail if arg != "--queued"] + ["--status", "queued"]
        if action == "show":
            tail = [_SHOW_RENAMES.get(arg, arg) for arg in tail]
        return [command, action, *tail]
    if command == "run" and any(
        arg.split("=")[0] in (*_RUN_RENAMES, *_RUN_DROPPED) for arg in rest
    ):
        tail = list(rest)
        for old in _RUN_DROPPED:
            _option_value(tail, old)
        return ["run", *[_RUN_RENAMES.get(arg, arg) for arg in tail]]
    return None


def translate(argv: Sequence[str]) -> tuple[list[str], str | None]:
    """``argv`` in our forms, and a note naming the new form when a 1.5 form was given."""
    args = list(argv)
    index = _command_index(args)
    if index is None:
        return args, None
    new = _rewrite(args[index], args[index + 1 :])
    if new is None:
        return args, None
    old = shlex.join(args[index:])
    note = f"note: `{old}` is FIOLoadGen 1.5's form; the new form is `fioloadgen {shlex.join(new)}`"
    return [*args[:index], *new], note
