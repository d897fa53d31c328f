"""Fixtures shared by the test directories: results servers on ephemeral loopback ports."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_fioloadgen.settings import resolve

# The read-ceiling probe costs each pytester session about a second per target and worker
# count, and this suite runs many short sessions: they skip it unless a test asks for it
# (tests/plugin/test_read_probe.py proves the cache? flag fires with it).
os.environ.setdefault("FIO_READ_PROBE", "off")


@dataclass
class LiveServer:
    url: str
    token: str
    state_dir: Path
    store_path: Path
    server: Any

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def server_config(tmp_path: Path, *, executor: bool = False, **settings: Any) -> Any:
    from fioloadgen_server.config import ServerConfig

    cli = {"runtime": "1", "size": "4m", "workers": "2", **settings}
    return ServerConfig(
        state_dir=tmp_path / "state",
        store_uri=str(tmp_path / "history.db"),
        settings=resolve(rootdir=tmp_path, cli=cli, env={}, ini={}),
        port=0,
        executor=executor,
        threads=8,
    )


@pytest.fixture(scope="session", autouse=True)
def _servers_stopped_before_the_session_ends() -> Iterator[None]:
    """start_server stops its servers in the background; the last of them could still be
    stopping when the session ends, with its worker threads (not daemons) alive."""
    yield
    import sys

    wsgi = sys.modules.get("fioloadgen_server.wsgi")
    if wsgi is not None:
        wsgi.wait_for_stops()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Starts servers (cheroot on a background thread, port 0); stops them afterwards."""
    from fioloadgen_server.wsgi import serving_in_thread

    with ExitStack() as stack:
        count = 0

        def start(*, executor: bool = False, config: Any = None, **settings: Any) -> LiveServer:
            nonlocal count
            count += 1
            base = tmp_path / f"server{count}"
            base.mkdir()
            cfg = config or server_config(base, executor=executor, **settings)
            server = stack.enter_context(serving_in_thread(cfg, join=executor))
            return LiveServer(
                url=f"http://127.0.0.1:{server.port}",
                token=server.ctx.token,
                state_dir=cfg.state_dir,
                store_path=base / "history.db",
                server=server,
            )

        yield start


@pytest.fixture
def http_store_uri(start_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh results server; the http store finds its token in FIO_API_TOKEN."""
    live = start_server()
    monkeypatch.setenv("FIO_API_TOKEN", live.token)
    return live.url
