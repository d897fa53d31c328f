"""Where the server keeps its state and how it is configured.

The state directory (``--state-dir``, else FIO_SERVER_STATE_DIR, else
``$XDG_STATE_HOME/fioloadgen-server``, else ``~/.local/state/fioloadgen-server``) holds:

* ``token``      the API token for writes (mode 0600, created on first start)
* ``server.db``  the job queue and the server's own profiles (sqlite)
* ``server.pid`` the daemon's pid file (``fioloadgen server start``)
* ``error.log``, ``access.log`` the daemon's logs
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pytest_fioloadgen.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Ordinary requests (profiles, jobs) are small; job files are a few KB.
DEFAULT_MAX_BODY = 1024 * 1024
#: A run with its fio json+ document, or an import of many runs.
DEFAULT_MAX_BULK_BODY = 64 * 1024 * 1024
#: Few threads: requests are short and CPU-bound, more threads only contend for the GIL.
DEFAULT_THREADS = 10
#: A request's line and headers (and a small body) must arrive within this many seconds
#: of its first byte (of the connection, for its first request): slowloris clients end.
DEFAULT_HEAD_DEADLINE_S = 10.0
#: A whole request, a large body included, must arrive within this many seconds.
DEFAULT_REQUEST_DEADLINE_S = 120.0
#: Jobs may ask for up to this many workers per target unless serve --max-workers says.
DEFAULT_MAX_WORKERS = 16
#: History keys ``/metrics`` exports at most (server.metrics): 2,000 keys of 5 gated
#: metrics are about 40,000 series, as much as one Prometheus target should carry.
DEFAULT_METRICS_MAX_KEYS = 2000


def default_state_dir() -> Path:
    explicit = os.environ.get("FIO_SERVER_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fioloadgen-server"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the app, the executor and the daemon need."""

    state_dir: Path
    store_uri: str
    settings: Settings
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Origins allowed to call the API from a browser; empty = CORS off.
    cors_origins: tuple[str, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    max_bulk_body: int = DEFAULT_MAX_BULK_BODY
    threads: int = DEFAULT_THREADS
    head_deadline_s: float = DEFAULT_HEAD_DEADLINE_S
    request_deadline_s: float = DEFAULT_REQUEST_DEADLINE_S
    #: PEM certificate (chain) and private key: HTTPS through cheroot's built-in adapter.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Serve plain HTTP on a non-loopback address anyway (the token then crosses the
    #: network in clear; FIOLoadGen 1.5's fiocli can speak nothing else).
    insecure: bool = False
    #: The most workers per target a job may ask for: the executor deploys on demand.
    max_workers: int = DEFAULT_MAX_WORKERS
    #: The most history keys ``/metrics`` exports (the keys with the newest runs).
    metrics_max_keys: int = DEFAULT_METRICS_MAX_KEYS
    #: Start the job executor (tests of the API alone leave it off).
    executor: bool = True
    debug: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    @property
    def token_path(self) -> Path:
        return self.state_dir / "token"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "server.db"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "server.pid"

    @property
    def error_log(self) -> Path:
        return self.state_dir / "error.log"

    @property
    def access_log(self) -> Path:
        return self.state_dir / "access.log"
