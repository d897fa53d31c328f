"""History keys: which runs measure the same thing and may be compared.

Two runs are comparable when they ran the same profile content on the same number of
workers, with the same backend and target (storage class), and their environment
fingerprints agree on what changes performance: fio version, host or cluster identity and
what is known of the storage (filesystem, device, storage-class provisioner and
parameters). The key is a short digest of exactly those fields; ``key_fields`` shows them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

#: Top-level fingerprint facts that make runs incomparable when they differ.
IDENTITY_FACTS = ("fio_version", "host", "cluster")
#: Per-target facts that change with the deploy size, not with the storage.
VOLATILE_TARGET_FACTS = ("workers",)


def key_fields(
    *,
    profile_hash: str,
    workers: int,
    backend: str,
    target: str,
    fingerprint: Mapping[str, Any],
) -> dict[str, Any]:
    """The fields a history key is made of, for display and for the digest."""
    storage = dict(fingerprint.get("targets", {}).get(target, {}) or {})
    for fact in VOLATILE_TARGET_FACTS:
        storage.pop(fact, None)
    return {
        "profile_hash": profile_hash,
        "workers": workers,
        "backend": backend,
        "target": target,
        **{fact: fingerprint[fact] for fact in IDENTITY_FACTS if fact in fingerprint},
        "storage": storage,
    }


def history_key(
    *,
    profile_hash: str,
    workers: int,
    backend: str,
    target: str,
    fingerprint: Mapping[str, Any],
) -> str:
    """A stable 16-hex-digit digest of key_fields (same inputs, same key, any process)."""
    fields = key_fields(
        profile_hash=profile_hash,
        workers=workers,
        backend=backend,
        target=target,
        fingerprint=fingerprint,
    )
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def describe_key(key: str, profile_name: str, workers: int, backend: str, target: str) -> str:
    """One line naming a key in verdicts: 'randread-4k w4 local/local [1a2b3c4d5e6f7a8b]'."""
    return f"{profile_name} w{workers} {backend}/{target} [{key}]"
