"""Validation of a profile before it runs: the safety policy, then fio's own parser.

fio's parser is a fio process like any other: ``fio --parse-only`` runs in the sandbox
(backends/sandbox.py) with the minimal environment, resource limits and a timeout that
kills its whole process group (fio/process.py), so a hostile profile's parse can neither
read outside its temporary directory nor leave anything running.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..backends.sandbox import UNCONFINED, Sandbox
from ..exceptions import ProfileError
from ..fio.process import PARSE_LIMITS, ContainedTimeout, run_contained
from .model import Option, Profile, load_profile, shown
from .policy import NO_ALLOWANCE, Allowance, check_safety

__all__ = ["PARSE_TIMEOUT_S", "check_files", "check_with_fio", "validate"]

#: fio parses a job file in milliseconds (it takes ~0.2 s to start, loading its engines).
PARSE_TIMEOUT_S = 30.0
#: How much of fio's message a refusal quotes (it may quote the profile).
_MESSAGE_CHARS = 160


def _first_line(*outputs: str) -> str:
    for output in outputs:
        for line in output.splitlines():
            if line.strip():
                return line.strip()
    return ""


def _blamed_option(profile: Profile, message: str) -> Option | None:
    """The option fio's message quotes ("Bad option <x=1>", "failed parsing rw=x")."""
    for option in profile.options():
        pattern = rf"(?<![\w=]){re.escape(option.render())}(?![\w=])"
        if re.search(pattern, message):
            return option
    return None


def _scrubbed(message: str, profile: Profile) -> str:
    """fio's message with every allowed variable's value put back as ``${VAR}``."""
    for name, value in sorted(profile.variables, key=lambda item: -len(item[1])):
        if value:
            message = message.replace(value, f"${{{name}}}")
    return message


def check_with_fio(
    profile: Profile,
    *,
    fio_binary: str = "fio",
    sandbox: Sandbox = UNCONFINED,
    timeout_s: float = PARSE_TIMEOUT_S,
) -> None:
    """Have fio parse the rendered profile (``fio --parse-only``, confined by ``sandbox``);
    refuse what it refuses."""
    with tempfile.TemporaryDirectory(prefix="fioloadgen-check-") as workdir:
        job_file = Path(workdir) / "profile.fio"
        job_file.write_text(profile.render(), encoding="utf-8")
        argv = [fio_binary, "--parse-only", str(job_file)]
        try:
            command = sandbox.command(argv, writable=[Path(workdir)], cwd=Path(workdir))
            completed = run_contained(
                command, cwd=Path(workdir), timeout_s=timeout_s, limits=PARSE_LIMITS
            )
        except FileNotFoundError as err:
            raise ProfileError(
                f"profile '{profile.label}': cannot check it, fio binary {fio_binary!r} not found"
            ) from err
        except ContainedTimeout as err:
            raise ProfileError(
                f"profile '{profile.label}': fio --parse-only did not finish in {timeout_s:g} s;"
                " it and everything it started were killed"
            ) from err
        except OSError as err:
            raise ProfileError(
                f"profile '{profile.label}': cannot run {fio_binary!r}: {err}"
            ) from err
    if completed.returncode == 0:
        return
    reason = _first_line(completed.stderr, completed.stdout)
    if completed.returncode < 0:
        # SIGXCPU, SIGKILL or SIGSEGV: a resource limit ended it.
        signal = f"killed by signal {-completed.returncode} (a resource limit)"
        reason = f"{signal}: {reason}" if reason else signal
    reason = reason or f"exit status {completed.returncode}"
    blamed = _blamed_option(profile, reason)
    where = "" if blamed is None else f" {blamed.where}"
    said = shown(_scrubbed(reason, profile), _MESSAGE_CHARS)
    raise ProfileError(f"profile '{profile.label}'{where}: fio --parse-only refused it: {said}")


def validate(
    profile: Profile,
    *,
    fio_binary: str = "fio",
    allowance: Allowance = NO_ALLOWANCE,
    sandbox: Sandbox = UNCONFINED,
) -> Profile:
    """Safety policy, then fio's own parser; the profile ready to run, without directory=."""
    check_safety(profile, allowance)
    check_with_fio(profile, fio_binary=fio_binary, sandbox=sandbox)
    return profile.without_directory()


def check_files(
    paths: Sequence[Path],
    *,
    fio_binary: str = "fio",
    allowance: Allowance = NO_ALLOWANCE,
    sandbox: Sandbox = UNCONFINED,
    env: Mapping[str, str] | None = None,
) -> list[tuple[Path, str | None]]:
    """For ``fioloadgen profile check``: per file None when accepted, else the reason.
    ``env``: the variables the profiles may name (see parse_profile)."""
    verdicts: list[tuple[Path, str | None]] = []
    for path in paths:
        try:
            validate(
                load_profile(path, env=env),
                fio_binary=fio_binary,
                allowance=allowance,
                sandbox=sandbox,
            )
        except ProfileError as err:
            verdicts.append((path, str(err)))
        else:
            verdicts.append((path, None))
    return verdicts
