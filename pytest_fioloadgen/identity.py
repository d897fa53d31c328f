"""Identity: what makes two runs the same measurement, and how a case is named.

Two runs are comparable when the same test ran the same profile content (overrides and
sweep points included: they change the content) on the same number of workers, with the
same backend and target (storage class), and their environment fingerprints agree on what
changes performance: fio version, host or cluster identity and what is known of the
storage (filesystem, device, storage-class provisioner and parameters). The history key
is a short digest of exactly those fields; ``key_fields`` shows them.

The test is part of it because the same fio job measures different conditions in
``test_randread_healthy`` and ``test_randread_during_rebuild``: it is the pytest node id
without its parameter part. Results-server and CLI jobs have one fixed test part,
``job``, so jobs of the same profile, workers and target share their history.

Case ids read like ``lat-qd1-4k-bs16k-w2-local``: the profile, one tag per override or
sweep point (OVERRIDE_TAGS), the worker count and the target.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

#: The test part of server and CLI jobs.
JOB_TEST = "job"
_PARAMETERS = re.compile(r"\[.*\]$", re.DOTALL)

#: How each overridable option appears in a case id: prefix + value.
OVERRIDE_TAGS: dict[str, str] = {
    "iodepth": "qd",
    "bs": "bs",
    "numjobs": "nj",
    "rwmixread": "rw",
    "rw": "",
    "ioengine": "",
    "size": "sz",
    "runtime": "rt",
    "direct": "",
    "rate_iops": "ri",
}


def case_test_part(test_id: str) -> str:
    """The test part of a run's identity from its stored test id: the node id without its
    parameters; ``job`` for jobs (stored as ``job`` or, before, ``job:<id>``)."""
    if test_id == JOB_TEST or test_id.startswith(JOB_TEST + ":"):
        return JOB_TEST
    return _PARAMETERS.sub("", test_id)


def override_tag(option: str, value: object) -> str:
    """One tag of a case id: iodepth=16 -> qd16, bs=16k -> bs16k, direct=0 -> buffered."""
    text = str(value).strip()
    if option == "direct":
        return "direct" if text not in ("0", "false") else "buffered"
    tag = OVERRIDE_TAGS.get(option, f"{option}_") + text
    # pytest ids and file names: keep it to one readable token.
    return re.sub(r"[^A-Za-z0-9_.+%-]", "_", tag)


def override_tags(overrides: Mapping[str, object]) -> list[str]:
    """Tags in OVERRIDE_TAGS order (then any other option by name), so the same overrides
    always give the same id."""
    order = list(OVERRIDE_TAGS)
    keys = sorted(
        overrides, key=lambda key: (order.index(key) if key in order else len(order), key)
    )
    return [override_tag(key, overrides[key]) for key in keys if overrides[key] is not None]


#: Top-level fingerprint facts that make runs incomparable when they differ.
IDENTITY_FACTS = ("fio_version", "host", "cluster", "faults", "imported_from")
#: Per-target facts that change with the deploy size, not with the storage.
VOLATILE_TARGET_FACTS = ("workers",)


def record_key(run: Any) -> str:
    """The history key of a stored run, recomputed from its fields (store migrations)."""
    return history_key(
        test=case_test_part(run.test_id),
        profile_hash=run.profile_hash,
        workers=run.workers,
        backend=run.backend,
        target=run.target,
        fingerprint=run.fingerprint,
    )


def key_fields(
    *,
    test: str,
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
        "test": test,
        "profile_hash": profile_hash,
        "workers": workers,
        "backend": backend,
        "target": target,
        **{fact: fingerprint[fact] for fact in IDENTITY_FACTS if fact in fingerprint},
        "storage": storage,
    }


def history_key(
    *,
    test: str,
    profile_hash: str,
    workers: int,
    backend: str,
    target: str,
    fingerprint: Mapping[str, Any],
) -> str:
    """A stable 16-hex-digit digest of key_fields (same inputs, same key, any process)."""
    fields = key_fields(
        test=test,
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
