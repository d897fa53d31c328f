"""The static backend: fio servers that already run somewhere (``--fio-hosts``).

Nothing is deployed and nothing is torn down. A target here is a directory that exists on
every host (``--fio-target NAME=/mnt/x``); the job runs with ``directory=`` set to it, so
without a target fio works in each server's own working directory.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import BackendError
from ..fio.runner import WorkerAddress
from .base import Environment, RunsClientHere, Worker, first_workers
from .facts import fio_version
from .sandbox import UNCONFINED, Sandbox

DEFAULT_PORT = 8765
CONNECT_TIMEOUT_S = 3.0


def parse_host(spec: str, *, source: str) -> WorkerAddress:
    """``host``, ``host:port`` or ``[v6addr]:port`` -> address; errors name the source."""
    text = spec.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host:
        raise BackendError(f"{source}: empty host in {spec!r}")
    if not port_text:
        return WorkerAddress(host, DEFAULT_PORT)
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise BackendError(f"{source}: port {port_text!r} of host {spec!r} is not a port number")
    return WorkerAddress(host, port)


@dataclass(frozen=True)
class StaticTarget:
    name: str
    directory: str | None = None


class StaticBackend(RunsClientHere):
    """Existing fio servers, reached as they are."""

    name = "static"

    def __init__(
        self,
        hosts: Sequence[WorkerAddress],
        targets: Sequence[StaticTarget],
        *,
        fio_binary: str = "fio",
        sandbox: Sandbox = UNCONFINED,
    ) -> None:
        if not hosts:
            raise BackendError(
                "static backend needs --fio-hosts (or FIO_HOSTS / fio_hosts)", setting="hosts"
            )
        self._hosts = list(hosts)
        self._targets = {target.name: target for target in targets}
        self.fio_binary = fio_binary
        # Only the fio client runs here: the servers are not ours to confine.
        self.sandbox = sandbox

    def _check_reachable(self, addresses: Sequence[WorkerAddress]) -> None:
        for address in addresses:
            try:
                socket.create_connection((address.host, address.port), CONNECT_TIMEOUT_S).close()
            except OSError as err:
                raise BackendError(
                    f"static fio server {address.name} is not reachable: {err.strerror or err}",
                    setting="hosts",
                ) from err

    def preflight(self, targets: Sequence[str], workers: int) -> None:
        """Settings problems, found before the session runs anything."""
        if workers > len(self._hosts):
            raise BackendError(
                f"the cases need {workers} workers but the host list has {len(self._hosts)}",
                setting="hosts",
            )
        unknown = [name for name in targets if name not in self._targets]
        if unknown:
            raise BackendError(
                f"static backend has no target named {unknown[0]!r}", setting="target"
            )
        self._check_reachable(self._hosts)

    def diagnose(self, address: WorkerAddress) -> str:
        try:
            socket.create_connection((address.host, address.port), CONNECT_TIMEOUT_S).close()
        except OSError as err:
            return f"a new TCP connection to it fails ({err.strerror or err})"
        # Something accepted: the server, or a middlebox on the way to a cut host.
        return "a new TCP connection to it is still accepted, but fio gets no answer"

    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        self.preflight(targets, workers)
        env = Environment(backend=self.name, workers={})
        for name in targets:
            directory = self._targets[name].directory
            env.workers[name] = [
                Worker(f"{name}-w{i}", address, name, directory)
                for i, address in enumerate(self._hosts)
            ]
        env.details = {"hosts": [address.name for address in self._hosts]}
        return env

    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        chosen = first_workers(env, target, count)
        self._check_reachable([worker.address for worker in chosen])
        return chosen

    def teardown(self, env: Environment) -> None:
        # The servers are not ours: leave them running.
        return None

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        return {
            "backend": self.name,
            "hosts": env.details.get("hosts", []),
            "confinement": {
                "client": self.sandbox.describe(),
                "workers": "not managed (existing fio servers)",
            },
            "fio_version": fio_version(self.fio_binary),
            "targets": {
                name: {"workers": env.capacity(name), "directory": target.directory}
                for name, target in self._targets.items()
            },
        }
