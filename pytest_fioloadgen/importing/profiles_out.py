"""FIOLoadGen's profiles written to a profile directory (``--profiles-into DIR``), each
after the safety policy checks it: a profile that may not run here is refused with the
policy's reason, never written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import FioLoadgenError
from ..profiles.model import parse_profile
from ..profiles.policy import check_safety

#: A profile's file name: FIOLoadGen's names are file names of its job directory.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class ProfilesWritten:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"profiles: wrote {len(self.written)}, {len(self.unchanged)} already there,"
            f" refused {len(self.refused)}"
        )


def write_profiles(
    profiles: Iterable[tuple[str, str, str | None]], directory: Path
) -> ProfilesWritten:
    """Write each (where, name, job file text) that the safety policy allows."""
    outcome = ProfilesWritten()
    directory.mkdir(parents=True, exist_ok=True)
    for where, name, text in profiles:
        if not _FILE_NAME.match(name):
            outcome.refused.append(f"{where}: the name is no file name")
            continue
        if text is None or not text.strip():
            outcome.refused.append(f"{where}: the profile is empty")
            continue
        try:
            check_safety(parse_profile(text, name=name))
        except FioLoadgenError as err:
            outcome.refused.append(f"{where}: {err}")
            continue
        path = directory / name
        if path.exists():
            if path.read_text(encoding="utf-8", errors="replace") == text:
                outcome.unchanged.append(f"{where}: {path}")
            else:
                outcome.refused.append(f"{where}: {path} exists with other content (kept)")
            continue
        path.write_text(text, encoding="utf-8")
        outcome.written.append(f"{where}: {path}")
    return outcome
