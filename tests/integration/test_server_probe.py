"""Malformed requests over real loopback sockets (cheroot's own framing included): never a
5xx, chunked bodies taken within the limit and refused beyond it.

The cases are benchmarks/server_input_probe.py's (the script prints the same figures
against a server in its own process)."""

from __future__ import annotations

import collections

import pytest
import requests

from benchmarks import server_input_probe as probe


def _host_port(live):
    host, _sep, port = live.url.removeprefix("http://").rpartition(":")
    return host, int(port)


@pytest.mark.slow
def test_the_probe_gets_no_5xx_and_each_kind_its_answer(start_server):
    live = start_server()
    host, port = _host_port(live)
    probe.seed(host, port, live.token)
    outcomes = probe.run_cases(host, port, live.token)
    assert len(outcomes) == 640
    assert [(o.route, o.case, o.status) for o in outcomes if o.status >= 500 or not o.status] == []
    assert [o for o in outcomes if o.status == 429] == []  # each from its own address
    by_kind = collections.defaultdict(set)
    for outcome in outcomes:
        by_kind[outcome.kind].add(outcome.status)
    assert by_kind["chunked-ok"] <= {200, 201, 202}
    assert by_kind["chunked-bad"] == {400}
    assert by_kind["size"] == {413}
    assert by_kind["syntax"] == {400}
    assert by_kind["encoding"] == {400}
    assert by_kind["depth"] <= {400, 413}  # 413: 200 000 levels of objects exceed 1 MB
    for outcome in outcomes:
        if outcome.kind == "content-type" and "JSON" not in outcome.case:
            assert outcome.status == 415, outcome
        if outcome.kind == "depth" and outcome.status == 400:
            assert b"deeper than 64 levels" in outcome.body, outcome
        if outcome.case == "chunked, sent past the route's limit":
            assert outcome.status == 413, outcome
    others = probe.run_other(host, port, live.token)
    assert [(o.route, o.case, o.status) for o in others if o.status >= 500 or not o.status] == []


def test_chunked_bodies_are_taken_within_the_limit(start_server):
    live = start_server()
    body = b'{"profile": "randread-4k", "workers": 1, "title": "chunked"}'
    # A generator body: requests sends it with Transfer-Encoding: chunked.
    response = requests.post(
        live.url + "/api/v1/jobs",
        data=(body[i : i + 7] for i in range(0, len(body), 7)),
        headers={**live.auth, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"]["title"] == "chunked"


def test_chunked_bodies_beyond_the_limit_are_413(start_server):
    live = start_server()
    limit = live.server.config.max_body
    chunk = b" " * 65536
    response = requests.post(
        live.url + "/api/v1/jobs",
        data=(chunk for _ in range(limit // len(chunk) + 2)),
        headers={**live.auth, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert f"limit of {limit} bytes" in response.json()["message"]


def test_a_transfer_coding_other_than_chunked_is_400_naming_it(start_server):
    live = start_server()
    host, port = _host_port(live)
    request = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        "Transfer-Encoding: gzip\r\nContent-Type: application/json\r\n\r\n{}"
    ).encode()
    status, body = probe.send(host, port, request)
    assert status == 400
    assert b"Transfer-Encoding must be chunked" in body


def test_a_body_shorter_than_its_content_length_is_400(start_server):
    live = start_server()
    host, port = _host_port(live)
    request = (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Authorization: Bearer {live.token}\r\nContent-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{"title": "x"}'
    ).encode()
    status, body = probe.send(host, port, request)  # then half-closes: the body ends
    assert status == 400
    assert b"ended after 14 of its 100 bytes" in body
