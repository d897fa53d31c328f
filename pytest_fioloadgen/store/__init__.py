"""History stores, chosen by the scheme of a ``--fio-store`` URI."""

from __future__ import annotations

import re
from pathlib import Path

from ..exceptions import StoreError
from .base import RunRecord, Store
from .sqlite import SQLiteStore
from .tinydb_store import TinyDBStore

__all__ = ["RunRecord", "Store", "default_store_uri", "open_store"]

SUPPORTED_URIS = (
    "a path (history.db, or history.json for TinyDB), sqlite:///absolute/path.db, "
    "sqlite:relative/path.db, tinydb:///absolute/path.json, tinydb:relative/path.json, "
    "http(s)://server[:port] (a results server)"
)

_KNOWN_SCHEMES = frozenset({"sqlite", "tinydb", "http", "https"})
# Two letters at least, so that a Windows drive ("C:\\...") stays a path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def default_store_uri(rootdir: Path) -> str:
    """Where the history lives when no --fio-store is given."""
    return str(rootdir / ".fioloadgen" / "history.db")


def open_store(uri: str, *, rootdir: Path | None = None) -> Store:
    """Open the store ``uri`` names; relative paths are taken from ``rootdir`` (or cwd)."""
    base = Path.cwd() if rootdir is None else rootdir
    scheme, rest = _split_scheme(uri)
    if scheme is None:
        location = rest
        # A bare path to a .json file is a TinyDB history; anything else sqlite.
        if location.endswith(".json"):
            scheme = "tinydb"
    elif scheme in ("sqlite", "tinydb"):
        location = _sqlite_location(uri, rest, scheme)
    elif scheme in ("http", "https"):
        # Imported here: only a remote history needs requests at open time.
        from .http import HTTPStore

        return HTTPStore(uri)
    else:
        raise StoreError(
            f"history store URI {uri!r}: scheme {scheme!r} is not supported; use {SUPPORTED_URIS}"
        )
    if not location:
        raise StoreError(f"history store URI {uri!r} names no file; use {SUPPORTED_URIS}")
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base / path
    if scheme == "tinydb":
        return TinyDBStore(path)
    return SQLiteStore(path)


def _split_scheme(uri: str) -> tuple[str | None, str]:
    """(scheme, rest), or (None, uri) when ``uri`` is a plain path.

    Only a scheme we know of or one followed by ``//`` counts, so that a file name with a
    colon in it ("runs:old.db") is still a path.
    """
    match = _SCHEME.match(uri)
    if match is None:
        return None, uri
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    if scheme in _KNOWN_SCHEMES or rest.startswith("//"):
        return scheme, rest
    return None, uri


def _sqlite_location(uri: str, rest: str, scheme: str = "sqlite") -> str:
    """The file of a sqlite: or tinydb: URI (both take the same forms)."""
    if not rest.startswith("//"):
        return rest  # sqlite:relative/path.db
    path = rest[2:]
    if not path.startswith("/"):
        # "sqlite://x.db" would read as host "x.db"; say what was probably meant.
        raise StoreError(
            f"history store URI {uri!r}: write {scheme}:///absolute/path (three slashes) "
            f"or {scheme}:{path} for a path relative to the rootdir"
        )
    return path
