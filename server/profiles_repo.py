"""The profiles the server offers: the configured profile directory (read-only) plus the
profiles added over the API (kept in the server's database).

Added profiles pass the same checks as the plugin's: the safety policy and fio's own
parser. Names travel in URLs and legacy clients insert them into paths unescaped, so they
are a short, path-free alphabet.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from pytest_fioloadgen.backends.sandbox import UNCONFINED, Sandbox
from pytest_fioloadgen.exceptions import ProfileError
from pytest_fioloadgen.profiles import (
    Profile,
    check_safety,
    discover_profiles,
    parse_profile,
    read_profile_text,
    validate,
)

from .jobsdb import JobDB, JobError

PROFILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,24}$")
#: Job files are text of a few KB; anything larger is a mistake or an attack.
MAX_PROFILE_BYTES = 64 * 1024


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.match(name) or name in (".", ".."):
        raise JobError(f"profile name {name!r} must be 1-24 letters, digits, '.', '_' or '-'", 400)
    return name


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    text: str
    source: str  # "shipped" (the profile directory) or "custom" (added over the API)
    description: str

    def to_json(self, *, with_text: bool = False) -> dict[str, object]:
        document: dict[str, object] = {
            "name": self.name,
            "source": self.source,
            "description": self.description,
            "read_only": self.source == "shipped",
        }
        if with_text:
            document["text"] = self.text
        return document


class ProfileRepository:
    def __init__(
        self, directory: Path, db: JobDB, *, fio_binary: str = "fio", sandbox: Sandbox = UNCONFINED
    ) -> None:
        self.directory = directory
        self.db = db
        self.fio_binary = fio_binary
        self.sandbox = sandbox
        # The directory's texts as of its signature (_signature): each read resolved
        # every file's path (two realpath walks a profile), 1-6 ms a /profiles request.
        self._read: tuple[Hashable, dict[str, str]] | None = None
        self._read_lock = threading.Lock()

    def _signature(self) -> Hashable | None:
        """What the directory's job files are now (name, inode, size, modification
        time of each, the directory's own), or None when it cannot be kept: a symbolic
        link (its target can change without the link changing) or an unreadable entry."""
        try:
            own = os.stat(self.directory)
            entries = []
            with os.scandir(self.directory) as found:
                for entry in found:
                    if not entry.name.endswith(".fio"):
                        continue
                    if entry.is_symlink():
                        return None
                    info = entry.stat(follow_symlinks=False)
                    entries.append((entry.name, info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            return None
        return own.st_ino, own.st_mtime_ns, tuple(sorted(entries))

    def _shipped(self) -> dict[str, str]:
        signature = self._signature()
        with self._read_lock:
            if signature is not None and self._read is not None and self._read[0] == signature:
                return self._read[1]
        texts = self._read_shipped()
        if signature is not None:
            with self._read_lock:
                self._read = (signature, texts)
        return texts

    def _read_shipped(self) -> dict[str, str]:
        try:
            found = discover_profiles(self.directory)
        except ProfileError:
            return {}
        texts = {}
        for name, path in found.items():
            # A regular file inside the directory only: a link out of it (to
            # /proc/self/environ) is not served.
            with contextlib.suppress(ProfileError):
                texts[name] = read_profile_text(path, self.directory)
        return texts

    def all(self) -> dict[str, ProfileEntry]:
        entries: dict[str, ProfileEntry] = {}
        for source, texts in (("shipped", self._shipped()), ("custom", self.db.profiles())):
            for name, text in texts.items():
                entries[name] = ProfileEntry(name, text, source, _describe(name, text))
        return dict(sorted(entries.items()))

    def get(self, name: str) -> ProfileEntry:
        entry = self.all().get(name)
        if entry is None:
            raise JobError(f"no profile {name!r}", 404)
        return entry

    def parsed(self, name: str) -> Profile:
        entry = self.get(name)
        return self.check(entry.name, entry.text)

    def check(self, name: str, text: str) -> Profile:
        """Parse and validate (safety policy, fio --parse-only); JobError 400 says why.

        Accepted texts are remembered: a job submitted again with the same profile costs
        no second fio process.
        """
        _check_size(name, text)
        return _validated(name, text, self.fio_binary, self.sandbox)

    def check_policy(self, name: str, text: str) -> Profile:
        """Parse and apply the safety policy only (no fio process); JobError 400 says why."""
        _check_size(name, text)
        try:
            profile = parse_profile(text, name=name, env={})
            check_safety(profile)
        except ProfileError as err:
            raise JobError(str(err), 400) from err
        return profile

    def put(self, name: str, text: str) -> bool:
        check_profile_name(name)
        if name in self._shipped():
            raise JobError(
                f"profile {name!r} is a shipped profile and cannot be replaced; "
                "choose another name",
                409,
            )
        self.check(name, text)
        return self.db.put_profile(name, text)

    def delete(self, name: str) -> None:
        check_profile_name(name)
        if name in self._shipped():
            raise JobError(f"profile {name!r} is a shipped profile and cannot be deleted", 409)
        if not self.db.delete_profile(name):
            raise JobError(f"no profile {name!r}", 404)


def _check_size(name: str, text: str) -> None:
    if len(text.encode("utf-8")) > MAX_PROFILE_BYTES:
        raise JobError(f"profile {name!r} is larger than {MAX_PROFILE_BYTES} bytes", 413)


@functools.lru_cache(maxsize=256)
def _validated(name: str, text: str, fio_binary: str, sandbox: Sandbox) -> Profile:
    # Only accepted profiles are cached (an exception is never cached): Profile is frozen.
    try:
        return validate(
            parse_profile(text, name=name, env={}), fio_binary=fio_binary, sandbox=sandbox
        )
    except ProfileError as err:
        raise JobError(str(err), 400) from err


@functools.lru_cache(maxsize=1024)
def _describe(name: str, text: str) -> str:
    # Cached by content: listing profiles must not parse every job file on every request.
    try:
        return parse_profile(text, name=name, env={}).description.split("\n")[0]
    except ProfileError:
        return ""
