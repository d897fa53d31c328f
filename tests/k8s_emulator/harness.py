"""Run the emulator on a background thread and hand out a kubeconfig for it.

Used by the test fixtures, the benchmark and ``python -m tests.k8s_emulator``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from .api import ApiServer
from .controllers import Cluster, Config
from .runtime import Runtime

DEFAULT_STORAGE_CLASSES: dict[str, dict[str, Any]] = {
    "standard": {"provisioner": "emulator.fioloadgen.io/hostpath", "parameters": {}},
    "fast": {
        "provisioner": "emulator.fioloadgen.io/hostpath",
        "parameters": {"tier": "fast"},
    },
    # Named like Rook's: the fingerprint adds Ceph facts (here: that no toolbox runs).
    "ceph-rbd": {
        "provisioner": "rook-ceph.rbd.csi.ceph.com",
        "parameters": {"clusterID": "rook-ceph", "pool": "replicapool"},
    },
}


class Emulator:
    """An emulated cluster on 127.0.0.1:<port>, until ``stop``."""

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        storage_classes: dict[str, dict[str, Any]] | None = None,
        nodes: int = 3,
        config: Config | None = None,
        port: int = 0,
        use_netns: bool | None = None,
        prewarm: int = 0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="k8s-emulator-"))
        # Traversable like a node's volume paths: pods may run as any UID (runAsUser).
        self.workdir.chmod(0o755)
        self.config = config or Config()
        runtime = Runtime(self.workdir)
        if use_netns is not None:
            runtime.use_netns = use_netns and runtime.use_netns
        self.runtime = runtime
        self._prewarm = prewarm
        self._storage_classes = storage_classes or DEFAULT_STORAGE_CLASSES
        self._nodes = nodes
        self._port = port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.cluster: Cluster | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coroutine: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def start(self) -> Emulator:
        # Pod starts and process waits run in threads; 256 pods must not queue behind 64.
        self._loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=256))
        self._thread.start()
        self._run(self._start())
        if self._prewarm:
            self.runtime.prewarm(self._prewarm)
        return self

    async def _start(self) -> None:
        server = ApiServer()
        self.cluster = Cluster(server, self.runtime, self.config)
        self.cluster.seed(self._storage_classes, self._nodes)
        self._runner = web.AppRunner(server.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # type: ignore[union-attr]
        self.port = int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._run(self._stop(), timeout=120)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            if self._own_workdir:
                import shutil

                shutil.rmtree(self.workdir, ignore_errors=True)

    async def _stop(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- kubeconfig and control ------------------------------------------------------
    def kubeconfig(self, path: Path, *, context: str = "emulator", token: str = "emulator") -> Path:
        """Write a kubeconfig (JSON is valid YAML) pointing at this emulator; the token is
        the administrator's unless one of ``add_user`` is given."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "emulator", "user": {"token": token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": "emulator", "user": "emulator", "namespace": "default"},
                }
            ],
            "current-context": context,
        }
        path.write_text(json.dumps(document, indent=2))
        return path

    def control(self, what: str, body: dict[str, Any] | None = None, method: str = "POST") -> None:
        request = urllib.request.Request(
            f"{self.url}/_emulator/{what}",
            data=json.dumps(body or {}).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def add_user(self, token: str, user: str, groups: tuple[str, ...] = ()) -> None:
        """Authenticate ``token`` as ``user`` (RBAC decides what it may do: rbac.py)."""
        self.control("users", {"token": token, "user": user, "groups": list(groups)})

    def hold_budget(self, namespace: str, name: str, evictions: int = 1) -> None:
        """Make a PodDisruptionBudget refuse (429) the next ``evictions`` evictions."""
        self.control("pdb", {"namespace": namespace, "name": name, "hold": evictions})

    def fault(self, **rule: Any) -> None:
        """Answer matching requests with an error (see api.Fault for the fields)."""
        self.control("faults", rule)

    def clear_faults(self) -> None:
        self.control("faults", method="DELETE")

    def configure(self, **changes: Any) -> None:
        self.control("config", changes)

    def objects(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        assert self.cluster is not None

        async def read() -> list[dict[str, Any]]:
            assert self.cluster is not None
            return list(self.cluster.store.items(plural, namespace))

        result: list[dict[str, Any]] = self._run(read())
        return result
