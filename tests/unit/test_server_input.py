"""What the results server takes as a request body: strict, bounded JSON with a clear 400,
JSON content types (415), and every header read without a 500 (in-process through WSGI;
chunked bodies and the raw-socket cases are in tests/integration/test_server_probe.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import math

import pytest
from fioloadgen_server.app import build_context, create_app
from fioloadgen_server.http import MAX_JSON_DEPTH, JsonInputError, parse_json
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from tests.conftest import server_config


@pytest.fixture
def ctx(tmp_path):
    context = build_context(server_config(tmp_path))
    yield context
    context.store.close()
    context.jobs.close()


@pytest.fixture
def client(ctx):
    return Client(create_app(ctx))


@pytest.fixture
def auth(ctx):
    return {"Authorization": f"Bearer {ctx.token}"}


def message(response):
    return json.loads(response.get_data(as_text=True))["message"]


# -- parse_json: one line naming the problem -------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 200_000 + b"]" * 200_000, f"deeper than {MAX_JSON_DEPTH} levels"),
        (b'{"a":' * 65 + b"1" + b"}" * 65, f"deeper than {MAX_JSON_DEPTH} levels"),
        (b"[" * 200_000, f"deeper than {MAX_JSON_DEPTH} levels"),  # truncated, still refused
        (b'{"workers": 1e999999}', "number 1e999999 is out of range"),
        (b'{"t": -1e999999}', "number -1e999999 is out of range"),
        (b'{"workers": NaN}', "NaN is not a JSON number"),
        (b"[Infinity]", "Infinity is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
        (b"[18446744073709551616]", "integer 18446744073709551616 is out of range"),
        (b"[-9223372036854775809]", "is out of range"),
        (b"[" + b"9" * 5000 + b"]", "(5000 digits) is out of range"),
        (b'{"title": "\\ud800"}', "lone surrogate \\ud800 at character 11"),
        (b'{"title": "x\\udc00"}', "lone surrogate \\udc00"),
        (b'["\\ud83d"]', "lone surrogate \\ud83d"),
        (b'{"title": "\xff"}', "not UTF-8 (byte 0xff at offset 11)"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),  # a BOM: RFC 8259 forbids it
        ('{"a": 1}'.encode("utf-16"), "not UTF-8"),
        (b'{"title": "x', "not valid JSON"),
        (b'{"a": 1} x', "not valid JSON (Extra data"),
        (b"", "empty"),
        (b" \n\t", "empty"),
    ],
)
def test_bad_bodies_are_refused_with_the_reason(body, expected):
    with pytest.raises(JsonInputError) as caught:
        parse_json(body)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b'["\\\\ud800"]', ["\\ud800"]),  # an escaped backslash, then text: no surrogate
        (b'["\\ud83d\\ude00"]', ["\U0001f600"]),  # a proper pair
        (b'{"a": [1.5, -0, 9223372036854775807, -9223372036854775807, 1e308]}', None),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
        (b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', None),
        (b'["a\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', None),
    ],
)
def test_good_bodies_within_the_bounds_are_taken(body, value):
    parsed = parse_json(body)
    assert parsed == (value if value is not None else json.loads(body))


# Only our error type ever escapes, whatever the bytes.
@settings(max_examples=400, deadline=None, database=None)
@given(
    st.binary(max_size=200)
    | st.text(alphabet='[]{}"\\:,01eE.-+ nultraufsNIy\ud800').map(
        lambda text: text.encode("utf-8", "surrogatepass")
    )
)
def test_only_json_input_errors_escape(data):
    with contextlib.suppress(JsonInputError):
        parse_json(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


# Everything standard JSON within the bounds comes back as it was sent.
@settings(max_examples=300, deadline=None, database=None)
@given(json_values)
def test_documents_within_the_bounds_round_trip(document):
    text = json.dumps(document, ensure_ascii=False)
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return  # hypothesis text may hold lone surrogates: refused, tested above
    parsed = parse_json(text.encode("utf-8"))
    assert json.dumps(parsed, sort_keys=True) == json.dumps(document, sort_keys=True)
    if isinstance(document, float):
        assert math.isfinite(parsed)


# -- content types (415) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_json_routes_want_json(client, auth, content_type):
    headers = dict(auth)
    if content_type:
        headers["Content-Type"] = content_type
    body = b'{"profile": "randread-4k", "workers": 1, "title": "t"}'
    response = client.post("/api/v1/jobs", data=body, headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in message(response) or "UTF-8" in message(response)
    assert response.content_type == "application/json"


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", "application/json;x=1"]
)
def test_json_with_parameters_is_json(client, auth, content_type):
    body = b'{"profile": "randread-4k", "workers": 1, "title": "t"}'
    response = client.post(
        "/api/v1/jobs", data=body, headers={**auth, "Content-Type": content_type}
    )
    assert response.status_code == 202


def test_a_bad_body_is_one_line_naming_the_problem(client, auth):
    response = client.post(
        "/api/v1/jobs",
        data=b'{"profile": "randread-4k", "workers": 1e999999, "title": "t"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert message(response) == (
        "request body: number 1e999999 is out of range (numbers must be finite)"
    )


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"workers": "\u0661"}, "not an integer"),
        ({"workers": " 1"}, "not an integer"),
        ({"workers": 1.0}, "must be an integer"),
        ({"workers": True}, "must be an integer"),
    ],
)
def test_counts_are_plain_integers(client, auth, fields, text):
    payload = {"profile": "randread-4k", "workers": 1, "title": "t", **fields}
    response = client.post("/api/v1/jobs", json=payload, headers=auth)
    assert response.status_code == 400
    assert text in message(response)


@pytest.mark.parametrize("workers", [1.5, True, "1.0", "\u0661", [1]])
def test_legacy_workers_are_whole_numbers(client, auth, workers):
    body = {"title": "t", "workers": workers, "storageclass": "local"}
    response = client.post("/api/job/randread-4k", json=body, headers=auth)
    assert response.status_code == 400
    assert "whole number" in message(response)


# -- headers: never decoded into a 500 -------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic \xe9\xe9"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()},
        {"Origin": "\xc3"},
        {"Authorization": "Bearer \xff", "Origin": "http://\xe9"},
    ],
)
def test_headers_that_are_not_utf8_are_no_server_error(client, headers):
    for method, path in (("GET", "/api/v1/status"), ("DELETE", "/api/v1/jobs/x"), ("GET", "/")):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code < 500, (method, path, response.status_code)
    assert client.delete("/api/v1/jobs/x", headers=headers).status_code == 401
