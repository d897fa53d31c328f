"""The safety policy: what a profile may make fio do on a worker (an allow-list).

A profile may do I/O on files inside the directory the backend gives its worker, and
nothing else. This is the second line of defence: the first is the sandbox the local
backend runs fio in (backends/sandbox.py). Each holds on its own.

The policy is an allow-list, not a deny-list, because fio does more than any list of bad
options models (a job named ``[../../tmp/x]`` becomes a file name through ``$jobname``):

* every option must be one fio's own option table knows (fio_options.py) and is checked by
  its kind: paths are resolved the way fio resolves them (relative to the job's directory,
  the server's working directory, or the client's) and refused if they can leave it;
* job names (section names and ``name=``) are limited to a charset with no path in it;
* nothing that fio would expand again on the worker survives: the profile is rendered with
  ``${VAR}`` already substituted, so any ``${`` left means a variable expanded into another
  reference (``$${X}{HOME}``), which the worker's fio would expand with *its* environment;
* only I/O engines that do file I/O, plus what the backend or the user grants explicitly
  (Allowance): the one block device of a raw-block worker, network engines such as rbd.

Checked on the profile as it will run: after every override, and again with what the
backend grants.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..exceptions import ConfigError, ProfileError
from .fio_options import (
    ALIASES,
    DEVICE_ENGINES,
    ENGINE_OPTIONS,
    FILE_ENGINES,
    FIO_TABLE_VERSION,
    JOB_OPTIONS,
    NETWORK_ENGINES,
    OPT_IN_ENGINES,
    REFUSED,
    Kind,
    canonical,
)
from .model import Option, Profile, Section

__all__ = [
    "JOB_NAME",
    "NO_ALLOWANCE",
    "Allowance",
    "allowed_engines",
    "check_job_name",
    "check_safety",
]

#: Job names become file and log names: no '/', no '$', nothing that starts a path.
JOB_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+%-]{0,63}$")
#: fio's default engine on Linux (what a job without ioengine= uses).
DEFAULT_ENGINE = "psync"
#: Tokens fio replaces in filename_format; none of them can contain '/'.
_FORMAT_TOKENS = re.compile(r"\$(jobname|jobnum|filenum|clientuid)")
_UNESCAPED_COLON = re.compile(r"(?<!\\):")
_MEMORY_TYPES = ("malloc", "shm", "shmhuge", "mmap", "mmaphuge", "mmapshared", "cudamalloc")


@dataclass(frozen=True)
class Allowance:
    """What a backend (or the user, explicitly) grants a profile beyond file I/O in the
    worker directory.

    ``devices``: device paths a job's ``filename`` may name (a Kubernetes block-mode pod's
    one volume device); nothing else may ever open a device. ``engines``: ioengines the
    user trusts by an explicit setting (``fio_allow_engines = rbd``), never from the
    server API.
    """

    devices: tuple[str, ...] = ()
    engines: tuple[str, ...] = ()

    def merged(self, other: Allowance) -> Allowance:
        return Allowance(
            devices=tuple(dict.fromkeys((*self.devices, *other.devices))),
            engines=tuple(dict.fromkeys((*self.engines, *other.engines))),
        )


NO_ALLOWANCE = Allowance()


def check_job_name(name: str, where: str) -> None:
    """A job name fio may turn into a file name: refused when it could name a path."""
    if not JOB_NAME.match(name):
        raise ProfileError(
            f"{where}: job name {name!r} is not allowed (fio turns job names into file and log"
            " names: use 1-64 letters, digits, '_', '.', '+', '%' or '-', starting with a"
            " letter, digit or '_')"
        )


def _relative_path_refusal(path: str) -> str | None:
    """Why a path could leave the directory it is relative to (None: it cannot)."""
    if not path:
        return "an empty path"
    if path == "/dev" or path.startswith("/dev/"):
        return "device nodes are never allowed"
    if path.startswith("/"):
        return "absolute paths leave the worker's directory"
    if ".." in PurePosixPath(path).parts:
        return "'..' leaves the worker's directory"
    return None


class _Checker:
    def __init__(self, profile: Profile, allowance: Allowance) -> None:
        self.profile = profile
        self.allowance = allowance
        self.engines = self._engines()

    def refuse(self, option: Option, shown: str, reason: str) -> ProfileError:
        return ProfileError(
            f"profile '{self.profile.label}' {option.where}: option {shown} is not allowed"
            f" ({reason})"
        )

    def _engines(self) -> set[str]:
        """Every engine some job of the profile runs with."""
        engines: set[str] = set()
        for _section, options in self.profile.effective_job_options():
            engines.add((options.get("ioengine") or DEFAULT_ENGINE).strip())
        return engines

    def check(self) -> None:
        if not self.profile.jobs():
            raise ProfileError(f"profile '{self.profile.label}': defines no job section")
        for section in self.profile.sections:
            check_job_name(
                section.name, f"profile '{self.profile.label}' line {section.line} section"
            )
            for option in section.options:
                self.check_option(section, option)

    def check_option(self, section: Section, option: Option) -> None:
        if "${" in option.render():
            raise self.refuse(
                option,
                option.render(),
                "'${' is left after variable substitution: fio on the worker would expand it"
                " again with the worker's environment",
            )
        key = canonical(option.key)
        kind = JOB_OPTIONS.get(key)
        if kind is None:
            kind = self._engine_option_kind(option, key)
        value = option.value
        if kind is Kind.REFUSED:
            raise self.refuse(option, option.key, REFUSED[key])
        if kind is Kind.PLACEMENT or value is None:
            # directory= is replaced by the backend's; a bare option takes no path, except
            # a bare write_*_log, which uses the job name (checked above).
            return
        reason = self._value_refusal(kind, key, value)
        if reason is not None:
            raise self.refuse(option, option.render(), reason)

    def _engine_option_kind(self, option: Option, key: str) -> Kind:
        owners = [engine for engine, names in ENGINE_OPTIONS.items() if key in names]
        if not owners:
            known = [
                *JOB_OPTIONS,
                *ALIASES,
                *(n for names in ENGINE_OPTIONS.values() for n in names),
            ]
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.refuse(
                option,
                option.key,
                f"not an option of fio's option table ({FIO_TABLE_VERSION}); only known"
                f" options are allowed{hint}",
            )
        usable = [engine for engine in owners if engine in self.engines]
        if not usable:
            raise self.refuse(
                option,
                option.key,
                f"an option of ioengine {' / '.join(owners)}, which no job here uses",
            )
        return Kind.VALUE

    def _value_refusal(self, kind: Kind, key: str, value: str) -> str | None:
        if kind is Kind.VALUE:
            return None
        if kind is Kind.JOB_NAME:
            return None if JOB_NAME.match(value) else "job names become file names"
        if kind is Kind.ENGINE:
            return self._engine_refusal(value.strip())
        if kind is Kind.FILES:
            return self._files_refusal(value)
        if kind is Kind.FILE_FORMAT:
            return _relative_path_refusal(_FORMAT_TOKENS.sub("x", value.strip()))
        if kind in (Kind.SERVER_PATH, Kind.CLIENT_LOG):
            return _relative_path_refusal(value.strip())
        if kind is Kind.MEMORY:
            return _memory_refusal(value)
        if kind is Kind.PATTERN:
            return "a quoted pattern reads a file on the worker" if "'" in value else None
        raise AssertionError(f"unhandled option kind {kind} of {key}")

    def _files_refusal(self, value: str) -> str | None:
        for part in _UNESCAPED_COLON.split(value):
            path = part.replace("\\:", ":").strip()
            if path in self.allowance.devices:
                continue
            reason = _relative_path_refusal(path)
            if reason is not None:
                return reason
        return None

    def _engine_refusal(self, engine: str) -> str | None:
        if engine in FILE_ENGINES or engine in self.allowance.engines:
            return None
        if engine == "exec":
            return "runs a command on the worker"
        if engine.startswith("external") or "/" in engine:
            return "loads an external engine library on the worker"
        if engine in DEVICE_ENGINES:
            return "talks to devices directly"
        if engine in OPT_IN_ENGINES:
            return (
                "does its I/O over the network, on storage the profile names; if you trust"
                f" this profile, allow it with fio_allow_engines = {engine} (ini),"
                f" FIO_ALLOW_ENGINES={engine} or --fio-allow-engines {engine}"
            )
        if engine in NETWORK_ENGINES:
            return "does its I/O over the network, outside the worker's directory"
        return f"only file I/O engines are allowed: {', '.join(sorted(FILE_ENGINES))}"


def _memory_refusal(value: str) -> str | None:
    kind, _sep, path = value.partition(":")
    if kind.strip() not in _MEMORY_TYPES:
        return None  # fio refuses an unknown type itself (fio --parse-only)
    if not path.strip():
        return None
    return _relative_path_refusal(path.strip())


def check_safety(profile: Profile, allowance: Allowance = NO_ALLOWANCE) -> None:
    """Refuse what may not run on a worker (ProfileError naming the option and its line):
    unknown options, commands, code loading, devices other than the allowed ones, network
    engines not allowed explicitly, job names that could be paths, paths that can leave the
    worker's directory, and variable references fio would expand again on the worker.
    ``directory=`` is not refused: the backend replaces it."""
    _Checker(profile, allowance).check()


def allowed_engines(names: Iterable[str], where: str) -> tuple[str, ...]:
    """Parse the user's explicit engine allowance (fio_allow_engines): only network
    storage engines can be allowed; commands, external libraries and devices never."""
    engines: list[str] = []
    for name in names:
        engine = name.strip()
        if not engine:
            continue
        if engine not in OPT_IN_ENGINES:
            choices = ", ".join(sorted(OPT_IN_ENGINES))
            raise ConfigError(
                f"{where}: ioengine {engine!r} cannot be allowed (engines that can: {choices})"
            )
        engines.append(engine)
    return tuple(dict.fromkeys(engines))
