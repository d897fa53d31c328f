"""Serving the app on cheroot (a production, multi-threaded WSGI server)."""

from __future__ import annotations

import contextlib
import errno
import functools
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cheroot.ssl.builtin import BuiltinSSLAdapter

from pytest_fioloadgen.exceptions import ConfigError

from .app import build_context, create_app
from .auth import token_matches
from .config import ServerConfig
from .connections import GatheringServer
from .context import ServerContext

access_log = logging.getLogger("fioloadgen_server.access")
log = logging.getLogger("fioloadgen_server")

#: Idle kept-alive connections the server keeps (cheroot's default is 10: with 200
#: clients nearly every answer closed its connection and the next request paid a new
#: TCP connection and a new connection object, on the one interpreter lock). Each costs
#: a file descriptor and a read buffer; idle ones still expire after ``timeout``.
KEEP_ALIVE_CONNECTIONS = 512

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


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) only ever means this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        return False  # it cannot be bound either; the bind says so
    return bool(found) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in found)


def insecure_warning(config: ServerConfig) -> str | None:
    """Why this server's transport is unsafe, or None (TLS, or loopback only).

    Raises ConfigError when it is unsafe and ``--insecure`` was not given.
    """
    if config.tls_cert is not None or is_loopback(config.host):
        return None
    if not config.insecure:
        raise ConfigError(
            f"refusing to serve plain HTTP on {config.host}: the API token and every write "
            "would cross the network in clear. Give --tls-cert FILE --tls-key FILE, bind "
            "127.0.0.1 (and reach it through an SSH tunnel or a port-forward), or pass "
            "--insecure to accept it (FIOLoadGen 1.5's fiocli speaks only plain HTTP)"
        )
    return (
        f"serving plain HTTP on {config.host} (--insecure): the API token and every write "
        "cross the network in clear; use --tls-cert/--tls-key unless only FIOLoadGen 1.5's "
        "fiocli (plain HTTP only) must reach this server"
    )


def tls_adapter(config: ServerConfig) -> BuiltinSSLAdapter:
    """cheroot's built-in (stdlib ssl) adapter; a bad file is one line naming it."""
    cert, key = config.tls_cert, config.tls_key
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
    for label, path in (("certificate", cert), ("private key", key)):
        if not path.is_file():
            raise ConfigError(f"TLS {label} {path} is not a readable file")
    try:
        adapter = BuiltinSSLAdapter(str(cert), str(key))
    except (ssl.SSLError, OSError, ValueError) as err:
        raise ConfigError(
            f"TLS certificate {cert} and key {key} cannot be used together: {err}"
        ) from err
    # Python's default already; stated so that no future default can lower it.
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    return adapter


class Server:
    """A prepared (bound) server: ``port`` is known before ``serve`` blocks."""

    def __init__(self, config: ServerConfig, ctx: ServerContext | None = None) -> None:
        self.config = config
        # Refused before anything is opened: no token file, no database for a bad start.
        self.warning = insecure_warning(config)
        adapter = tls_adapter(config) if config.tls_cert or config.tls_key else None
        self.ctx = ctx or build_context(config)
        app = AccessLog(create_app(self.ctx))
        self._server = GatheringServer(
            (config.host, config.port),
            app,
            numthreads=config.threads,
            max=config.threads * 4,
            request_queue_size=256,
            server_name="fioloadgen",
            timeout=30,
            head_deadline=config.head_deadline_s,
            request_deadline=config.request_deadline_s,
            trusted=functools.partial(token_matches, self.ctx.token),
        )
        self._server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
        # cheroot refuses larger bodies itself (413) before the app reads a byte.
        self._server.max_request_body_size = config.max_bulk_body
        if adapter is not None:
            self._server.ssl_adapter = adapter
        if self.warning:
            log.warning("%s", self.warning)
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
        # prepare() already started cheroot's worker threads, which are not daemons: a
        # server closed without serving would keep the process from exiting.
        with contextlib.suppress(Exception):
            self._server.stop()
        with contextlib.suppress(Exception):
            self.ctx.executor.stop()
        with contextlib.suppress(Exception):
            self.ctx.work.close()
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
            stopping = threading.Thread(target=server.stop, daemon=True)
            stopping.start()
            _STOPPING.append(stopping)


#: Servers of serving_in_thread(join=False) still stopping in the background.
_STOPPING: list[threading.Thread] = []


def wait_for_stops(timeout: float = 15.0) -> None:
    """For test sessions: wait until every server stopped in the background has stopped
    (its worker threads are not daemons and would outlive the session)."""
    deadline = time.monotonic() + timeout
    while _STOPPING:
        _STOPPING.pop().join(max(0.0, deadline - time.monotonic()))
