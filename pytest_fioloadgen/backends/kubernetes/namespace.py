"""Who owns the namespace, the deploy lock in it, and what must be gone after teardown.

Ownership: everything we create carries ``app.kubernetes.io/managed-by=pytest-fioloadgen``.
A namespace we created carries it too, and only such a namespace is ever deleted
(FIOLoadGen's ``fiodeploy -d`` deleted any namespace it was given). A namespace the user
owns can be *borrowed* (``--fio-existing-namespace``): it must exist, it is never created
or deleted, and teardown deletes only the objects carrying our label, so the user's own
PVCs and workloads in it are never touched.

The lock: a ConfigMap ``fioloadgen-lock`` (creating a named object is atomic, so one of two
concurrent deploys wins) naming the session, host and pid that holds it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...exceptions import BackendError
from . import manifests
from .api import KubeApi, KubeApiError
from .watching import follow

DELETE_TIMEOUT_S = 300.0


def _name(obj: Any) -> str:
    return str(obj.metadata.name)


def _owned_listers(api: KubeApi) -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(kind, list, delete) of every namespaced kind this backend creates."""
    core, apps, batch = api.core, api.apps, api.batch
    return [
        ("statefulset", apps.list_namespaced_stateful_set, apps.delete_namespaced_stateful_set),
        ("deployment", apps.list_namespaced_deployment, apps.delete_namespaced_deployment),
        ("job", batch.list_namespaced_job, batch.delete_namespaced_job),
        ("service", core.list_namespaced_service, core.delete_namespaced_service),
        ("configmap", core.list_namespaced_config_map, core.delete_namespaced_config_map),
        ("pod", core.list_namespaced_pod, core.delete_namespaced_pod),
        (
            "persistentvolumeclaim",
            core.list_namespaced_persistent_volume_claim,
            core.delete_namespaced_persistent_volume_claim,
        ),
    ]


def holder_of(session_id: str) -> dict[str, str]:
    """What the lock says about the session holding it."""
    return {
        "session": session_id,
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class Ownership:
    """The namespace of one backend: created and deleted by us, or borrowed."""

    api: KubeApi
    name: str
    session_id: str
    #: The user's namespace: never created or deleted, only our objects in it are.
    borrowed: bool = False

    # -- the namespace ---------------------------------------------------------------
    def read(self) -> Any | None:
        try:
            return self.api.call(
                f"read namespace {self.name}", self.api.core.read_namespace, self.name
            )
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise

    def refuse_foreign(self, namespace: Any, action: str) -> None:
        if self.borrowed:
            return
        labels = namespace.metadata.labels or {}
        if labels.get(manifests.OWNER_LABEL) != manifests.OWNER_VALUE:
            raise BackendError(
                f"refusing to {action} namespace {self.name!r}: it has no label "
                f"{manifests.OWNED_SELECTOR}, so pytest-fioloadgen did not create it "
                "(choose another --fio-namespace, or pass --fio-existing-namespace to deploy "
                "into a namespace you own without ever deleting it)"
            )

    def ensure(self) -> None:
        """The namespace exists and may be used: created when missing (unless borrowed)."""
        existing = self.read()
        if self.borrowed:
            if existing is None:
                raise BackendError(
                    f"namespace {self.name!r} does not exist (--fio-existing-namespace deploys "
                    "into a namespace you created; drop it to let pytest-fioloadgen create one)"
                )
            return
        if existing is not None:
            self.refuse_foreign(existing, "deploy into")
            if existing.status is not None and existing.status.phase == "Terminating":
                self.wait_gone(DELETE_TIMEOUT_S)
                existing = None
        if existing is None:
            try:
                self.api.call(
                    f"create namespace {self.name}",
                    self.api.core.create_namespace,
                    manifests.namespace(self.name),
                )
            except KubeApiError as err:
                if err.status != 409:
                    raise
                # Created meanwhile by someone else: only use it if it is ours.
                again = self.read()
                if again is not None:
                    self.refuse_foreign(again, "deploy into")

    def destroy(self, *, force: bool = False, timeout_s: float = DELETE_TIMEOUT_S) -> bool:
        """Delete our namespace (or, borrowed, our objects in it) and wait until gone;
        False when there was nothing. Refuses a namespace without our label, and one
        locked by another session unless ``force`` (a stale lock)."""
        existing = self.read()
        if existing is None:
            return False
        self.refuse_foreign(existing, "delete")
        held = self.lock_holder()
        if held and held.get("session") != self.session_id and not force:
            raise BackendError(
                f"namespace {self.name!r} is in use by session {held.get('session')} on "
                f"{held.get('host')} since {held.get('since')}; pass --force to delete it "
                "anyway (a lock left by a killed session)"
            )
        if self.borrowed:
            return self._delete_owned(timeout_s)
        try:
            self.api.call(
                f"delete namespace {self.name}",
                self.api.core.delete_namespace,
                self.name,
                propagation_policy="Foreground",
            )
        except KubeApiError as err:
            if err.status != 404:
                raise
        self.wait_gone(timeout_s)
        return True

    def _delete_owned(self, timeout_s: float) -> bool:
        """Our objects in a borrowed namespace, owners first (their pods go with them)."""
        deleted = False
        for kind, lister, delete in _owned_listers(self.api):
            found = self.api.call(
                f"list {kind}s in {self.name}",
                lister,
                self.name,
                label_selector=manifests.OWNED_SELECTOR,
            )
            for item in found.items:
                deleted = True
                with contextlib.suppress(KubeApiError):
                    self.api.call(
                        f"delete {kind} {self.name}/{_name(item)}",
                        delete,
                        _name(item),
                        self.name,
                        propagation_policy="Background",
                    )
        self._wait_owned_pods_gone(timeout_s)
        return deleted

    def _wait_owned_pods_gone(self, timeout_s: float) -> None:
        for change in follow(
            self.api,
            f"pods in {self.name}",
            self.api.core.list_namespaced_pod,
            deadline=time.monotonic() + timeout_s,
            namespace=self.name,
            label_selector=manifests.OWNED_SELECTOR,
        ):
            if not change.objects:
                return
        raise BackendError(
            f"pods of pytest-fioloadgen in namespace {self.name!r} still exist {timeout_s:.0f} "
            "s after deleting them"
        )

    def wait_gone(self, timeout_s: float) -> None:
        for change in follow(
            self.api,
            f"namespace {self.name}",
            self.api.core.list_namespace,
            deadline=time.monotonic() + timeout_s,
            field_selector=f"metadata.name={self.name}",
        ):
            if self.name not in change.objects:
                return
        raise BackendError(
            f"namespace {self.name!r} still exists {timeout_s:.0f} s after deleting it (a "
            "finalizer is holding it?)"
        )

    def check_leaks(self) -> None:
        """Fail loudly when anything of ours survived teardown."""
        leaks: list[str] = []
        if not self.borrowed and self.read() is not None:
            leaks.append(f"namespace {self.name}")
        for kind, lister, _delete in _owned_listers(self.api):
            if kind in ("service", "configmap", "statefulset") and not self.borrowed:
                continue  # gone with the namespace when it is; pods and claims tell
            found = self.api.call(
                f"list {kind}s in {self.name}",
                lister,
                self.name,
                label_selector=manifests.OWNED_SELECTOR,
            )
            leaks += [f"{kind} {self.name}/{_name(item)}" for item in found.items]
        if leaks:
            raise BackendError(
                f"teardown left {len(leaks)} objects behind: {', '.join(leaks[:5])}"
                + (" ..." if len(leaks) > 5 else "")
            )

    # -- the lock --------------------------------------------------------------------
    def holder(self) -> dict[str, str]:
        return holder_of(self.session_id)

    def acquire_lock(self) -> None:
        try:
            self.api.call(
                f"create configmap {self.name}/{manifests.LOCK_NAME}",
                self.api.core.create_namespaced_config_map,
                self.name,
                manifests.lock(self.name, self.holder()),
            )
        except KubeApiError as err:
            if err.status != 409:
                raise
            held = self.lock_holder() or {}
            raise BackendError(
                f"namespace {self.name!r} is locked by another deploy (session "
                f"{held.get('session', '?')} on {held.get('host', '?')} pid "
                f"{held.get('pid', '?')} since {held.get('since', '?')}); if that session is "
                f"gone, clear the lock with: fioloadgen unlock --namespace {self.name}"
            ) from err

    def lock_holder(self) -> dict[str, str] | None:
        try:
            lock = self.api.call(
                f"read configmap {self.name}/{manifests.LOCK_NAME}",
                self.api.core.read_namespaced_config_map,
                manifests.LOCK_NAME,
                self.name,
            )
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise
        return dict(lock.data or {})

    def release_lock(self) -> None:
        with contextlib.suppress(KubeApiError):
            self.api.call(
                f"delete configmap {self.name}/{manifests.LOCK_NAME}",
                self.api.core.delete_namespaced_config_map,
                manifests.LOCK_NAME,
                self.name,
            )
