"""HTTP plumbing shared by the API modules: JSON responses and errors, body limits, auth.

Every error a client can get is a JSON object with a ``message`` (bottle's own 404/405/500
pages included), request bodies are refused above a size limit before they are read, and
writes need the token.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, NoReturn

import bottle

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


def fail(status: int, message: str) -> NoReturn:
    raise bottle.HTTPResponse(
        error_body(status, message), status, {"Content-Type": "application/json"}
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


def read_body(limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (chunked bodies too)."""
    length = bottle.request.content_length
    if length > limit:
        fail(413, f"request body of {length} bytes is larger than the limit of {limit} bytes")
    stream = bottle.request.body
    data: bytes = stream.read(limit + 1)
    if len(data) > limit:
        fail(413, f"request body is larger than the limit of {limit} bytes")
    return data


def json_body(limit: int) -> Any:
    data = read_body(limit)
    if not data:
        fail(400, "request body is empty; send a JSON object")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        fail(400, f"request body is not valid JSON ({err})")


def json_object(limit: int) -> dict[str, Any]:
    document = json_body(limit)
    if not isinstance(document, dict):
        fail(400, "request body must be a JSON object")
    return document


def require_token(token: str) -> None:
    if not token_matches(token, bottle.request.get_header("Authorization")):
        raise bottle.HTTPResponse(
            error_body(401, "this request needs the server's token (Authorization: Bearer TOKEN)"),
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
