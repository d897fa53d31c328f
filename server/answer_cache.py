"""Answers kept as encoded JSON until what they were read from changes, with an ETag.

Under load (benchmarks/server_bench.py: 200 clients on the job list, status, profiles)
the job list's first page cost 3-12 ms a request to read and encode the same 21 runs
again and again, with the store's lock held; a finished run's document (the run page)
is derived from its fio output at every request although a recorded run never changes.
Here an answer is encoded once per *generation*: a value that changes whenever the job
queue or the history store was written (by this server or, for the store, by any other
process: sqlite's data_version), so a kept answer can never outlive the data it was
read from. Its ETag lets a client that has it ask again for nothing (304).
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Hashable
from typing import Any

import bottle

from pytest_fioloadgen.store.base import Store

from .http import dumps, header
from .jobsdb import JobDB

#: Answers kept per cache (the least recently used is dropped beyond).
MAX_ANSWERS = 512
#: Cache-Control of a kept answer: the client may keep it but must ask (it gets a 304
#: when nothing changed). Every other answer stays ``no-store`` (server.app).
REVALIDATE = "no-cache"


def generation(jobs: JobDB, store: Store) -> Hashable | None:
    """The queue's and the store's generation; None when the store cannot say (then
    nothing is kept: a tinydb or http store is read at every request)."""
    of_store = getattr(store, "generation", None)
    if of_store is None:
        return None
    return jobs.version, of_store()


class AnswerCache:
    """Encoded answers by key (the request's path and query), valid for one generation."""

    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self.max_answers = max_answers
        self._answers: collections.OrderedDict[Hashable, tuple[Hashable, str, str]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        #: Answers served from the cache and answers encoded (for tests and benchmarks).
        self.hits = 0
        self.misses = 0

    def answer(
        self, key: Hashable, current: Hashable | None, make: Callable[[], Any]
    ) -> bottle.HTTPResponse:
        """The answer to ``key`` at generation ``current`` (``make()`` encoded when it is
        not kept), or 304 when the request's If-None-Match names it."""
        kept = None
        if current is not None:
            with self._lock:
                kept = self._answers.get(key)
                if kept is not None and kept[0] == current:
                    self._answers.move_to_end(key)
                    self.hits += 1
                else:
                    kept = None
        if kept is None:
            # Read before the data: a write in between makes the next request encode again.
            body = dumps(make())
            tag = '"' + hashlib.blake2b(body.encode(), digest_size=16).hexdigest() + '"'
            kept = (current, body, tag)
            with self._lock:
                self.misses += 1
                if current is not None:
                    self._answers[key] = kept
                    self._answers.move_to_end(key)
                    while len(self._answers) > self.max_answers:
                        self._answers.popitem(last=False)
        _generation, body, tag = kept
        headers = {"ETag": tag, "Cache-Control": REVALIDATE}
        if tag in _listed(header("If-None-Match")):
            return bottle.HTTPResponse(status=304, headers=headers)
        return bottle.HTTPResponse(body, 200, {"Content-Type": "application/json", **headers})


def _listed(value: str | None) -> list[str]:
    """The entity tags of an If-None-Match header (weak ones compare by their tag)."""
    if not value:
        return []
    return [part.strip().removeprefix("W/") for part in value.split(",")]


def request_key() -> tuple[str, str]:
    """The request's path and query string, as sent."""
    return bottle.request.path, bottle.request.query_string
