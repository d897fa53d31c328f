"""What the expensive reads may take of the server, so that they cannot starve the rest.

cheroot serves every request on one of ``--threads`` worker threads (10). Ten parallel
compares of two label sets held all of them for 7.65 s each and ``/status`` waited 50.9 s;
ten parallel exports of every run did the same and took the server to 2.5 GB (issue 19).
So:

* Computed reads (compares, history series and keys, sessions, legacy job lists) run on a
  small pool of their own (``WorkPool``: a fifth of the threads, at least one) with as
  many again allowed to wait for it. The request thread waits at most ``budget_s`` for the
  answer. A request beyond that capacity, or one whose answer is late, gets 503 with
  Retry-After at once; the late computation finishes on the pool (its inputs are bounded)
  and still counts against the capacity until it does.
* Bulk reads (the export, ``/runs`` listings) stream, and at most ``BulkStreams.total`` of
  them are under way at once (a fifth of the threads, at least one), of which at most one
  without the token; beyond, 503 with Retry-After.

Together they hold at most three fifths of the worker threads: the rest always answer
``/status`` and the other cheap requests.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .http import fail

T = TypeVar("T")
_Work = tuple["concurrent.futures.Future[Any]", Callable[[], Any]]

#: A bulk read of more runs than this with their fio documents (the export, ``/runs`` with
#: ``with_raw=true``) needs the token: about 2.6 MB of JSON for runs with time series.
ANONYMOUS_BULK_RUNS = 100
#: Seconds a client is asked to wait before it tries a refused read again.
RETRY_AFTER_S = 2
#: The longest a request thread waits for a computed read.
COMPUTE_BUDGET_S = 20.0
#: Profile-builder previews per client address: a form clicked by hand, not a load test.
BUILDER_RATE_PER_S = 5.0
BUILDER_BURST = 20


def heavy_share(threads: int) -> int:
    """How many worker threads one kind of expensive read may hold: a fifth, at least 1."""
    return max(1, threads // 5)


def _busy(message: str) -> None:
    fail(503, f"{message}; retry in {RETRY_AFTER_S} s", {"Retry-After": str(RETRY_AFTER_S)})


class WorkPool:
    """Computed reads on ``workers`` threads of their own, ``waiting`` more queued.

    Daemon threads, started with the first read: a computation only reads, so nothing is
    lost when the process ends during one, and a server that never computes has none.
    """

    def __init__(self, workers: int, waiting: int, budget_s: float = COMPUTE_BUDGET_S) -> None:
        self.workers = workers
        self.waiting = waiting
        self.budget_s = budget_s
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        # Taken when a read is accepted, given back when its computation has ended (not
        # when its request gave up waiting): the pool's real load, never more than this.
        self._capacity = threading.BoundedSemaphore(workers + waiting)

    def run(self, what: str, compute: Callable[[], T]) -> T:
        """``compute()`` on the pool: its answer, or 503 when the pool is full or late.

        ``compute`` runs on another thread: it must take everything it needs from the
        request before (bottle's request object is per thread).
        """
        if not self._capacity.acquire(blocking=False):
            _busy(
                f"the server is busy with {self.workers + self.waiting} computed reads "
                f"({what} waits for none of them)"
            )
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.add_done_callback(lambda _done: self._capacity.release())
        if not self._start():
            future.cancel()
            _busy("the server is stopping")
        self._queue.put((future, compute))
        try:
            return future.result(timeout=self.budget_s)
        except concurrent.futures.TimeoutError:
            future.cancel()  # still queued: never computed; computing: it finishes
            _busy(f"{what} took longer than {self.budget_s:g} s; ask for less")
        raise AssertionError("unreachable")  # _busy raises

    def _start(self) -> bool:
        with self._lock:
            if self._closed:
                return False
            while len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"fioloadgen-compute-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return True

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, compute = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(compute())
            except BaseException as err:  # the request thread raises it (or gave up)
                future.set_exception(err)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for _thread in self._threads:
                self._queue.put(None)


class BulkStreams:
    """How many bulk reads stream at once: ``total``, of which ``anonymous`` without the
    token (so that anonymous clients can never take every one from a token holder)."""

    def __init__(self, total: int, anonymous: int = 1) -> None:
        self.total = total
        self.anonymous = min(anonymous, total)
        self._all = threading.BoundedSemaphore(total)
        self._anonymous = threading.BoundedSemaphore(self.anonymous)

    def take(self, what: str, *, with_token: bool) -> Callable[[], None]:
        """A place for one stream, or 503; call the returned function once when it ends."""
        taken: list[threading.BoundedSemaphore] = []
        if not with_token:
            if not self._anonymous.acquire(blocking=False):
                _busy(
                    f"{what}: {self.anonymous} bulk read(s) without the token are under way "
                    "(with the token more may run)"
                )
            taken.append(self._anonymous)
        if not self._all.acquire(blocking=False):
            for semaphore in taken:
                semaphore.release()
            _busy(f"{what}: {self.total} bulk reads are under way")
        taken.append(self._all)
        lock = threading.Lock()

        def release() -> None:
            with lock:
                while taken:
                    taken.pop().release()

        return release
