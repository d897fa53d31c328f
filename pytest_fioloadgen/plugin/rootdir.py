"""Catch a ``--fio-* PATH`` (a space, not ``=``) that decided pytest's rootdir.

pytest picks the rootdir and the ini file before plugins' options are known, so in
``pytest --fio-thresholds /other/t.toml`` the existing file counts as a test path
(``_pytest.config.findpaths.get_dirs_from_args``): the rootdir moves to /other and the
project's ini file is silently not read. Our options are parsed correctly afterwards, so
only that early choice is wrong; we recompute it without our values and, when they made
the difference, stop with one line that names the fix (``--fio-thresholds=PATH``).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _pytest.config.findpaths import determine_setup

from ..settings import OPTIONS

#: Options whose value may be an existing path (every option that takes a value: a
#: target, a store file or a kubeconfig moves the rootdir as well as a thresholds file).
_VALUE_OPTIONS = {option.cli for option in OPTIONS if not option.flag}


def spaced_path_values(args: Sequence[str], cwd: Path) -> list[tuple[str, str]]:
    """``(option, value)`` for each ``--fio-x VALUE`` whose value is an existing path."""
    found: list[tuple[str, str]] = []
    for option, value in itertools.pairwise(args):
        if option in _VALUE_OPTIONS and not value.startswith("-"):
            path = Path(value).expanduser()
            if (path if path.is_absolute() else cwd / path).exists():
                found.append((option, value))
    return found


def _setup(config: pytest.Config, args: list[str]) -> tuple[Path, Path | None]:
    # determine_setup is pytest's private API; its keywords changed across 8.x.
    wanted: dict[str, Any] = {
        "inifile": None,
        "override_ini": config.option.override_ini,
        "args": args,
        "rootdir_cmd_arg": None,
        "invocation_dir": config.invocation_params.dir,
    }
    accepted = inspect.signature(determine_setup).parameters
    rootpath, inipath, *_ = determine_setup(
        **{key: value for key, value in wanted.items() if key in accepted}
    )
    return Path(rootpath), inipath


def check_rootdir(config: pytest.Config) -> None:
    """Raise UsageError when a spaced --fio-* path value made pytest drop (or pick) an ini
    file; warn when it only moved the rootdir (no ini file either way: relative paths and
    the default store then resolve against the moved rootdir)."""
    if config.option.inifilename or config.option.rootdir:
        return  # pytest was told where the project is: our values decided nothing.
    cwd = config.invocation_params.dir
    spaced = spaced_path_values(config.invocation_params.args, cwd)
    if not spaced:
        return
    positional = [str(arg) for arg in config.args] if config.args_source.name == "ARGS" else []
    try:
        intended = _setup(config, positional)
    except pytest.UsageError:
        return
    if intended == (config.rootpath, config.inipath):
        return
    option, value = spaced[0]
    fix = f"write {option}={value}"
    if intended[1] == config.inipath:
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"{option} {value}: pytest took this path for a test path when it chose the "
                f"rootdir ({config.rootpath}, not {intended[0]}); {fix}"
            ),
            stacklevel=2,
        )
        return
    lost = f"{intended[1]} was not read" if intended[1] else f"it read {config.inipath}"
    raise pytest.UsageError(
        f"{option} {value}: pytest took this path for a test path when it chose the rootdir "
        f"({config.rootpath}; {lost}); {fix}"
    )
