"""Run ids of imported runs: derived from the source's content, so the same source
imported twice (or from two copies of a FIOLoadGen database) gives the same ids and the
store's skip-by-id adds nothing the second time."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

#: The namespace of imported run ids (a constant: changing it would import everything again).
IMPORT_NAMESPACE = uuid.UUID("5b0e4c1e-6f3a-5d0b-9a57-2f1c8e4d7a90")


def content_digest(kind: str, parts: Iterable[str | bytes]) -> str:
    """sha256 (hex) of a source's content: its kind, then each part, length-prefixed so
    that no two different sequences of parts hash alike."""
    digest = hashlib.sha256(kind.encode("utf-8") + b"\0")
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(f"{len(data)}:".encode("ascii"))
        digest.update(data)
    return digest.hexdigest()


def run_id_of(digest: str) -> str:
    """The run id of the source whose content digest is ``digest`` (a UUID5)."""
    return str(uuid.uuid5(IMPORT_NAMESPACE, digest))
