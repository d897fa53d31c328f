"""A small client of the results server's REST API (/api/v1), for the CLI and the http store.

It knows where the server is (``--url`` / ``FIO_API_URL``) and the token (``FIO_API_TOKEN``,
``FIO_API_TOKEN_FILE`` or the client config file), verifies an https server's certificate
(against the system's CAs, or a private CA from ``--ca-file`` / ``FIO_API_CA_FILE`` /
``ca_file`` in the client config), retries what is safe to retry, bounds every call with a
timeout, and turns every failure into an ``ApiError`` with one line that names the server
and what went wrong (never the token).
"""

from __future__ import annotations

import json
import math
import os
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .exceptions import FioLoadgenError

#: (connect, read) seconds: long enough for a loaded server, short enough for CI to notice.
DEFAULT_TIMEOUT_S = (5.0, 30.0)
#: Connection failures and 502/503/504 on idempotent calls are retried with backoff.
RETRIES = 3
API_PREFIX = "/api/v1"


class ApiError(FioLoadgenError):
    """The server could not be reached or answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, unreachable: bool = False):
        super().__init__(message)
        self.status = status
        #: No answer at all (refused, timed out), as opposed to an answer that is an error.
        self.unreachable = unreachable


def client_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fioloadgen" / "client.toml"


def _config() -> dict[str, Any]:
    path = client_config_path()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ApiError(f"client config {path}: {err}") from err


def resolve_url(url: str | None) -> str:
    """``--url``, else FIO_API_URL, else ``url`` in the client config; checked."""
    chosen = url or os.environ.get("FIO_API_URL") or str(_config().get("url", "") or "")
    if not chosen:
        raise ApiError(
            "no results server given: pass --url http://HOST:PORT or set FIO_API_URL "
            f"(or url in {client_config_path()})"
        )
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(f"results server URL {chosen!r} must look like http://host:port")
    if parts.username or parts.password:
        raise ApiError(
            f"results server URL for {parts.hostname!r} carries credentials; "
            "pass the token in FIO_API_TOKEN instead"
        )
    return chosen.rstrip("/")


def resolve_token() -> str | None:
    """FIO_API_TOKEN, else the file FIO_API_TOKEN_FILE names, else the client config."""
    token = os.environ.get("FIO_API_TOKEN")
    if token:
        return token.strip()
    token_file = os.environ.get("FIO_API_TOKEN_FILE") or str(_config().get("token_file", "") or "")
    if token_file:
        try:
            return Path(token_file).expanduser().read_text().strip()
        except OSError as err:
            raise ApiError(f"token file {token_file}: {err.strerror or err}") from err
    configured = _config().get("token")
    return str(configured).strip() if configured else None


def resolve_ca_file(ca_file: str | None = None) -> str | None:
    """``--ca-file``, else FIO_API_CA_FILE, else ``ca_file`` in the client config; checked.

    None means the system's trusted CAs. The session ignores REQUESTS_CA_BUNDLE and the
    like (it does not trust the environment: ~/.netrc could replace the token), so this is
    the one way to name a private CA.
    """
    chosen = ca_file or os.environ.get("FIO_API_CA_FILE") or str(_config().get("ca_file") or "")
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise ApiError(f"CA file {chosen} (--ca-file / FIO_API_CA_FILE) is not a readable file")
    return str(path)


def without_non_finite(value: Any) -> Any:
    """Standard JSON has no NaN/Infinity (browsers cannot parse them): those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: without_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_non_finite(item) for item in value]
    return value


def _tls_reason(err: BaseException) -> str:
    """The ssl error's own words ("certificate verify failed: ..."), found through the
    wrappers requests and urllib3 put around it."""
    seen: set[int] = set()
    pending: list[BaseException] = [err]
    while pending:
        cause = pending.pop(0)
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason).lower().replace("_", " ")
        inner = [cause.__cause__, cause.__context__, getattr(cause, "reason", None)]
        inner += list(cause.args)
        pending += [item for item in inner if isinstance(item, BaseException)]
    return str(err)


def encode_json(document: Any) -> bytes:
    return json.dumps(without_non_finite(document), separators=(",", ":"), allow_nan=False).encode()


@dataclass
class ApiClient:
    """Calls /api/v1 on one server."""

    base_url: str
    token: str | None = None
    timeout: tuple[float, float] = DEFAULT_TIMEOUT_S
    retries: int = RETRIES
    #: A PEM bundle of the CA(s) that signed an https server's certificate; None: the
    #: system's. Certificates are always verified.
    ca_file: str | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._session = requests.Session()
        # Never let ~/.netrc replace the token we were given.
        self._session.trust_env = False
        self._session.verify = self.ca_file if self.ca_file else True
        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=0,
            status=self.retries,
            backoff_factor=0.2,
            # A certificate that fails verification fails again: TLS errors ("other"
            # to urllib3) are not retried.
            other=0,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}),
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    @classmethod
    def from_environment(cls, url: str | None = None, ca_file: str | None = None) -> ApiClient:
        return cls(resolve_url(url), resolve_token(), ca_file=resolve_ca_file(ca_file))

    def close(self) -> None:
        self._session.close()

    @staticmethod
    def quote(segment: str) -> str:
        return quote(segment, safe="")

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, str]] | None = None,
        body: Any = None,
        write: bool = False,
        expect: tuple[int, ...] = (200,),
    ) -> requests.Response:
        """One call; ``path`` is below /api/v1. Raises ApiError on anything unexpected."""
        headers = {"Accept": "application/json"}
        if write or self.token:
            if not self.token:
                raise ApiError(
                    "this needs the server's token: set FIO_API_TOKEN (or FIO_API_TOKEN_FILE)"
                )
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = encode_json(body)
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}{API_PREFIX}{path}"
        try:
            response = self._session.request(
                method, url, params=params, data=data, headers=headers, timeout=self.timeout
            )
        except requests.exceptions.SSLError as err:
            # An answer, but not one to trust (or no TLS at all): never "unreachable".
            raise ApiError(
                f"results server {self.base_url}: TLS failed ({_tls_reason(err)}); for a "
                "private CA pass --ca-file FILE or set FIO_API_CA_FILE"
            ) from err
        except requests.Timeout as err:
            raise ApiError(
                f"results server {self.base_url} did not answer in time", unreachable=True
            ) from err
        except requests.ConnectionError as err:
            raise ApiError(
                f"results server {self.base_url} cannot be reached", unreachable=True
            ) from err
        except requests.RequestException as err:
            raise ApiError(f"results server {self.base_url}: {err}") from err
        if response.status_code not in expect:
            raise ApiError(
                f"results server {self.base_url}: {self._message(response)}",
                status=response.status_code,
            )
        return response

    @staticmethod
    def _message(response: requests.Response) -> str:
        try:
            message = response.json().get("message")
        except (ValueError, AttributeError):
            message = None
        return str(message or f"HTTP {response.status_code} {response.reason}")

    def get(self, path: str, **params: Any) -> Any:
        clean = {key: value for key, value in params.items() if value is not None}
        return self.request("GET", path, params=clean).json()

    def send(self, method: str, path: str, body: Any = None, *, expect: int = 200) -> Any:
        response = self.request(method, path, body=body, write=True, expect=(expect,))
        return response.json() if response.content else None
