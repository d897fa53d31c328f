"""The Kubernetes backend: the Backend protocol over the parts of this package.

Deploy: the namespace (ownership, lock: namespace.py), per storage class the objects of
manifests.target_objects, then readiness (readiness.py, on the one watch helper of
watching.py). A run: the client Job (client_job.py). Teardown: the namespace, or only our
objects in a borrowed one, and the leak check.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Sequence
from typing import Any

from ...exceptions import BackendError
from ...fio.results import RunResult
from ...fio.runner import ProgressCallback, WorkerAddress
from ..base import Environment, Worker, first_workers
from . import manifests
from .api import KubeApi, KubeApiError
from .client_job import ClientJob, pod_name_of
from .namespace import Ownership, holder_of
from .options import check_dns_label, is_pattern
from .readiness import is_ready, wait_ready
from .settings import KubernetesSettings


def _name(obj: Any) -> str:
    return str(obj.metadata.name)


class KubernetesBackend:
    """fio workers as pods; targets are storage classes."""

    name = "kubernetes"

    def __init__(
        self, settings: KubernetesSettings, *, session_id: str, keep: bool = False
    ) -> None:
        check_dns_label(settings.namespace, "namespace")
        self.settings = settings
        self.session_id = session_id
        self.keep = keep
        self._api: KubeApi | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            kubeconfig = self.settings.kubeconfig
            self._api = KubeApi(
                kubeconfig=str(kubeconfig) if kubeconfig else None, context=self.settings.context
            )
        return self._api

    @property
    def ready_timeout_s(self) -> float:
        return float(self.settings.ready_timeout)

    @property
    def existing_namespace(self) -> bool:
        return self.settings.existing_namespace

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def ownership(self) -> Ownership:
        return Ownership(
            self.api, self.namespace, self.session_id, borrowed=self.existing_namespace
        )

    # -- deploy ----------------------------------------------------------------------
    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        if not targets:
            raise BackendError("kubernetes backend needs --fio-storageclass (one or more)")
        self.check_storage_classes(targets)
        self.ownership.ensure()
        self.ownership.acquire_lock()
        try:
            claims = self.existing_claims(targets, workers)
            pods: dict[str, list[str]] = {}
            for storage_class in targets:
                given = claims.get(storage_class, ())
                for body in manifests.target_objects(self.settings, storage_class, workers, given):
                    self.apply(body)
                pods[storage_class] = manifests.worker_pods(
                    self.settings, storage_class, workers, given
                )
            self.wait_workers({name for names in pods.values() for name in names})
        except BaseException:
            # The session only tears down what deployed; a half deploy cleans up itself
            # (or, with --fio-keep, leaves what it made for inspection, unlocked).
            with contextlib.suppress(BackendError):
                if self.keep:
                    self.ownership.release_lock()
                else:
                    self.destroy()
            raise
        env = Environment(backend=self.name, workers={})
        for storage_class in targets:
            env.workers[storage_class] = [
                self._worker(storage_class, pod) for pod in pods[storage_class]
            ]
        env.details = {
            "namespace": self.namespace,
            "image": self.settings.image,
            "claims": {sc: list(names) for sc, names in claims.items()},
        }
        return env

    def _worker(self, storage_class: str, pod: str) -> Worker:
        host = manifests.worker_dns_name(storage_class, pod, self.namespace)
        # directory=None: the container's workingDir is the worker's volume (or its own
        # directory of the shared one); a block worker runs on its device.
        device = manifests.DEVICE_PATH if self.settings.block else None
        return Worker(host, WorkerAddress(host, manifests.FIO_PORT), storage_class, None, device)

    def rendered(
        self, targets: Sequence[str], workers: int, claims: dict[str, tuple[str, ...]]
    ) -> list[dict[str, Any]]:
        """Every object deploy creates, in order, without a cluster (``--dry-run``)."""
        objects: list[dict[str, Any]] = []
        if not self.existing_namespace:
            objects.append(manifests.namespace(self.namespace))
        objects.append(manifests.lock(self.namespace, holder_of(self.session_id)))
        for storage_class in targets:
            objects += manifests.target_objects(
                self.settings, storage_class, workers, claims.get(storage_class, ())
            )
        return objects

    def check_storage_classes(self, targets: Sequence[str]) -> None:
        for storage_class in targets:
            try:
                self.api.call(
                    f"read storageclass {storage_class}",
                    self.api.storage.read_storage_class,
                    storage_class,
                )
            except KubeApiError as err:
                if err.status != 404:
                    raise
                known = self.api.call("list storageclasses", self.api.storage.list_storage_class)
                names = ", ".join(sorted(_name(item) for item in known.items)) or "none"
                raise BackendError(
                    f"storage class {storage_class!r} (from --fio-storageclass) does not exist "
                    f"in the cluster (it has: {names})"
                ) from err

    def existing_claims(self, targets: Sequence[str], workers: int) -> dict[str, tuple[str, ...]]:
        """The existing claims (``--fio-existing-pvc`` names or patterns) per target,
        checked against the volume and access modes and the worker count."""
        wanted = self.settings.existing_pvcs
        if not wanted:
            return {}
        listing = self.api.call(
            f"list persistentvolumeclaims in {self.namespace}",
            self.api.core.list_namespaced_persistent_volume_claim,
            self.namespace,
        )
        found = {_name(pvc): pvc for pvc in listing.items}
        chosen: dict[str, Any] = {}
        for name in wanted:
            if is_pattern(name):
                matches = [n for n in sorted(found) if fnmatch.fnmatchcase(n, name)]
                matches = [n for n in matches if found[n].spec.storage_class_name in targets]
                if not matches:
                    raise BackendError(
                        f"no PVC in namespace {self.namespace!r} of storage class "
                        f"{', '.join(targets)} matches {name!r} (from --fio-existing-pvc)"
                    )
                chosen.update({n: found[n] for n in matches})
            elif name not in found:
                raise BackendError(
                    f"PVC {name!r} (from --fio-existing-pvc) does not exist in namespace "
                    f"{self.namespace!r}"
                )
            else:
                chosen[name] = found[name]
        by_target: dict[str, list[str]] = {sc: [] for sc in targets}
        mode = "Block" if self.settings.block else "Filesystem"
        access = "ReadWriteMany" if self.settings.shared else "ReadWriteOnce"
        for name, pvc in sorted(chosen.items()):
            storage_class = pvc.spec.storage_class_name
            if storage_class not in by_target:
                raise BackendError(
                    f"PVC {name!r} (from --fio-existing-pvc) is of storage class "
                    f"{storage_class!r}, not one of the targets ({', '.join(targets)})"
                )
            if (pvc.spec.volume_mode or "Filesystem") != mode:
                raise BackendError(
                    f"PVC {name!r} has volumeMode {pvc.spec.volume_mode or 'Filesystem'}, the "
                    f"deploy needs {mode} (--fio-volume-mode)"
                )
            if access not in (pvc.spec.access_modes or []):
                raise BackendError(
                    f"PVC {name!r} has access modes {', '.join(pvc.spec.access_modes or [])}, "
                    f"the deploy needs {access} (--fio-access-mode)"
                )
            by_target[storage_class].append(name)
        claims: dict[str, tuple[str, ...]] = {}
        for storage_class, names in by_target.items():
            if not names:
                raise BackendError(
                    f"no PVC from --fio-existing-pvc is of storage class {storage_class!r}"
                )
            if self.settings.shared and len(names) > 1:
                raise BackendError(
                    f"storage class {storage_class!r} has {len(names)} existing ReadWriteMany "
                    f"claims ({', '.join(names)}); rwx workers share one"
                )
            if not self.settings.shared and len(names) < workers:
                raise BackendError(
                    f"storage class {storage_class!r} has {len(names)} existing claims "
                    f"({', '.join(names)}), the session needs {workers} workers (one claim each)"
                )
            claims[storage_class] = tuple(names if self.settings.shared else names[:workers])
        return claims

    def apply(self, body: dict[str, Any]) -> None:
        """Create an object; one that exists (left by a --fio-keep session, it is ours) is
        replaced when it is a workload and kept otherwise (claims are immutable, a
        Service or ConfigMap of ours has the same spec)."""
        kind = body["kind"]
        name = body["metadata"]["name"]
        create, replace, read = self._verbs(kind)
        what = f"{kind.lower()} {self.namespace}/{name}"
        try:
            self.api.call(f"create {what}", create, self.namespace, body)
            return
        except KubeApiError as err:
            if err.status != 409 or replace is None or read is None:
                if err.status == 409:
                    return
                raise
        current = self.api.call(f"read {what}", read, name, self.namespace)
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        self.api.call(f"replace {what}", replace, name, self.namespace, body)

    def _verbs(
        self, kind: str
    ) -> tuple[Callable[..., Any], Callable[..., Any] | None, Callable[..., Any] | None]:
        core, apps = self.api.core, self.api.apps
        verbs: dict[str, tuple[Any, Any, Any]] = {
            "StatefulSet": (
                apps.create_namespaced_stateful_set,
                apps.replace_namespaced_stateful_set,
                apps.read_namespaced_stateful_set,
            ),
            "Deployment": (
                apps.create_namespaced_deployment,
                apps.replace_namespaced_deployment,
                apps.read_namespaced_deployment,
            ),
            "Service": (core.create_namespaced_service, None, None),
            "ConfigMap": (core.create_namespaced_config_map, None, None),
            "PersistentVolumeClaim": (
                core.create_namespaced_persistent_volume_claim,
                None,
                None,
            ),
        }
        return verbs[kind]

    def wait_workers(self, wanted: set[str]) -> None:
        # A pod is "<statefulset>-<ordinal>": its owner is named by what it is named.
        owners = sorted({pod.rpartition("-")[0] for pod in wanted})
        wait_ready(
            self.api,
            self.namespace,
            what="workers",
            selector=manifests.WORKER_SELECTOR,
            owners=owners,
            timeout_s=self.ready_timeout_s,
            wanted=wanted,
        )

    # -- running ---------------------------------------------------------------------
    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        """The first ``count`` workers, once their pods are Ready: a pod replaced since
        the last run (deleted, evicted) is waited for, up to the ready timeout."""
        chosen = first_workers(env, target, count)
        wanted = {pod_name_of(worker) for worker in chosen}
        self.wait_workers(wanted)
        return chosen

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
        timeline: bool = False,
        on_start: Callable[[float], None] | None = None,
        lost_ok: frozenset[str] = frozenset(),
    ) -> RunResult:
        result = ClientJob(self.api, self.settings).run(
            job_text,
            workers,
            expected_runtime_s=expected_runtime_s,
            on_progress=on_progress,
            timeline=timeline,
            on_start=on_start,
            lost_ok=lost_ok,
        )
        version = result.raw.get("fio version")
        if version:
            env.details["fio_version"] = str(version)
        return result

    # -- teardown --------------------------------------------------------------------
    def teardown(self, env: Environment) -> None:
        try:
            if self.keep:
                env.kept = True
                self.ownership.release_lock()
                return
            self.destroy()
            self.check_leaks()
        finally:
            self.close()

    def destroy(self, *, force: bool = False, timeout_s: float | None = None) -> bool:
        """Delete our namespace (or our objects in a borrowed one) and wait until gone;
        False when there was nothing."""
        if timeout_s is None:
            return self.ownership.destroy(force=force)
        return self.ownership.destroy(force=force, timeout_s=timeout_s)

    def check_leaks(self) -> None:
        self.ownership.check_leaks()

    # -- for the CLI (status, unlock) and the results server's deploy ------------------
    def read_namespace(self) -> Any | None:
        return self.ownership.read()

    def refuse_foreign(self, namespace: Any, action: str) -> None:
        self.ownership.refuse_foreign(namespace, action)

    def ensure_namespace(self) -> None:
        self.ownership.ensure()

    def acquire_lock(self) -> None:
        self.ownership.acquire_lock()

    def lock_holder(self) -> dict[str, str] | None:
        return self.ownership.lock_holder()

    def release_lock(self) -> None:
        self.ownership.release_lock()

    # -- status and fingerprint ----------------------------------------------------
    def status(self) -> dict[str, tuple[int, int]]:
        """(Ready, desired) workers per storage class in the namespace."""
        sets = self.api.call(
            f"list statefulsets in {self.namespace}",
            self.api.apps.list_namespaced_stateful_set,
            self.namespace,
            label_selector=manifests.WORKER_SELECTOR,
        )
        pods = self.api.call(
            f"list pods in {self.namespace}",
            self.api.core.list_namespaced_pod,
            self.namespace,
            label_selector=manifests.WORKER_SELECTOR,
        ).items
        counts: dict[str, tuple[int, int]] = {}
        for item in sets.items:
            storage_class = str((item.metadata.labels or {}).get(manifests.TARGET_LABEL))
            workload = _name(item)
            ready = sum(
                1
                for pod in pods
                if (pod.metadata.labels or {}).get(manifests.WORKLOAD_LABEL) == workload
                and is_ready(pod)
            )
            had_ready, had_desired = counts.get(storage_class, (0, 0))
            counts[storage_class] = (had_ready + ready, had_desired + int(item.spec.replicas or 0))
        return counts

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        from .facts import cluster_facts, storage_class_facts

        api = self.api
        facts: dict[str, Any] = {
            "backend": self.name,
            # fio runs in the image: its version comes from a run's output when one ran.
            "fio_version": env.details.get("fio_version", f"image {self.settings.image}"),
            "namespace": self.namespace,
            "image": self.settings.image,
            **cluster_facts(api),
        }
        claims = env.details.get("claims", {})
        facts["targets"] = {
            storage_class: {
                "workers": env.capacity(storage_class),
                "pvc_size": self.settings.pvc_size,
                # The volume's shape changes what is measured: part of the history key.
                "volume_mode": self.settings.volume_mode,
                "access_mode": self.settings.access_mode,
                **({"existing_pvcs": claims[storage_class]} if storage_class in claims else {}),
                **storage_class_facts(api, storage_class),
            }
            for storage_class in env.targets
        }
        ceph_targets = {
            name: target
            for name, target in facts["targets"].items()
            if "ceph" in str(target.get("provisioner", ""))
        }
        if ceph_targets:
            from .. import ceph

            facts["ceph"] = ceph.collect(api)
            pools = facts["ceph"].get("pools", {})
            for target in ceph_targets.values():
                # The pool's replication decides performance: part of the history key.
                pool = ceph.pool_of(target.get("parameters", {}))
                if pool is not None and pool in pools:
                    target["ceph_pool"] = pools[pool]
        return facts

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
