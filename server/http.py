"""HTTP plumbing shared by the API modules: JSON responses and errors, body limits, auth.

Every error a client can get is a JSON object with a ``message`` (bottle's own 404/405/500
pages included), request bodies are refused above a size limit before they are read, and
writes need the token.
"""

from __future__ import annotations

import collections
import functools
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import bottle
from cheroot.errors import MaxSizeExceeded

from pytest_fioloadgen.apiclient import without_non_finite
from pytest_fioloadgen.exceptions import FioLoadgenError, StoreError

from .auth import token_matches
from .jobsdb import JobError

log = logging.getLogger("fioloadgen_server.http")

Handler = Callable[..., Any]


def dumps(document: Any) -> str:
    """Standard JSON (NaN and infinities become null: browsers cannot parse them)."""
    try:
        return json.dumps(document, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(without_non_finite(document), allow_nan=False, separators=(",", ":"))


def error_body(status: int, message: str) -> str:
    reason = bottle.HTTP_CODES.get(status, "Error")
    return dumps({"status": f"{status} {reason}", "message": message})


def fail(status: int, message: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise bottle.HTTPResponse(
        error_body(status, message), status, {"Content-Type": "application/json", **(headers or {})}
    )


def respond(status: int, document: Any) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(dumps(document), status, {"Content-Type": "application/json"})


class JsonBottle(bottle.Bottle):  # type: ignore[misc]  # bottle is untyped
    """A Bottle whose own error pages (404, 405, 500) are JSON with a message."""

    def default_error_handler(self, res: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        status = res.status_code
        if status >= 500:
            message = "internal server error (see the server's error log)"
            if res.exception is not None:
                log.error("unhandled error: %r", res.exception, exc_info=res.exception)
        elif status == 404:
            message = f"no such resource: {bottle.request.method} {bottle.request.path}"
        elif status == 405:
            message = f"method {bottle.request.method} is not allowed on {bottle.request.path}"
        else:
            message = str(res.body or bottle.HTTP_CODES.get(status, "error"))
        return error_body(status, message)


def json_app() -> bottle.Bottle:
    """A JsonBottle whose handlers' dicts are sent through ``dumps`` (standard JSON)."""
    app = JsonBottle()
    app.config["json.enable"] = True
    app.uninstall(bottle.JSONPlugin)
    app.install(bottle.JSONPlugin(json_dumps=dumps))
    return app


def handled(handler: Handler) -> Handler:
    """Turn the package's errors into JSON answers with the right status."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except bottle.HTTPResponse:
            raise
        except JobError as err:
            fail(err.status, str(err))
        except StoreError as err:
            message = str(err)
            status = 404 if " has no run " in message or " has no baseline " in message else 400
            if "already recorded" in message or "is pinned in baseline" in message:
                status = 409
            fail(status, message)
        except FioLoadgenError as err:
            fail(400, str(err))
        except Exception:
            # Logged with its traceback; the client learns nothing of the internals.
            log.exception("unhandled error in %s %s", bottle.request.method, bottle.request.path)
            fail(500, "internal server error (see the server's error log)")

    return wrapper


#: Deeper documents are refused before they are parsed: json recurses per level (200 000
#: levels raised RecursionError), and nothing the API takes nests beyond ten (fio json+).
MAX_JSON_DEPTH = 64
#: Integers must fit the stores' 64-bit columns (sqlite raises OverflowError beyond).
MAX_JSON_INT = 2**63 - 1
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_RUN = re.compile(r"[\[{]+|[\]}]+")
# A \u escape of a surrogate (after an even run of backslashes, so a real escape): a high
# one with or without its low partner, or a low one alone.
_SURROGATE_ESCAPE = re.compile(
    r"(?<!\\)(?:\\\\)*(?:(?P<high>\\u[dD][89abAB][0-9a-fA-F]{2})"
    r"(?P<low>\\u[dD][c-fC-F][0-9a-fA-F]{2})?|(?P<lone>\\u[dD][c-fC-F][0-9a-fA-F]{2}))"
)


class JsonInputError(ValueError):
    """A request body that is not the JSON the API takes; the message says why."""


def _too_deep(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than ``limit``.

    Strings are cut out with the tokenizer's own rule (up to the next unescaped quote), so
    up to the first syntax error this is the depth json would reach; an unterminated string
    can only make it count more, never less.
    """
    skeleton = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    depth = 0
    for run in _BRACKET_RUN.finditer(skeleton):
        token = run.group()
        if token[0] in "[{":
            depth += len(token)
            if depth > limit:
                return True
        else:
            depth -= len(token)
    return False


def _bounded_int(literal: str) -> int:
    if len(literal) > 20 or abs(value := int(literal)) > MAX_JSON_INT:
        shown = literal if len(literal) <= 24 else f"{literal[:12]}... ({len(literal)} digits)"
        raise JsonInputError(f"integer {shown} is out of range (at most 2**63-1 either way)")
    return value


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        shown = literal if len(literal) <= 24 else literal[:24] + "..."
        raise JsonInputError(f"number {shown} is out of range (numbers must be finite)")
    return value


def _no_constant(name: str) -> NoReturn:
    raise JsonInputError(f"{name} is not a JSON number (standard JSON has no NaN or Infinity)")


def parse_json(data: bytes) -> Any:
    """A request body as JSON, within the bounds above, or JsonInputError naming the problem.

    Strict UTF-8 (RFC 8259), no NaN/Infinity, finite numbers, 64-bit integers, nesting up
    to MAX_JSON_DEPTH and no lone surrogates (sqlite and every file write would fail on them
    later, as a 500). Nothing else ever escapes.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JsonInputError(
            f"request body is not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from err
    if not text.strip():
        raise JsonInputError("request body is empty; send a JSON object")
    if _too_deep(text, MAX_JSON_DEPTH):
        raise JsonInputError(f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels")
    try:
        document = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except JsonInputError as err:
        raise JsonInputError(f"request body: {err}") from err
    except ValueError as err:  # JSONDecodeError, and int()'s 4300-digit limit
        raise JsonInputError(f"request body is not valid JSON ({err})") from err
    if "\\u" in text:
        for escape in _SURROGATE_ESCAPE.finditer(text):
            if escape["lone"] or not escape["low"]:
                which = "lone" if escape["lone"] else "high"
                raise JsonInputError(
                    f"request body has a lone surrogate {escape[which]} at character "
                    f"{escape.start(which)} (not a Unicode character)"
                )
    return document


def header(name: str) -> str | None:
    """A request header as the server received it (latin-1 text, never decoded again).

    bottle's ``get_header`` decodes values as UTF-8 and raised UnicodeDecodeError (a 500)
    on any other bytes; every value we compare is ASCII, so latin-1 loses nothing.
    """
    value: str | None = bottle.request.environ.get("HTTP_" + name.upper().replace("-", "_"))
    return value


def _content_length() -> int | None:
    raw = bottle.request.environ.get("CONTENT_LENGTH", "")
    if raw in ("", None):
        return None
    try:
        length = int(raw)
    except ValueError:
        length = -1
    if length < 0:
        fail(400, f"Content-Length {raw!r} is not a byte count")
    return length


def read_body(limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes.

    Read from the WSGI input itself: cheroot has already decoded a chunked body (it says so
    with ``wsgi.input_terminated``) but leaves Transfer-Encoding in the environ, where
    bottle took it for a body still to de-chunk and refused every chunked body with 400.
    """
    environ = bottle.request.environ
    stream = environ["wsgi.input"]
    length = _content_length()
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and length is not None:
        # Two framings at once is how requests are smuggled past proxies (RFC 9112 6.3).
        fail(400, "request has both Content-Length and Transfer-Encoding: chunked; send one")
    if length is not None and length > limit:
        fail(413, f"request body of {length} bytes is larger than the limit of {limit} bytes")
    if length is None and not (chunked and environ.get("wsgi.input_terminated")):
        return b""
    try:
        data: bytes = stream.read(limit + 1 if length is None else length)
    except MaxSizeExceeded as err:
        raise _too_large(limit) from err
    except ValueError as err:  # cheroot: a chunk size that is not hex, a missing CRLF
        fail(400, f"chunked request body is malformed ({err})")
    except TimeoutError:
        # connections.py: the request's deadline passed while its body was still coming.
        fail(408, "request body was not sent within the server's request deadline")
    except OSError as err:
        # cheroot raises a bare IOError for a chunk announced past its own limit.
        if "too large" in str(err).lower():
            raise _too_large(limit) from err
        fail(400, f"request body could not be read ({err})")
    if len(data) > limit:
        raise _too_large(limit)
    if length is not None and len(data) < length:
        fail(400, f"request body ended after {len(data)} of its {length} bytes (Content-Length)")
    return data


def _too_large(limit: int) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(
        error_body(413, f"request body is larger than the limit of {limit} bytes"),
        413,
        {"Content-Type": "application/json"},
    )


def require_json() -> None:
    """415 unless the body is declared as JSON in UTF-8 (``application/json``)."""
    raw = bottle.request.environ.get("CONTENT_TYPE", "")
    media, _sep, parameters = raw.partition(";")
    if media.strip().lower() != "application/json":
        shown = f"Content-Type {raw[:80]!r}" if raw else "no Content-Type"
        fail(415, f"request body must be JSON: send Content-Type: application/json ({shown})")
    for parameter in parameters.split(";"):
        key, _eq, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            fail(415, f"request body must be UTF-8 JSON, not charset {value.strip()[:40]!r}")


def json_body(limit: int) -> Any:
    require_json()
    try:
        return parse_json(read_body(limit))
    except JsonInputError as err:
        fail(400, str(err))


def json_object(limit: int) -> dict[str, Any]:
    document = json_body(limit)
    if not isinstance(document, dict):
        fail(400, "request body must be a JSON object")
    return document


def has_token(token: str) -> bool:
    """Whether the request carries the server's token."""
    return token_matches(token, header("Authorization"))


def require_token(
    token: str,
    message: str = "this request needs the server's token (Authorization: Bearer TOKEN)",
) -> None:
    if not has_token(token):
        raise bottle.HTTPResponse(
            error_body(401, message),
            401,
            {"Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="fioloadgen"'},
        )


def query(name: str) -> str | None:
    """A query parameter as text (bottle keeps them latin-1 unless asked to decode)."""
    value: str | None = bottle.request.query.getunicode(name)
    if value is None and name in bottle.request.query:
        fail(400, f"query parameter {name} is not valid UTF-8")
    return value


def query_all(name: str) -> list[str]:
    values = bottle.request.query.getall(name)
    try:
        return [value.encode("latin1").decode("utf-8") for value in values]
    except (UnicodeEncodeError, UnicodeDecodeError):
        fail(400, f"query parameter {name} is not valid UTF-8")


def query_params() -> dict[str, list[str]]:
    """Every query parameter with all its values, as text (400 naming one not UTF-8)."""
    return {name: query_all(name) for name in bottle.request.query}


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = query(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        fail(400, f"query parameter {name}={raw!r} is not an integer")
    if not low <= value <= high:
        fail(400, f"query parameter {name}={value} must be from {low} to {high}")
    return value


def query_choice(
    name: str, choices: tuple[str, ...] | list[str], default: str | None
) -> str | None:
    raw = query(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        fail(400, f"query parameter {name}={raw!r} must be one of {', '.join(choices)}")
    return str(raw)


class RateLimiter:
    """A token bucket per client address: ``rate`` requests a second, bursts of ``burst``.

    At most ``max_clients`` addresses are remembered (the least recently seen is forgotten
    first), so a flood of addresses costs bounded memory.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """0.0 when ``client`` may go now (and takes a token), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, stamp = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait


def rate_limit(limiter: RateLimiter, what: str) -> None:
    """429 with Retry-After when this client has used up its share of ``what``."""
    client = str(bottle.request.environ.get("REMOTE_ADDR") or "-")
    wait = limiter.acquire(client)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        fail(
            429,
            f"too many {what} requests from {client} (at most {limiter.rate:g} a second); "
            f"retry in {seconds} s",
            {"Retry-After": str(seconds)},
        )
