"""The one way this backend waits on Kubernetes objects: list, then watch, re-list on 410.

Every wait (workers Ready, a run's client pod finished, a worker lost mid-run, the
namespace gone, the results server Ready) follows a set of objects with ``follow``: one
list gives the current objects and a resourceVersion, then watch requests of a few seconds
each continue from it, so the wait costs O(1) requests however many pods change. When the
API answers 410 Gone (the watch fell behind the history it keeps), the set is listed
afresh: a caller never misses a change and never works on a stale set. Between watch
requests a ``TICK`` lets the caller look at what the objects cannot show (events, its own
deadline, progress).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .api import KubeApi, KubeApiError

#: How long one watch request lasts before the caller gets a TICK.
WATCH_CHUNK_S = 2.0
#: The object set was (re)listed; ``obj`` is None.
SYNC = "SYNC"
#: A watch request ended; ``obj`` is None.
TICK = "TICK"


@dataclass(frozen=True)
class Change:
    """One step of a follow: what happened, to which object, and every object now known
    (by name; deleted objects are gone from it)."""

    kind: str
    obj: Any | None
    objects: dict[str, Any]


def name_of(obj: Any) -> str:
    return str(obj.metadata.name)


def follow(
    api: KubeApi,
    what: str,
    lister: Callable[..., Any],
    *,
    deadline: float,
    chunk_s: float = WATCH_CHUNK_S,
    **selectors: Any,
) -> Iterator[Change]:
    """Changes of the objects ``lister`` lists (with ``selectors``: namespace,
    label_selector, field_selector) until ``deadline`` (time.monotonic()); the caller
    stops early by leaving the loop. Starts with a SYNC of the current objects."""
    objects: dict[str, Any] = {}
    version: str | None = None
    while True:
        if version is None:
            listing = api.call(f"list {what}", lister, **selectors)
            objects = {name_of(item): item for item in listing.items}
            version = str(listing.metadata.resource_version)
            yield Change(SYNC, None, objects)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            for kind, obj in api.watch(
                f"watch {what}",
                lister,
                timeout_s=min(chunk_s, remaining),
                resource_version=version,
                **selectors,
            ):
                version = str(obj.metadata.resource_version)
                if kind == "BOOKMARK":
                    continue
                if kind == "DELETED":
                    objects.pop(name_of(obj), None)
                else:
                    objects[name_of(obj)] = obj
                yield Change(kind, obj, objects)
        except KubeApiError as err:
            if err.status != 410:
                raise
            # Fell behind the API's watch history: start again from a fresh list.
            version = None
            continue
        yield Change(TICK, None, objects)
