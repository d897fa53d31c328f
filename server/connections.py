"""Connections reach a worker thread only with a whole request, within a deadline.

cheroot hands every accepted connection to one of its worker threads at once, and the
worker reads the request with a timeout per read only (30 s): twelve clients sending one
header line every 4 s held all ten workers and ``/status`` waited 48 s (issue 19). With
TLS it was worse: cheroot's selector thread does the handshake itself, blocking, so one
silent client stopped every new connection for 30 s.

Here the selector thread gathers each request without blocking: the TLS handshake, the
head and the body. A request without the server's token is gathered whole (its body may
be GATHER_LIMIT bytes at most: 413 at once beyond, which is more than any request that
needs no token sends), so a worker never waits on a client without the token. A request
with the token may send a larger body: it goes to a worker once its head is in, and the
worker reads the body until ``request_deadline`` seconds from the request's first byte
(408). Every request must be gathered within ``head_deadline`` seconds of its first byte
(of the accept, for a new connection), else 408 and the connection is closed. Waiting
costs a file descriptor and a buffer, never a worker; at most MAX_GATHERING connections
wait at once, those waiting longest are dropped beyond that.
"""

from __future__ import annotations

import _pyio  # type: ignore[import-not-found]  # typeshed has no stub for it
import contextlib
import os
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot import connections as cheroot_connections
from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import MakeFile, StreamReader

#: The largest body a request without the token may send; it is gathered whole before a
#: worker sees the request (the profile builder's spec, the only such body, is a few
#: hundred bytes).
GATHER_LIMIT = 64 * 1024
#: The longest request line and headers taken (cheroot answers 414 or 413 beyond).
MAX_HEAD = 64 * 1024
#: Connections gathering a request at once; beyond, those waiting longest are dropped.
MAX_GATHERING = 1024
_RECEIVE = 64 * 1024


def _answer(status: str, document: bytes) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(document)}\r\n\r\n"
    ).encode() + document


_TIMEOUT_ANSWER = _answer(
    "408 Request Timeout",
    b'{"status":"408 Request Timeout","message":"the request was not sent within the '
    b"server's deadline\"}",
)
_TOO_LARGE_ANSWER = _answer(
    "413 Payload Too Large",
    b'{"status":"413 Payload Too Large","message":"a request body over '
    + str(GATHER_LIMIT).encode()
    + b" bytes needs the server's token (Authorization: Bearer TOKEN)\"}",
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_PLAIN_HTTP_ON_TLS = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: 66\r\n\r\nThis server speaks HTTPS on this port; the client sent plain HTTP."
)

#: What gathering decides about a request so far.
WAIT, READY, TOO_LARGE, CONTINUE = "wait", "ready", "too large", "continue"


def assess(data: bytes | bytearray, trusted: Callable[[str | None], bool]) -> str:
    """What to do with a request of which ``data`` has arrived: WAIT for more; READY (a
    worker takes it: it is whole, or it has the token and its head is in, or cheroot will
    refuse it at once); TOO_LARGE (no token and a body over GATHER_LIMIT); CONTINUE (no
    token, ``Expect: 100-continue``: say "100 Continue" and wait for the body).

    ``trusted(authorization)`` says whether an Authorization value carries the token.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        newline = data.find(b"\n")
        if newline == 0 or (newline > 0 and data[newline - 1] != 0x0D):
            return READY  # a bare LF: cheroot answers 400 "HTTP requires CRLF terminators"
        return READY if len(data) > MAX_HEAD else WAIT
    length: int | None = None
    chunked = expect = False
    authorization: str | None = None
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _sep, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip()
        if name == b"expect" and value.lower() == b"100-continue":
            expect = True
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"content-length":
            if not value.isdigit():
                return READY  # cheroot answers 400
            length = int(value)
    body = len(data) - end - 4
    if not chunked and not length:
        return READY
    if trusted(authorization):
        return READY  # a worker reads the body, within the request deadline
    if (length or 0) > GATHER_LIMIT or body > GATHER_LIMIT + (1024 if chunked else 0):
        return TOO_LARGE
    whole = data.endswith(b"0\r\n\r\n") if chunked else body >= (length or 0)
    if whole:
        return READY
    # The last chunk with an extension or trailers is not seen here: the head deadline
    # ends such a request (no client of this API sends them).
    return CONTINUE if expect and body == 0 else WAIT


class _GatheredSocketIO(socket.SocketIO):
    """A connection's reads: first what the selector thread gathered, then the socket,
    each read bounded by what is left of the request's deadline."""

    def __init__(self, sock: socket.socket, per_read: float) -> None:
        super().__init__(sock, "rb")
        self.connection_socket = sock
        self.gathered = bytearray()
        #: time.monotonic() by which the request must have been read; None between requests.
        self.deadline: float | None = None
        self.per_read = per_read

    def readinto(self, buffer: Any) -> int | None:
        if self.gathered:
            count = min(len(buffer), len(self.gathered))
            buffer[:count] = self.gathered[:count]
            del self.gathered[:count]
            return count
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                # cheroot's own text for a timeout: it answers 408 and closes.
                raise TimeoutError("timed out")
            self.connection_socket.settimeout(min(self.per_read, left))
        return super().readinto(buffer)


class _Reader(StreamReader):
    """cheroot's reader (it counts bytes, says whether it holds any), over our raw reads."""

    def __init__(self, raw: _GatheredSocketIO, bufsize: int) -> None:
        _pyio.BufferedReader.__init__(self, raw, bufsize)
        self.bytes_read = 0

    def take_buffered(self) -> bytes:
        """What was read from the socket but not yet taken by a request (pipelining)."""
        reader: Any = self  # _pyio's buffer, as cheroot's own has_data() reads it
        held = len(reader._read_buf) - reader._read_pos
        return bytes(reader.read(held)) if held > 0 else b""


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request, but a transfer coding it cannot decode is the client's error
    (400 naming the header), not a server error: RFC 9112 only says SHOULD 501, and a 5xx
    reads as a fault of ours in every monitor. An answer sent before the body was read
    closes the connection: reading the rest first would let any client hold a worker."""

    def simple_response(self, status: str | int, msg: str = "") -> None:
        if str(status).startswith("501"):
            status = "400 Bad Request"
            msg = "Transfer-Encoding must be chunked (no other transfer coding is accepted)"
        super().simple_response(status, msg)

    def send_headers(self) -> None:
        body = getattr(self, "rfile", None)
        if isinstance(body, cheroot_server.ChunkedRFile):
            unread = not body.closed
        else:
            unread = getattr(body, "remaining", 0) > 0
        if unread:
            self.close_connection = True
        super().send_headers()


class GatheredConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request

    def __init__(self, server: Any, sock: socket.socket, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.raw_in = _GatheredSocketIO(sock, float(server.timeout))
        self.rfile = _Reader(self.raw_in, self.rbufsize)
        # cheroot sets it only for kept-alive connections; its idle expiry reads it for
        # every connection in the selector, ours included.
        self.last_used = time.time()
        #: When the request being gathered began (monotonic); None while idle between
        #: requests. A new connection's request begins at the accept.
        self.started: float | None = time.monotonic()
        #: A TLS connection whose handshake is still to finish (gathered like a head).
        self.handshaking = False
        #: "100 Continue" was sent for the request being gathered.
        self.continued = False


class GatheringConnectionManager(cheroot_connections.ConnectionManager):
    """cheroot's selector loop, with requests gathered here instead of in a worker.

    It overrides two of cheroot's private methods (``_expire``, ``_from_server_socket``)
    and uses its selector: tests/integration/test_server_limits.py fails if a cheroot
    release changes them.
    """

    # cheroot's own attribute; its type stub leaves private names out.
    _selector: Any

    def __init__(self, server: GatheringServer) -> None:
        super().__init__(server)
        self._gathering: dict[GatheredConnection, float] = {}
        self._lock = threading.Lock()

    # -- cheroot's entry points ---------------------------------------------------

    def put(self, conn: GatheredConnection) -> None:
        """A worker is done with a request and keeps the connection for the next one."""
        conn.last_used = time.time()
        conn.raw_in.deadline = None
        conn.started = None
        conn.continued = False
        leftover = conn.rfile.take_buffered()
        if leftover:
            conn.raw_in.gathered[:0] = leftover
        if conn.raw_in.gathered:
            conn.started = time.monotonic()
            self.gather(conn, receive=False)
        else:
            self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)

    def _expire(self, threshold: float) -> None:
        """Every half second on the selector thread: end the requests past their
        deadline (408), then the longest waiting beyond MAX_GATHERING, then cheroot's
        idle kept-alive connections."""
        now = time.monotonic()
        with self._lock:
            by_deadline = sorted(self._gathering.items(), key=lambda item: item[1])
            late = [conn for conn, deadline in by_deadline if deadline <= now]
            beyond = max(0, len(by_deadline) - len(late) - MAX_GATHERING)
            crowded = [conn for conn, _deadline in by_deadline[len(late) : len(late) + beyond]]
            for conn in late + crowded:
                del self._gathering[conn]
        for conn in late:
            self._drop(conn, answer=not conn.handshaking)
        for conn in crowded:
            self._drop(conn, answer=False)
        super()._expire(threshold)  # type: ignore[misc]  # private: no stub

    def _from_server_socket(self, server_socket: socket.socket) -> Any:
        adapter = self.server.ssl_adapter
        if adapter is None:
            return super()._from_server_socket(server_socket)  # type: ignore[misc]
        # cheroot would do the TLS handshake here, blocking this thread until it ends.
        try:
            sock, addr = server_socket.accept()
        except OSError as err:
            if isinstance(err, socket.timeout) or err.args[0] in (
                *cheroot_errors.socket_error_eintr,
                *cheroot_errors.socket_errors_nonblocking,
                *cheroot_errors.socket_errors_to_ignore,
            ):
                return None
            raise
        try:
            cheroot_connections.prevent_socket_inheritance(sock)
            sock.settimeout(self.server.timeout)
            tls = adapter.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except OSError:  # the client went already
            sock.close()
            return None
        conn = self.server.ConnectionClass(self.server, tls, adapter.makefile)
        conn.remote_addr, conn.remote_port = addr[0], addr[1]
        conn.handshaking = True
        return conn

    # -- gathering ----------------------------------------------------------------

    def gather(self, conn: GatheredConnection, *, receive: bool = True) -> None:
        """Take what the socket holds without waiting; hand a complete request on."""
        if conn.handshaking and not self._handshake(conn):
            return
        ended = self._receive(conn) if receive else False
        data = conn.raw_in.gathered
        if data and conn.started is None:
            conn.started = time.monotonic()
        if ended and not data:
            self._forget(conn)
            conn.close()
            return
        verdict = READY if ended else assess(data, self.server.trusted)
        if verdict == CONTINUE and not conn.continued:
            conn.continued = self._send(conn, _CONTINUE)
        if verdict == TOO_LARGE:
            self._forget(conn)
            self._send(conn, _TOO_LARGE_ANSWER)
            conn.close()
        elif verdict == READY:
            self._forget(conn)
            # Only a request with the token can still have reading to do.
            started = conn.started or time.monotonic()
            conn.raw_in.deadline = started + self.server.request_deadline
            self.server.hand_to_worker(conn)
        else:
            self._wait(conn)

    def _handshake(self, conn: GatheredConnection) -> bool:
        """Advance a TLS handshake; whether it is done (else the connection waits or went)."""
        tls = conn.socket
        tls.settimeout(0.0)
        try:
            tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            self._wait(conn)
            return False
        except ssl.SSLError as err:
            self._forget(conn)
            if "http request" in str(err).lower():
                with contextlib.suppress(OSError):
                    # The bytes go out as they are: the TLS layer never started.
                    os.write(tls.fileno(), _PLAIN_HTTP_ON_TLS)
            conn.close()
            return False
        except OSError:
            self._forget(conn)
            conn.close()
            return False
        finally:
            with contextlib.suppress(OSError):
                tls.settimeout(self.server.timeout)
        conn.handshaking = False
        conn.ssl_env = self.server.ssl_adapter.get_environ(tls)
        # The request's own clock starts now: the handshake had its own deadline.
        conn.started = None
        return True

    def _receive(self, conn: GatheredConnection) -> bool:
        """Append what the socket holds to the gathered bytes; whether the client's side
        ended (or failed)."""
        sock = conn.socket
        gathered = conn.raw_in.gathered
        sock.settimeout(0.0)
        try:
            while len(gathered) <= MAX_HEAD + GATHER_LIMIT:
                try:
                    data = sock.recv(_RECEIVE)
                except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    return False
                except OSError:
                    return True
                if not data:
                    return True
                gathered += data
                conn.last_used = time.time()
            return False
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(self.server.timeout)

    def _wait(self, conn: GatheredConnection) -> None:
        """Back to the selector until more arrives, within the head deadline."""
        if conn.started is None:
            conn.started = time.monotonic()
        with self._lock:
            self._gathering[conn] = conn.started + self.server.head_deadline
        try:
            self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)
        except (KeyError, ValueError, OSError):  # closed meanwhile (_expire)
            self._forget(conn)
            conn.close()

    def _send(self, conn: GatheredConnection, data: bytes) -> bool:
        """Send a short answer without waiting (best effort); whether it all went."""
        try:
            conn.socket.settimeout(0.0)
            sent = conn.socket.send(data)
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                conn.socket.settimeout(self.server.timeout)
        return bool(sent == len(data))

    def _forget(self, conn: GatheredConnection) -> None:
        with self._lock:
            self._gathering.pop(conn, None)

    def _drop(self, conn: GatheredConnection, *, answer: bool) -> None:
        """Close a connection that did not send its request in time (408 if it can take it)."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.socket.fileno())
        if answer:
            self._send(conn, _TIMEOUT_ANSWER)
        with contextlib.suppress(OSError):
            conn.close()

    @property
    def gathering(self) -> int:
        """Connections gathering a request now."""
        with self._lock:
            return len(self._gathering)


class GatheringServer(wsgi.Server):
    """cheroot's WSGI server with GatheringConnectionManager in front of its workers."""

    ConnectionClass = GatheredConnection
    # cheroot's own attribute (set by prepare()); its type stub leaves private names out.
    _connections: Any

    def __init__(
        self,
        *args: Any,
        head_deadline: float,
        request_deadline: float,
        trusted: Callable[[str | None], bool],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.head_deadline = head_deadline
        self.request_deadline = request_deadline
        #: Whether an Authorization header's value carries the server's token.
        self.trusted = trusted
        self.max_request_header_size = MAX_HEAD

    def prepare(self) -> None:
        super().prepare()
        stock = self._connections
        self._connections = GatheringConnectionManager(self)
        # Its selector only watched the listening socket, which stays open.
        stock._selector.close()

    def process_conn(self, conn: GatheredConnection) -> None:
        """Called by the selector loop for a new or readable connection."""
        self._connections.gather(conn)

    def hand_to_worker(self, conn: GatheredConnection) -> None:
        super().process_conn(conn)
