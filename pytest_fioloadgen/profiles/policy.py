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
* the value judged is the value fio will use (fio_values.py): fio's keywords
  (``$ncpus``...) are replaced as fio replaces them, and a line fio would hand to ``sh`` and
  ``bc`` (a keyword with ``+ - * /``) is refused: bc's output can be any path. Backslashes,
  quotes and control characters (NUL included) are refused in every option and section
  name: dash's ``echo`` and fio's C strings give them meanings nothing here models;
* logging fio would do per I/O (``log_avg_msec`` under 10 ms, a ``write_*_log`` without
  ``log_avg_msec``, ``log_hist_msec`` from 1 to 9 ms) is refused: a second of a fast
  device's per-I/O log is hundreds of MB for the harness to read;
* only I/O engines that do file I/O, plus what the backend or the user grants explicitly
  (Allowance): the one block device of a raw-block worker, network engines such as rbd.

Checked on the profile as it will run: after every override, and again with what the
backend grants.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
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
from .fio_values import sends_to_bc, size_bytes, substituted
from .model import Option, Profile, Section, excerpt, shown

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
#: The shortest averaging window a log may use (ms): below it fio logs (nearly) every I/O.
MIN_LOG_MSEC = 10
#: Logs whose samples log_avg_msec averages (without it, one line per I/O).
_AVERAGED_LOGS = ("write_bw_log", "write_lat_log", "write_iops_log")


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
            f"{where}: job name {excerpt(name)} is not allowed (fio turns job names into file"
            " and log names: use 1-64 letters, digits, '_', '.', '+', '%' or '-', starting"
            " with a letter, digit or '_')"
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
        self.check_logs()

    def check_option(self, section: Section, option: Option) -> None:
        key = canonical(option.key)
        kind = JOB_OPTIONS.get(key)
        line = option.render()
        if kind is not Kind.PLACEMENT:
            # directory= is the backend's (an escaped ':' in it is a backslash of ours).
            reason = _character_refusal(line)
            if reason is not None:
                raise self.refuse(option, option.shown, reason)
        if "${" in line:
            raise self.refuse(
                option,
                option.shown,
                "'${' is left after variable substitution: fio on the worker would expand it"
                " again with the worker's environment",
            )
        if sends_to_bc(line):
            raise self.refuse(
                option,
                option.shown,
                "fio would compute it with sh and bc on the worker ($ncpus, $pagesize or"
                " $mb_memory with + - * /), and bc can print any value: write the number",
            )
        if kind is None:
            kind = self._engine_option_kind(option, key)
        if kind is Kind.REFUSED:
            raise self.refuse(option, shown(option.key), REFUSED[key])
        if kind is Kind.PLACEMENT or option.value is None:
            # directory= is replaced by the backend's; a bare option takes no path, except
            # a bare write_*_log, which uses the job name (checked above).
            return
        # The value fio uses: its keywords replaced by numbers (nothing else changes it).
        value = substituted(option.value)
        reason = self._value_refusal(kind, key, value) or _log_refusal(key, value)
        if reason is not None:
            raise self.refuse(option, option.shown, reason)

    def check_logs(self) -> None:
        """A job writing averaged logs without an averaging window logs every I/O."""
        for section, options in self.profile.effective_job_options():
            asked = [key for key in _AVERAGED_LOGS if key in options]
            if asked and options.get("log_avg_msec") is None:
                raise ProfileError(
                    f"profile '{self.profile.label}' line {section.line} job"
                    f" {excerpt(section.name)}: {asked[0]} without log_avg_msec logs every I/O"
                    f" (hundreds of MB a second on a fast device): set log_avg_msec to"
                    f" {MIN_LOG_MSEC} or more"
                )

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
                shown(option.key),
                f"not an option of fio's option table ({FIO_TABLE_VERSION}); only known"
                f" options are allowed{hint}",
            )
        usable = [engine for engine in owners if engine in self.engines]
        if not usable:
            raise self.refuse(
                option,
                shown(option.key),
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
            # Quotes, the file-reading form, are refused for every option above.
            return None
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


def _character_refusal(line: str) -> str | None:
    """Why a job file line holds a character the policy refuses (None: it holds none)."""
    for char in line:
        if char == "\\":
            return (
                "holds a backslash: fio's shell arithmetic (echo) turns \\n and \\0NNN into"
                " other characters, so the value fio uses is not the one written"
            )
        if char in "'\"":
            return (
                "holds a quote: a quoted pattern makes fio read a file, and quotes change"
                " what fio's shell arithmetic runs; write patterns in hex (0x...)"
            )
        if unicodedata.category(char) == "Cc":
            return (
                f"holds the control character U+{ord(char):04X}: fio reads job files as C"
                " strings (a NUL ends the file for the worker), so what runs would differ"
                " from what was checked"
            )
    return None


def _log_refusal(key: str, value: str) -> str | None:
    """A log averaging window short enough to log (nearly) every I/O."""
    if key not in ("log_avg_msec", "log_hist_msec"):
        return None
    window = size_bytes(value)
    if window is None:
        return None  # fio refuses it itself (fio --parse-only)
    if key == "log_hist_msec" and window == 0:
        return None  # 0: no histogram log
    if window < MIN_LOG_MSEC:
        return (
            f"{window} ms logs (nearly) every I/O: hundreds of MB a second for the harness"
            f" to read (the harness always asks fio for logs); use {MIN_LOG_MSEC} or more"
        )
    return None


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
