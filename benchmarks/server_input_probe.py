"""Malformed input against the results server (a script, not a test): counts the 5xx answers.

    .venv/bin/python benchmarks/server_input_probe.py [--verbose] [--only ROUTE]

Starts a server in its own process (``python -m fioloadgen_server serve``, loopback, a
temporary state directory, no executor), then sends every case below to every route that
reads a JSON body (6 of API v1, 2 of the legacy 1.5 API): 80 cases x 8 routes = 640
requests, each over a fresh raw socket so that broken framing reaches the server as sent.
The cases: numbers out of range (``1e999999``, huge integers, NaN, Infinity), strings
with lone surrogates or NULs, deep nesting (200 000 levels), truncated or non-UTF-8 JSON,
wrong or missing content types, oversized bodies, chunked bodies within and beyond the
limit, broken chunk framing, odd headers (Authorization, Content-Length, Expect, Host,
Transfer-Encoding) and odd query parameters and path segments.

Each request comes from its own loopback address, so that the profile builder's rate
bound per client (429) does not stand in front of its body handling. It prints how many
answers were 5xx (the target is 0) and how many requests got no HTTP answer at all;
``--verbose`` lists each of them. ``tests/integration/test_server_probe.py``
sends the same cases to an in-process server and checks the expected status of each kind.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import dataclasses
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The server's default body limits (server/config.py), so "beyond the limit" really is.
MAX_BODY = 1024 * 1024
MAX_BULK_BODY = 64 * 1024 * 1024

GOOD_PROFILE = (
    "[global]\nioengine=psync\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
)


@dataclasses.dataclass(frozen=True)
class Route:
    """A route that reads a JSON body, with two templates: one where a number goes (a
    field the server converts or bounds) and one where a string goes (a field it stores)."""

    name: str
    method: str
    path: str
    limit: int
    legacy: bool
    number_body: Callable[[str, str], str]
    string_body: Callable[[str, str], str]
    #: A body the route accepts (2xx), for the cases that vary only the transport.
    valid_body: Callable[[str], str]


def _import_document(runs: str) -> str:
    return f'{{"format":"fioloadgen-runs","version":1,"runs":[{runs}]}}'


def _run_document(uid: str, *, started_at: str = "100.0", profile_name: str = '"probe"') -> str:
    return (
        f'{{"run_id":"probe-{uid}","session_id":"probe","profile_name":{profile_name},'
        '"profile_hash":"0123456789abcdef","profile_text":"[rr]\\nrw=randread\\n",'
        '"workers":1,"backend":"local","target":"local",'
        f'"started_at":{started_at},"finished_at":101.0,"metrics":{{"iops":1.0}}}}'
    )


ROUTES = (
    Route(
        "v1 PUT /profiles/NAME",
        "PUT",
        "/api/v1/profiles/probe-p{uid}",
        MAX_BODY,
        False,
        lambda v, uid: f'{{"spec":{{"pattern":"random","iodepth":{v}}}}}',
        lambda s, uid: f'{{"text":{s}}}',
        lambda uid: json.dumps({"text": GOOD_PROFILE}),
    ),
    Route(
        "v1 POST /profile-builder",
        "POST",
        "/api/v1/profile-builder",
        MAX_BODY,
        False,
        lambda v, uid: f'{{"pattern":"random","read_pct":{v}}}',
        lambda s, uid: f'{{"pattern":"random","block_size":{s}}}',
        lambda uid: '{"pattern":"random","read_pct":70}',
    ),
    Route(
        "v1 POST /jobs",
        "POST",
        "/api/v1/jobs",
        MAX_BODY,
        False,
        lambda v, uid: f'{{"profile":"randread-4k","workers":{v},"title":"probe"}}',
        lambda s, uid: f'{{"profile":"randread-4k","workers":1,"title":{s}}}',
        lambda uid: '{"profile":"randread-4k","workers":1,"title":"probe"}',
    ),
    Route(
        "v1 POST /runs",
        "POST",
        "/api/v1/runs",
        MAX_BULK_BODY,
        False,
        lambda v, uid: _run_document(uid, started_at=v),
        lambda s, uid: _run_document(uid, profile_name=s),
        lambda uid: _run_document(uid),
    ),
    Route(
        "v1 PUT /baselines/NAME",
        "PUT",
        "/api/v1/baselines/probe-b{uid}",
        MAX_BODY,
        False,
        lambda v, uid: f'{{"run_ids":["probe-base"],"note":"n","pinned":{v}}}',
        lambda s, uid: f'{{"run_ids":["probe-base"],"note":{s}}}',
        lambda uid: '{"run_ids":["probe-base"],"note":"n"}',
    ),
    Route(
        "v1 POST /import",
        "POST",
        "/api/v1/import",
        MAX_BULK_BODY,
        False,
        lambda v, uid: _import_document(_run_document(uid, started_at=v)),
        lambda s, uid: _import_document(_run_document(uid, profile_name=s)),
        lambda uid: _import_document(_run_document(uid)),
    ),
    Route(
        "legacy PUT /profile/NAME",
        "PUT",
        "/api/profile/pl{uid}",
        MAX_BODY,
        True,
        lambda v, uid: f'{{"spec":{{"ioPattern":"random","ioDepth":{v},"runTime":1}}}}',
        lambda s, uid: f'{{"data":{s}}}',
        lambda uid: json.dumps({"data": GOOD_PROFILE}),
    ),
    Route(
        "legacy POST /job/PROFILE",
        "POST",
        "/api/job/randread-4k",
        MAX_BODY,
        True,
        lambda v, uid: f'{{"title":"probe","workers":{v},"storageclass":"local"}}',
        lambda s, uid: f'{{"title":{s},"workers":"1","storageclass":"local"}}',
        lambda uid: '{"title":"probe","workers":"1","storageclass":"local"}',
    ),
)

#: Numbers a client may put where the server expects a count, a time or a size.
NUMBERS = (
    "1e999999",
    "-1e999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 4000,  # parses (below Python's 4300-digit limit), fits nothing
    "1" + "0" * 4400,  # beyond Python's int string limit
    "18446744073709551616",  # 2**64
    "-9223372036854775809",  # below int64
    "1e308",
    "4.9e-324",
    "-0",
    "1.5",
    "true",
    "null",
    '"1e999999"',
    '"\\u0661"',  # ARABIC-INDIC DIGIT ONE: int() accepts it
    "[]",
    "{}",
)
#: Strings the server stores or passes to fio.
STRINGS = (
    '"\\ud800"',  # a lone high surrogate: not encodable as UTF-8
    '"x\\udc00y"',  # a lone low surrogate
    '"\\ud83d"',  # a high surrogate with no partner at the end
    '"a\\u0000b"',
    '"\\\\ud800"',  # an escaped backslash: valid, harmless text
    '"\\ud83d\\ude00"',  # a proper pair (valid)
    '"' + "x" * (900 * 1024) + '"',
    '"<script>alert(1)</script>"',
)


@dataclasses.dataclass(frozen=True)
class Case:
    """One request: its kind (what the server must answer) and how to build its bytes."""

    kind: str
    name: str
    build: Callable[[Route, str, str, str], bytes]  # route, host:port, token, uid -> request


def _auth(route: Route, token: str) -> str:
    if route.legacy:
        # fiocli 1.5 sends the token from its address, which requests turns into Basic.
        return "Basic " + base64.b64encode(f"{token}:".encode()).decode()
    return f"Bearer {token}"


def _request(
    route: Route,
    host: str,
    token: str,
    uid: str,
    body: bytes | None,
    *,
    headers: dict[str, str] | None = None,
    raw_headers: bytes = b"",
    content_type: str | None = "application/json",
    path_suffix: str = "",
    path: str | None = None,
    method: str | None = None,
    version: str = "HTTP/1.1",
    chunked: bytes | None = None,
    length: int | None = None,
    auth: bool = True,
) -> bytes:
    target = (path or route.path.format(uid=uid)) + path_suffix
    lines = [f"{method or route.method} {target} {version}", f"Host: {host}", "Connection: close"]
    if auth:
        lines.append(f"Authorization: {_auth(route, token)}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if chunked is not None:
        lines.append("Transfer-Encoding: chunked")
    elif body is not None:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    head = ("\r\n".join(lines) + "\r\n").encode("latin-1") + raw_headers + b"\r\n"
    if chunked is not None:
        return head + chunked
    return head + (body or b"")


def _chunks(data: bytes, size: int) -> bytes:
    parts = [
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def _plain(route: Route, uid: str) -> bytes:
    """A valid body for the route (some cases vary only the transport around it)."""
    return route.valid_body(uid).encode()


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(kind: str, name: str, build: Callable[[Route, str, str, str], bytes]) -> None:
        cases.append(Case(kind, name, build))

    def body_case(kind: str, name: str, make: Callable[[Route, str], bytes], **options) -> None:
        add(kind, name, lambda r, h, t, u: _request(r, h, t, u, make(r, u), **options))

    # -- numbers and strings in the fields the server converts or stores (27) ---------
    for value in NUMBERS:
        body_case(
            "number", f"number {value[:24]}", lambda r, u, v=value: r.number_body(v, u).encode()
        )
    for value in STRINGS:
        body_case(
            "string", f"string {value[:24]}", lambda r, u, v=value: r.string_body(v, u).encode()
        )
    # -- the shape of the document (16) ----------------------------------------------
    for depth in (200_000, 5000, 1000, 100):
        for shape in ("array", "object"):
            body_case(
                "depth",
                f"{shape} nested {depth} deep",
                lambda r, u, d=depth, s=shape: _nested(d, s),
            )
    for name, text in (
        ("truncated JSON", b'{"title": "probe", "work'),
        ("truncated string", b'{"title": "pro'),
        ("trailing garbage", b'{"title": "probe"} x'),
        ("top-level array", b'["probe"]'),
        ("top-level null", b"null"),
        ("empty body", b""),
        ("whitespace body", b" \r\n\t "),
        ("unbalanced brackets", b"[[[[[[[[[[{]]]"),
    ):
        body_case("syntax", name, lambda r, u, b=text: b)
    # -- encodings (5) ---------------------------------------------------------------
    body_case(
        "encoding", "bad UTF-8", lambda r, u: r.string_body('"\xff\xfe"', u).encode("latin-1")
    )
    body_case(
        "encoding", "overlong UTF-8", lambda r, u: r.string_body('"\xc0\xaf"', u).encode("latin-1")
    )
    body_case("encoding", "UTF-16 with BOM", lambda r, u: _plain(r, u).decode().encode("utf-16"))
    body_case("encoding", "UTF-8 BOM", lambda r, u: b"\xef\xbb\xbf" + _plain(r, u))
    body_case(
        "encoding", "raw control character", lambda r, u: r.string_body('"a\x01b"', u).encode()
    )
    # -- content types (8) -------------------------------------------------------------
    for name, content_type in (
        ("no Content-Type", None),
        ("text/plain", "text/plain"),
        ("form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart", "multipart/form-data; boundary=x"),
        ("JSON in latin-1", "application/json; charset=latin-1"),
        ("application/jsonx", "application/jsonx"),
        ("JSON, utf-8, upper case", "APPLICATION/JSON; Charset=UTF-8"),
        ("broken parameters", "application/json;;; =; charset"),
    ):
        body_case("content-type", name, lambda r, u: _plain(r, u), content_type=content_type)
    # -- sizes and framing (12) --------------------------------------------------------
    body_case(
        "size",
        "Content-Length beyond the limit",
        lambda r, u: b"",
        length=MAX_BULK_BODY + 1,  # announced, never sent: the server must not wait for it
    )
    add(
        "size",
        "body beyond the route's limit",
        lambda r, h, t, u: _request(
            r,
            h,
            t,
            u,
            b"",
            length=r.limit + 1,  # announced, then the socket is half-closed
        ),
    )
    add(
        "chunked-ok",
        "chunked, one chunk",
        lambda r, h, t, u: _request(r, h, t, u, None, chunked=_chunks(_plain(r, u), 1 << 16)),
    )
    add(
        "chunked-ok",
        "chunked, 1-byte chunks",
        lambda r, h, t, u: _request(r, h, t, u, None, chunked=_chunks(_plain(r, u), 1)),
    )
    add(
        "chunked-ok",
        "chunked, with extensions",
        lambda r, h, t, u: _request(
            r,
            h,
            t,
            u,
            None,
            chunked=b"%x;ext=1\r\n" % len(_plain(r, u)) + _plain(r, u) + b"\r\n0\r\n\r\n",
        ),
    )
    add(
        "chunked-big",
        "chunk announced past the limit, not sent",
        lambda r, h, t, u: _request(
            r,
            h,
            t,
            u,
            None,
            # Announced, never sent: a truncated body (400) where the limit is 1 MB; on
            # the 64 MB routes cheroot refuses the announcement itself (413).
            chunked=b"%x\r\n" % (r.limit + 1),
        ),
    )
    add(
        "chunked-big",
        "chunked, sent past the route's limit",
        lambda r, h, t, u: (
            _request(r, h, t, u, None, chunked=_chunks(b" " * (r.limit + 4096), 1 << 16))
            if r.limit == MAX_BODY
            # 64 MB routes: one chunk of 64 MB + 4 KB announced, then sent in part
            else _request(r, h, t, u, None, chunked=b"%x\r\n" % (r.limit + 4096) + b" " * (1 << 20))
        ),
    )
    add(
        "chunked-bad",
        "chunked, bad chunk size",
        lambda r, h, t, u: _request(r, h, t, u, None, chunked=b"zz\r\n{}\r\n0\r\n\r\n"),
    )
    add(
        "chunked-bad",
        "chunked, missing CRLF",
        lambda r, h, t, u: _request(r, h, t, u, None, chunked=b"2\r\n{}XX0\r\n\r\n"),
    )
    add(
        "chunked-bad",
        "chunked, no last chunk",
        lambda r, h, t, u: _request(r, h, t, u, None, chunked=b"2\r\n{}\r\n"),
    )
    body_case("framing", "Content-Length -1", lambda r, u: _plain(r, u), length=-1)
    body_case(
        "framing",
        "Content-Length longer than the body",
        lambda r, u: _plain(r, u),
        length=1000,
    )
    # -- headers (9) -------------------------------------------------------------------
    for name, value in (
        ("Basic with non-ASCII", "Basic \xe9\xe9\xe9"),
        ("Basic, not UTF-8 inside", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()),
        ("Bearer of 8 KB", "Bearer " + "t" * 8192),
        ("Authorization without a value", "Basic"),
    ):
        body_case(
            "header", name, lambda r, u: _plain(r, u), headers={"Authorization": value}, auth=False
        )
    body_case(
        "header",
        "Transfer-Encoding gzip",
        lambda r, u: _plain(r, u),
        headers={"Transfer-Encoding": "gzip"},
    )
    body_case(
        "header",
        "Expect: 100-continue",
        lambda r, u: _plain(r, u),
        headers={"Expect": "100-continue"},
    )
    body_case(
        "header",
        "Content-Length and chunked",
        lambda r, u: _chunks(_plain(r, u), 8),
        headers={"Transfer-Encoding": "chunked"},
    )
    body_case(
        "header",
        "header bytes beyond latin-1 rules",
        lambda r, u: _plain(r, u),
        raw_headers=b"X-Odd: \xff\xfe\x80\r\nCookie: a=%ff; =; ;;\r\nOrigin: \xc3\r\n",
    )
    body_case("header", "HTTP/1.0", lambda r, u: _plain(r, u), version="HTTP/1.0")
    # -- query parameters (3; they ride on a valid body) --------------------------------
    for name, suffix in (
        ("query: bad percent-encoding", "?%ff=%fe&limit=%ff"),
        ("query: 2000 parameters", "?" + "&".join(f"p{i}=1" for i in range(2000))),
        ("query: NUL and 1e999999", "?limit=1e999999&offset=%00&refresh=%00"),
    ):
        body_case("query", name, lambda r, u: _plain(r, u), path_suffix=suffix)
    return cases


CASES = _cases()


def route_cases() -> Iterator[tuple[Route, Case]]:
    for route in ROUTES:
        for case in CASES:
            yield route, case


#: Every other route of both APIs ({seg} = a path segment the case chooses), for a second
#: sweep of odd path segments, query parameters and headers (no body).
OTHER_ROUTES = (
    ("GET", "/api/v1/status"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/profiles"),
    ("GET", "/api/v1/profiles/{seg}"),
    ("DELETE", "/api/v1/profiles/{seg}"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{seg}"),
    ("GET", "/api/v1/jobs/{seg}/raw"),
    ("DELETE", "/api/v1/jobs/{seg}"),
    ("POST", "/api/v1/jobs/{seg}/rerun"),
    ("POST", "/api/v1/jobs/{seg}/cancel"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{seg}"),
    ("DELETE", "/api/v1/runs/{seg}"),
    ("GET", "/api/v1/baselines"),
    ("GET", "/api/v1/baselines/{seg}"),
    ("DELETE", "/api/v1/baselines/{seg}"),
    ("GET", "/api/v1/history"),
    ("GET", "/api/v1/history/{seg}"),
    ("GET", "/api/v1/compare"),
    ("GET", "/api/v1/export"),
    ("GET", "/api/ping"),
    ("GET", "/api/status"),
    ("GET", "/api/profile"),
    ("GET", "/api/profile/{seg}"),
    ("DELETE", "/api/profile/{seg}"),
    ("GET", "/api/job"),
    ("GET", "/api/job/{seg}"),
    ("DELETE", "/api/job/{seg}"),
    ("GET", "/api/db/{seg}"),
    ("DELETE", "/api/db/{seg}"),
    ("POST", "/api/db/{seg}"),
    ("GET", "/"),
    ("GET", "/ui/{seg}"),
    ("GET", "/metrics"),
)
_EVERY_PARAMETER = [
    "limit",
    "offset",
    "status",
    "profile",
    "target",
    "title",
    "sort",
    "order",
    "workers",
    "label",
    "with_raw",
    "metric",
    "ids",
    "profile_name",
    "history_key",
    "fields",
    "refresh",
    "id",
    "name",
]
#: (name, path segment, query string, extra raw header lines)
OTHER_CASES = (
    ("segment not UTF-8", "%ff%fe", "", b""),
    ("segment with NUL", "a%00b", "", b""),
    ("segment of 6000 characters", "x" * 6000, "", b""),
    ("segment traversal", "..%2f..%2fetc%2fpasswd", "", b""),
    ("every parameter not UTF-8", "jobs", "&".join(f"{k}=%ff" for k in _EVERY_PARAMETER), b""),
    (
        "every parameter 1e999999",
        "jobs",
        "&".join(f"{k}=1e999999" for k in _EVERY_PARAMETER),
        b"",
    ),
    (
        "every parameter huge or negative",
        "jobs",
        "&".join(f"{k}={'9' * 30 if i % 2 else '-1'}" for i, k in enumerate(_EVERY_PARAMETER)),
        b"",
    ),
    ("5000 ids and labels", "jobs", "ids=" + ",".join(["x"] * 5000) + "&label=a" * 500, b""),
    ("names not UTF-8", "%ff", "%ff=%fe&id=%ff&name=%ff", b""),
    (
        "headers not UTF-8",
        "x",
        "",
        b"Authorization: Basic \xe9\r\nOrigin: \xc3\r\nCookie: \xff=\xfe\r\n"
        b"Accept: \xff\r\nIf-Modified-Since: \xff\r\nRange: bytes=\xff\r\n",
    ),
)


def other_requests(host: str, token: str) -> Iterator[tuple[str, str, bytes]]:
    """(route, case, request) for every other route and every case of OTHER_CASES."""
    for method, template in OTHER_ROUTES:
        for name, segment, query, extra in OTHER_CASES:
            path = template.replace("{seg}", segment) + (f"?{query}" if query else "")
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n"
            ).encode("latin-1")
            if extra:  # these carry their own Authorization
                head = head.replace(f"Authorization: Bearer {token}\r\n".encode(), b"")
            yield f"{method} {template}", name, head + extra + b"\r\n"


def send(
    host: str, port: int, request: bytes, *, timeout: float = 60.0, source: str | None = None
) -> tuple[int, bytes]:
    """Send raw bytes, half-close, read the answer: (status, body); status 0 = no answer."""
    bind = (source, 0) if source else None
    with socket.create_connection((host, port), timeout=timeout, source_address=bind) as sock:
        errors: list[BaseException] = []

        def write() -> None:
            try:
                sock.sendall(request)
                sock.shutdown(socket.SHUT_WR)
            except OSError as err:  # the server answered and closed before reading it all
                errors.append(err)

        # Written from a thread so that an early answer (413) is read while we still send.
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        received = bytearray()
        try:
            while True:
                data = sock.recv(1 << 16)
                if not data:
                    break
                received += data
        except ConnectionResetError:
            pass
        writer.join(timeout)
    return _parse(bytes(received))


def _parse(response: bytes) -> tuple[int, bytes]:
    while True:
        head, _sep, rest = response.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0, response[:200]
        if 100 <= status < 200 and rest:
            response = rest  # an interim 100 Continue: the final answer follows
            continue
        return status, rest


@dataclasses.dataclass
class Outcome:
    route: str
    kind: str
    case: str
    status: int
    body: bytes


def _source(host: str, number: int) -> str | None:
    # Each request from its own loopback address (127.0.0.2-251): the profile builder's
    # rate bound is per client, and must not hide how the builder handles bodies.
    return f"127.0.0.{2 + number % 250}" if host == "127.0.0.1" else None


def run_other(host: str, port: int, token: str) -> list[Outcome]:
    outcomes = []
    for route, name, request in other_requests(f"{host}:{port}", token):
        status, body = send(host, port, request)
        outcomes.append(Outcome(route, "other", name, status, body))
    return outcomes


def run_cases(host: str, port: int, token: str, *, only: str | None = None) -> list[Outcome]:
    outcomes = []
    for number, (route, case) in enumerate(route_cases()):
        if only and only not in route.name:
            continue
        request = case.build(route, f"{host}:{port}", token, f"{number}")
        status, body = send(host, port, request, source=_source(host, number))
        outcomes.append(Outcome(route.name, case.kind, case.name, status, body))
    return outcomes


def seed(host: str, port: int, token: str) -> None:
    """The run the baseline cases pin."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request(
        "POST",
        "/api/v1/runs",
        _run_document("base").encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"cannot record the probe's base run: HTTP {response.status}")


@contextlib.contextmanager
def server_process(state: Path, *, with_pid: bool = False) -> Iterator[Any]:
    """A server in its own process on a free loopback port: (port, token[, pid])."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "fioloadgen_server", "serve", "--no-executor"]
    argv += ["--port", str(port), "--store", str(state / "history.db")]
    argv += ["--state-dir", str(state / "state")]
    log = (state / "server.log").open("wb")
    process = subprocess.Popen(argv, stdout=log, stderr=log, cwd=state)
    try:
        deadline = time.time() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/api/ping")
                connection.getresponse().read()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        f"the probe's server did not start; see {state / 'server.log'}"
                    ) from None
                time.sleep(0.1)
        token = (state / "state" / "token").read_text().strip()
        yield (port, token, process.pid) if with_pid else (port, token)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def report(outcomes: list[Outcome], *, verbose: bool) -> int:
    errors = [o for o in outcomes if o.status >= 500]
    silent = [o for o in outcomes if o.status == 0]
    by_kind = collections.Counter(o.kind for o in errors)
    print(f"{len(errors)} of {len(outcomes)} malformed requests got a 5xx answer (target 0)")
    if by_kind:
        print("  5xx by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
    chunked = [o for o in outcomes if o.kind == "chunked-ok"]
    refused = [o for o in chunked if o.status == 400 and b"chunked" in o.body]
    print(
        f"{len(refused)} of {len(chunked)} chunked bodies within the limit were refused "
        "for being chunked (target 0)"
    )
    print(f"{len(silent)} of {len(outcomes)} requests got no HTTP answer")
    if verbose:
        print("answers by kind of case:")
        for kind in sorted({o.kind for o in outcomes}):
            statuses = collections.Counter(o.status for o in outcomes if o.kind == kind)
            shown = ", ".join(f"{status} x{n}" for status, n in sorted(statuses.items()))
            print(f"  {kind:13} {shown}")
        for outcome in errors + silent + refused:
            first = outcome.body.split(b"\n", 1)[0][:160].decode("utf-8", "replace")
            print(f"  {outcome.status} {outcome.route:26} {outcome.case:38} {first}")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every 5xx and non-answer")
    parser.add_argument("--only", help="only routes whose name contains this text")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the server's log to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fioloadgen-probe-") as tmp:
        with server_process(Path(tmp)) as (port, token):
            seed("127.0.0.1", port, token)
            started = time.monotonic()
            outcomes = run_cases("127.0.0.1", port, token, only=args.only)
            others = [] if args.only else run_other("127.0.0.1", port, token)
            elapsed = time.monotonic() - started
        status = report(outcomes, verbose=args.verbose)
        print(f"({len(CASES)} cases x {len(ROUTES)} routes)")
        other_errors = [o for o in others if o.status >= 500 or o.status == 0]
        print(
            f"other routes: {len(other_errors)} of {len(others)} odd paths, query parameters "
            f"and headers got a 5xx or no answer ({len(OTHER_CASES)} cases x "
            f"{len(OTHER_ROUTES)} routes; target 0)"
        )
        if args.verbose:
            for outcome in other_errors:
                first = outcome.body.split(b"\n", 1)[0][:160].decode("utf-8", "replace")
                print(f"  {outcome.status} {outcome.route:34} {outcome.case:34} {first}")
        print(f"{len(outcomes) + len(others)} requests in {elapsed:.1f} s")
        status = status or (1 if other_errors else 0)
        log = (Path(tmp) / "server.log").read_text(errors="replace")
        if args.keep_log:
            Path(args.keep_log).write_text(log)
        tracebacks = log.count("Traceback (most recent call last)")
        print(f"{tracebacks} tracebacks in the server's log")
    return status


if __name__ == "__main__":
    sys.exit(main())
