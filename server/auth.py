"""The API token: created on first start (mode 0600), checked in constant time.

New clients send ``Authorization: Bearer TOKEN``. FIOLoadGen 1.5's fiocli can only send
credentials from its address (``FIO_API_ADDRESS=TOKEN:@host:port``), which requests turns
into HTTP Basic, so Basic with the token as user name or as password is accepted too.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from pathlib import Path

from pytest_fioloadgen.exceptions import ConfigError


def load_or_create_token(path: Path) -> str:
    """The token in ``path``; a new URL-safe one (0600) when the file does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _read(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"token file {path} is readable by others (mode {mode:o}); run chmod 600 {path}"
        )
    token = path.read_text().strip()
    if len(token) < 16:
        raise ConfigError(f"token file {path} holds no usable token (16 characters at least)")
    return token


def presented_tokens(authorization: str | None) -> list[str]:
    """The candidate tokens an Authorization header carries (Bearer, or Basic user/password)."""
    if not authorization:
        return []
    scheme, _sep, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return [value] if value else []
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            # binascii.Error for bad base64; a plain ValueError for non-ASCII text.
            return []
        user, _sep, password = decoded.partition(":")
        return [candidate for candidate in (user, password) if candidate]
    return []


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether any presented token is the expected one, compared in constant time."""
    wanted = expected.encode()
    matched = False
    for candidate in presented_tokens(authorization):
        # No early exit: every candidate is compared.
        matched |= hmac.compare_digest(wanted, candidate.encode())
    return matched
