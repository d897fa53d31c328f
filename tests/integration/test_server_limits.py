"""The results server under hostile clients without a token (issue 19), over real loopback
sockets: slow and silent connections end at their deadline without holding a worker, a
silent TLS client stops no one, bulk reads need the token beyond 100 runs and take a
bounded number of streams, computed reads a bounded pool.

These also guard server/connections.py's use of cheroot's private methods: a cheroot
release that changes them fails here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time

import bottle
import pytest
import requests

from pytest_fioloadgen.apiclient import ApiClient
from tests.conftest import server_config
from tests.integration.test_server_tls import pki  # noqa: F401  (a fixture)
from tests.unit.test_store_contract import make_run

#: server.limits.ANONYMOUS_BULK_RUNS (spelled out: the tests also run against older code).
ANONYMOUS_BULK_RUNS = 100
HEAD_DEADLINE_S = 1.0
REQUEST_DEADLINE_S = 2.0


@pytest.fixture
def limited(start_server, tmp_path):
    """A server with 4 worker threads and short deadlines."""

    def start(**changes):
        config = dataclasses.replace(
            server_config(tmp_path / f"limited{len(list(tmp_path.iterdir()))}"),
            threads=4,
            head_deadline_s=HEAD_DEADLINE_S,
            request_deadline_s=REQUEST_DEADLINE_S,
            **changes,
        )
        return start_server(config=config)

    return start


def _address(live):
    host, _sep, port = live.url.split("://", 1)[1].rpartition(":")
    return host, int(port)


def _answer(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    began = time.monotonic()
    sock.settimeout(timeout)
    received = bytearray()
    while True:
        try:
            data = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not data:
            break
        received += data
    return bytes(received), time.monotonic() - began


def test_slowloris_sockets_get_408_and_never_hold_a_worker(limited):
    live = limited()
    host, port = _address(live)
    sockets = [socket.create_connection((host, port)) for _ in range(8)]  # twice the threads
    stop = threading.Event()

    def drip() -> None:
        line = 0
        while not stop.wait(0.2):
            line += 1
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(f"X-Slow-{line}: a\r\n".encode())

    for sock in sockets:
        sock.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
    dripping = threading.Thread(target=drip, daemon=True)
    dripping.start()
    try:
        began = time.monotonic()
        response = requests.get(live.url + "/api/v1/status", timeout=5)
        assert response.status_code == 200
        assert time.monotonic() - began < 0.5
        for sock in sockets:
            answer, _waited = _answer(sock, HEAD_DEADLINE_S + 2)
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:80]
        assert time.monotonic() - began < HEAD_DEADLINE_S + 1.5
    finally:
        stop.set()
        for sock in sockets:
            sock.close()


def test_a_silent_connection_is_closed_at_the_head_deadline(limited):
    live = limited()
    with socket.create_connection(_address(live)) as sock:
        answer, waited = _answer(sock, HEAD_DEADLINE_S + 5)
    assert answer.startswith(b"HTTP/1.1 408")
    assert HEAD_DEADLINE_S - 0.1 < waited < HEAD_DEADLINE_S + 1.0


def test_a_silent_tls_client_stops_no_other_connection(start_server, pki, tmp_path):  # noqa: F811
    config = dataclasses.replace(
        server_config(tmp_path / "tls"), tls_cert=pki["cert"], tls_key=pki["key"]
    )
    live = start_server(config=config)
    silent = socket.create_connection(_address(live))  # never says hello
    try:
        time.sleep(0.2)
        client = ApiClient(live.url.replace("http://", "https://"), None, ca_file=str(pki["ca"]))
        began = time.monotonic()
        assert client.get("/status")["data"]["version"]
        assert time.monotonic() - began < 2.0  # cheroot's own handshake waited 30 s here
        client.close()
    finally:
        silent.close()


def test_a_body_slower_than_the_request_deadline_gets_408(limited):
    live = limited()
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(
            b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {live.token}\r\n".encode()
            + b"Content-Length: 200000\r\n\r\n"
            + b" " * 1000
        )
        answer, waited = _answer(sock, REQUEST_DEADLINE_S + 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request deadline" in answer
    assert waited < REQUEST_DEADLINE_S + 1.0


def test_a_large_body_without_the_token_is_refused_before_any_worker_reads_it(limited):
    """Refused at once (413) and the connection closed: reading the rest of a body nobody
    will take would let any client hold a worker."""
    live = limited()
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(
            b"POST /api/v1/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n" + b" " * 1000
        )
        answer, waited = _answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"needs the server's token" in answer
    assert waited < 1.0


def test_an_answer_before_the_body_closes_the_connection(limited):
    """With the token a large body goes to a worker; refused before it is read (declared
    as text/plain: 415), the connection is closed, not drained."""
    live = limited()
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(
            b"POST /api/v1/import HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            + f"Authorization: Bearer {live.token}\r\n".encode()
            + b"Content-Length: 10000000\r\n\r\n"
            + b" " * 1000
        )
        answer, waited = _answer(sock, 10)
    assert answer.startswith(b"HTTP/1.1 415"), answer[:200]
    assert waited < 1.0


def test_slow_bodies_without_the_token_never_reach_a_worker(limited):
    """The profile builder takes bodies without the token: eight trickling ones (twice the
    threads) are gathered, not read by workers, and end at the head deadline."""
    live = limited()
    host, port = _address(live)
    body = b'{"pattern": "random", "read_pct": 100}'
    sockets = []
    for chunked in (False, True) * 4:
        sock = socket.create_connection((host, port))
        framing = (
            b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"pat'
            if chunked
            else f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5]
        )
        sock.sendall(
            b"POST /api/v1/profile-builder HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n" + framing
        )
        sockets.append(sock)
    try:
        began = time.monotonic()
        response = requests.get(live.url + "/api/v1/status", timeout=5)
        assert response.status_code == 200 and time.monotonic() - began < 0.5
        for sock in sockets:
            answer, _waited = _answer(sock, HEAD_DEADLINE_S + 2)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        for sock in sockets:
            sock.close()


def test_pipelined_and_100_continue_requests_are_answered(limited):
    live = limited()
    ping = b"GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(ping + ping + ping[:10])
        time.sleep(0.1)
        sock.sendall(ping[10:-2] + b"Connection: close\r\n\r\n")
        answer, _waited = _answer(sock, 5)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    body = json.dumps({"title": "t", "profile": "randread-4k", "workers": 1}).encode()
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {live.token}\r\nExpect: 100-continue\r\n".encode()
            + f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer, _waited = _answer(sock, 5)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    # Without the token the gathering thread says "100 Continue" and takes the body.
    spec = b'{"pattern": "random", "read_pct": 100}'
    with socket.create_connection(_address(live)) as sock:
        sock.sendall(
            b"POST /api/v1/profile-builder HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            + f"Connection: close\r\nContent-Length: {len(spec)}\r\n\r\n".encode()
        )
        sock.settimeout(5)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(spec)
        answer, _waited = _answer(sock, 5)
    assert b"HTTP/1.1 200 OK" in answer, answer[:300]


# -- bulk reads --------------------------------------------------------------------------


def _record(live, count: int) -> None:
    store = live.server.ctx.store
    for number in range(count):
        store.record(make_run(f"bulk-{number:04d}", started_at=1_700_000_000.0 + number, labels={}))


def test_an_anonymous_bulk_read_beyond_100_runs_needs_the_token(limited):
    from fioloadgen_server.limits import ANONYMOUS_BULK_RUNS as documented

    assert documented == ANONYMOUS_BULK_RUNS
    live = limited()
    _record(live, ANONYMOUS_BULK_RUNS + 1)
    anonymous = requests.get(live.url + "/api/v1/export?limit=100000", timeout=30)
    assert anonymous.status_code == 401
    assert "holds more than 100 runs with their fio documents" in anonymous.json()["message"]
    raw = requests.get(live.url + "/api/v1/runs?with_raw=true", timeout=30)
    assert raw.status_code == 401
    few = requests.get(live.url + f"/api/v1/export?limit={ANONYMOUS_BULK_RUNS}", timeout=30)
    assert few.status_code == 200 and len(few.json()["runs"]) == ANONYMOUS_BULK_RUNS
    listing = requests.get(live.url + "/api/v1/runs", timeout=30)  # no documents: no token
    assert listing.status_code == 200 and len(listing.json()["data"]) == 101
    full = requests.get(live.url + "/api/v1/export?limit=100000", headers=live.auth, timeout=30)
    assert full.status_code == 200
    assert full.headers.get("Transfer-Encoding") == "chunked"  # streamed
    document = full.json()
    assert document["format"] == "fioloadgen-runs" and len(document["runs"]) == 101
    assert [run["run_id"] for run in document["runs"]][:2] == ["bulk-0100", "bulk-0099"]
    assert document["runs"][0]["raw"] == make_run().raw
    single = requests.get(live.url + "/api/v1/export?ids=bulk-0001", timeout=30)
    assert single.status_code == 200 and single.json()["runs"][0]["run_id"] == "bulk-0001"
    missing = requests.get(live.url + "/api/v1/export?ids=bulk-0001,nope", timeout=30)
    assert missing.status_code == 404 and "'nope'" in missing.json()["message"]


def test_bulk_reads_beyond_their_streams_get_503_at_once(limited):
    live = limited()  # 4 threads: one bulk stream at a time
    _record(live, 3)
    assert live.server.ctx.streams.total == 1
    release = live.server.ctx.streams.take("a test", with_token=True)
    for headers in ({}, live.auth):
        busy = requests.get(live.url + "/api/v1/export?limit=3", headers=headers, timeout=30)
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "2"
        assert "1 bulk read" in busy.json()["message"]
    release()
    again = requests.get(live.url + "/api/v1/export?limit=3", timeout=30)
    assert again.status_code == 200 and len(again.json()["runs"]) == 3


# -- computed reads ----------------------------------------------------------------------


def test_computed_reads_beyond_the_pool_get_503_at_once():
    from fioloadgen_server.limits import WorkPool

    pool = WorkPool(workers=1, waiting=1, budget_s=10)
    gate = threading.Event()
    answers = []
    holders = [
        threading.Thread(target=lambda: answers.append(pool.run("held", gate.wait)))
        for _ in range(2)
    ]
    for holder in holders:
        holder.start()
    time.sleep(0.2)
    began = time.monotonic()
    with pytest.raises(bottle.HTTPResponse) as refused:
        pool.run("one more", lambda: 1)
    assert time.monotonic() - began < 0.1
    assert refused.value.status_code == 503
    assert refused.value.headers["Retry-After"] == "2"
    assert "one more waits for none of them" in refused.value.body
    gate.set()
    for holder in holders:
        holder.join(5)
    assert answers == [True, True]
    assert pool.run("now", lambda: 7) == 7
    assert all(thread.daemon for thread in pool._threads)
    pool.close()


def test_a_late_computed_read_is_503_and_its_request_thread_goes_free():
    from fioloadgen_server.limits import WorkPool

    pool = WorkPool(workers=1, waiting=0, budget_s=0.2)
    began = time.monotonic()
    with pytest.raises(bottle.HTTPResponse) as late:
        pool.run("a slow read", lambda: time.sleep(0.6))
    assert 0.2 <= time.monotonic() - began < 0.5
    assert late.value.status_code == 503 and "longer than 0.2 s" in late.value.body
    # Its computation still holds the pool until it ends.
    with pytest.raises(bottle.HTTPResponse):
        pool.run("meanwhile", lambda: 1)
    time.sleep(0.6)
    assert pool.run("after", lambda: 2) == 2
    pool.close()


def test_a_compare_of_sets_beyond_the_runs_a_set_may_hold_is_400(limited, monkeypatch):
    from fioloadgen_server import api_v1

    live = limited()
    store = live.server.ctx.store
    for number in range(3):
        store.record(
            make_run(
                f"set-{number}",
                session_id="s-main",
                test_id="tests/test_x.py::test_io",
                labels={"git_branch": "main"},
            )
        )
    monkeypatch.setattr(api_v1, "MAX_SET_RUNS", 2)
    answer = requests.get(
        live.url + "/api/v1/compare/sets",
        params={"a": "git_branch=main", "b": "git_branch=main"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert "is 3 runs; a compare takes at most 2 per set" in answer.json()["message"]
