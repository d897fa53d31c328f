"""Validation of a profile before it runs: the safety policy, then fio's own parser."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..exceptions import ProfileError
from .model import Option, Profile, load_profile
from .policy import NO_ALLOWANCE, Allowance, check_safety

__all__ = ["check_files", "check_with_fio", "validate"]


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


def check_with_fio(profile: Profile, *, fio_binary: str = "fio", timeout_s: float = 30) -> None:
    """Have fio parse the rendered profile (``fio --parse-only``); refuse what it refuses."""
    with tempfile.TemporaryDirectory(prefix="fioloadgen-check-") as workdir:
        job_file = Path(workdir) / "profile.fio"
        job_file.write_text(profile.render(), encoding="utf-8")
        try:
            completed = subprocess.run(
                [fio_binary, "--parse-only", str(job_file)],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except FileNotFoundError as err:
            raise ProfileError(
                f"profile '{profile.label}': cannot check it, fio binary {fio_binary!r} not found"
            ) from err
        except subprocess.TimeoutExpired as err:
            raise ProfileError(
                f"profile '{profile.label}': fio --parse-only did not finish in {timeout_s:g}s"
            ) from err
        except OSError as err:
            raise ProfileError(
                f"profile '{profile.label}': cannot run {fio_binary!r}: {err}"
            ) from err
    if completed.returncode == 0:
        return
    reason = _first_line(completed.stderr, completed.stdout)
    reason = reason or f"exit status {completed.returncode}"
    blamed = _blamed_option(profile, reason)
    where = "" if blamed is None else f" {blamed.where}"
    raise ProfileError(f"profile '{profile.label}'{where}: fio --parse-only refused it: {reason}")


def validate(
    profile: Profile, *, fio_binary: str = "fio", allowance: Allowance = NO_ALLOWANCE
) -> Profile:
    """Safety policy, then fio's own parser; the profile ready to run, without directory=."""
    check_safety(profile, allowance)
    check_with_fio(profile, fio_binary=fio_binary)
    return profile.without_directory()


def check_files(
    paths: Sequence[Path], *, fio_binary: str = "fio", allowance: Allowance = NO_ALLOWANCE
) -> list[tuple[Path, str | None]]:
    """For ``fioloadgen profile check``: per file None when accepted, else the reason."""
    verdicts: list[tuple[Path, str | None]] = []
    for path in paths:
        try:
            validate(load_profile(path), fio_binary=fio_binary, allowance=allowance)
        except ProfileError as err:
            verdicts.append((path, str(err)))
        else:
            verdicts.append((path, None))
    return verdicts
