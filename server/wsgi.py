"""Serving the app on cheroot (a production, multi-threaded WSGI server)."""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi

from pytest_fioloadgen.exceptions import ConfigError

from .app import build_context, create_app
from .config import ServerConfig
from .context import ServerContext

access_log = logging.getLogger("fioloadgen_server.access")
log = logging.getLogger("fioloadgen_server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AccessLog:
    """One line per request: client, method, path, status, bytes, milliseconds."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        started = time.perf_counter()
        status_holder: list[str] = []

        def recording_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status_holder.append(status)
            return start_response(status, headers, *exc)

        result = self.app(environ, recording_start)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                '%s "%s %s" %s %.1fms',
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "-"),
                (status_holder or ["-"])[0].split(" ", 1)[0],
                (time.perf_counter() - started) * 1000,
            )
        return result


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request reader, but a transfer coding it cannot decode is the client's
    error (400 naming the header), not a server error: RFC 9112 only says SHOULD 501, and a
    5xx reads as a fault of ours in every monitor."""

    def simple_response(self, status: str | int, msg: str = "") -> None:
        if str(status).startswith("501"):
            status = "400 Bad Request"
            msg = "Transfer-Encoding must be chunked (no other transfer coding is accepted)"
        super().simple_response(status, msg)


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


class Server:
    """A prepared (bound) server: ``port`` is known before ``serve`` blocks."""

    def __init__(self, config: ServerConfig, ctx: ServerContext | None = None) -> None:
        self.config = config
        self.ctx = ctx or build_context(config)
        app = AccessLog(create_app(self.ctx))
        self._server = wsgi.Server(
            (config.host, config.port),
            app,
            numthreads=config.threads,
            max=config.threads * 4,
            request_queue_size=256,
            server_name="fioloadgen",
            timeout=30,
        )
        # cheroot refuses larger bodies itself (413) before the app reads a byte.
        self._server.max_request_body_size = config.max_bulk_body
        self._server.ConnectionClass = _Connection
        try:
            self._server.prepare()
        except OSError as err:
            self.close()
            if err.errno == errno.EADDRINUSE or "in use" in str(err).lower():
                raise ConfigError(
                    f"port {config.port} on {config.host} is already in use "
                    "(another server? choose --port)"
                ) from err
            raise ConfigError(f"cannot listen on {config.host}:{config.port}: {err}") from err

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    def serve(self) -> None:
        if self.config.executor:
            self.ctx.executor.start()
        try:
            self._server.serve()
        finally:
            self.close()

    def stop(self) -> None:
        self._server.stop()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ctx.executor.stop()
        with contextlib.suppress(Exception):
            self.ctx.store.close()
        with contextlib.suppress(Exception):
            self.ctx.jobs.close()


@contextlib.contextmanager
def serving_in_thread(config: ServerConfig, *, join: bool = True) -> Iterator[Server]:
    """For tests and benchmarks: the server on a background thread, stopped on exit.

    cheroot notices a stop only at its next poll (up to half a second); ``join=False``
    lets that finish in the background (many short-lived test servers).
    """
    server = Server(config)
    thread = threading.Thread(target=server.serve, name="fioloadgen-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if join:
            server.stop()
            thread.join(10)
        else:
            threading.Thread(target=server.stop, daemon=True).start()
