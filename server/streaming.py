"""Bulk reads as streams: runs go out a few at a time, never all in memory at once.

The ids of the runs are taken first (a snapshot: a run recorded meanwhile is not in the
answer, one deleted meanwhile is left out), then the runs are loaded BATCH at a time,
encoded and sent. An export of 12,000 runs with their fio documents held 2.5 GB as one
document; streamed it holds one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from pytest_fioloadgen.store.base import Store

log = logging.getLogger("fioloadgen_server")

#: Runs loaded and encoded at once.
BATCH = 20


class RunStream:
    """A WSGI body: ``head``, the runs as a JSON array's items, ``tail``.

    ``release`` is called once, when the stream ends, fails or is closed unread (the
    server closes every body, also for HEAD requests that never read it).
    """

    def __init__(
        self,
        store: Store,
        run_ids: Sequence[str],
        *,
        with_raw: bool,
        head: str,
        tail: str,
        release: Callable[[], None],
    ) -> None:
        self.store = store
        self.run_ids = run_ids
        self.with_raw = with_raw
        self.head = head
        self.tail = tail
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield self.head.encode()
            separator = ""
            for start in range(0, len(self.run_ids), BATCH):
                batch = self.store.runs_json(
                    self.run_ids[start : start + BATCH], with_raw=self.with_raw
                )
                if batch:
                    yield (separator + ",".join(text for _run_id, text in batch)).encode()
                    separator = ","
            yield self.tail.encode()
        except Exception:
            # The status line is gone: the answer can only be cut short, which every
            # client sees (an unfinished chunked body), never taken for a whole one.
            log.exception("a bulk read of %d runs failed while streaming", len(self.run_ids))
            raise
        finally:
            self.close()

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
