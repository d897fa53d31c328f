"""The Kubernetes backend: a StatefulSet of ``fio --server`` pods per storage class.

Deploy creates, in a namespace labelled as ours, one headless Service and one StatefulSet
per storage class (``podManagementPolicy: Parallel``, a PVC per worker from a
volumeClaimTemplate on that class) and waits for readiness with a watch.

Where the fio client runs: a run is a ConfigMap (the job file and the host list) and a
batch/v1 Job whose one pod runs ``fio --client=/job/hosts /job/job.fio
--output-format=json+``; the pod's log is fio's output. A Job rather than exec into a
long-lived manager pod because: exec needs a streaming (SPDY/WebSocket) connection held
open for the whole run, which proxies and idle timeouts cut; a Job's log outlives a
dropped client connection; it needs no extra RBAC for pods/exec and no pod that sits idle
for the session; and its exit status is in the pod status rather than parsed from a stream.
The host list holds the workers' stable DNS names through the headless Service, so fio
resolves them inside the cluster at the moment it runs: a restarted pod with a new IP is
found, never a stale address captured at deploy time.

The results server (``fioloadgen deploy --with-server``): a Deployment of one
``fioloadgen serve`` pod (strategy Recreate: never two pods on the one sqlite file), a
ClusterIP Service and a PVC holding its store and state dir (the token), so the history
survives pod restarts and redeploys; reached with ``kubectl port-forward``.

Ownership: everything carries ``app.kubernetes.io/managed-by=pytest-fioloadgen``;
teardown deletes the namespace only when it carries that label, and says why otherwise.
A ConfigMap ``fioloadgen-lock`` (creation is atomic) keeps two sessions from deploying into
the same namespace at once; ``fioloadgen unlock --namespace NS`` (or ``kubectl -n NS delete
configmap fioloadgen-lock``) clears one left by a session that was killed outright.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from typing import Any

from ..exceptions import BackendError, ResultError
from ..fio.results import RunResult, split_output
from ..fio.runner import DEFAULT_SLACK_S, FioInvocation, ProgressCallback, WorkerAddress
from ..fio.runner import check_invocation as check_fio_invocation
from . import k8s_manifests as manifests
from .base import Environment, Worker, first_workers
from .k8s_api import KubeApi, KubeApiError
from .k8s_readiness import (
    Cause,
    event_causes,
    is_ready,
    pod_cause,
    pvc_causes,
    summarize,
)

DEFAULT_READY_TIMEOUT_S = 300.0
DELETE_TIMEOUT_S = 300.0
#: How long one watch request lasts before the wait re-checks what pods cannot show.
WATCH_CHUNK_S = 2.0
#: Time for the client pod to be scheduled and started, on top of fio's own runtime.
CLIENT_START_S = 120.0
#: How often a run's wait looks at events for a refused client pod.
EVENT_CHECK_S = 3.0
WORKER_SELECTOR = f"{manifests.OWNED_SELECTOR},{manifests.COMPONENT_LABEL}=worker"
SERVER_SELECTOR = f"{manifests.OWNED_SELECTOR},{manifests.COMPONENT_LABEL}=server"
#: How often the results server's readiness is looked at (one pod: a list is cheap).
SERVER_POLL_S = 0.5


def _name(obj: Any) -> str:
    return str(obj.metadata.name)


class KubernetesBackend:
    """fio workers as pods; targets are storage classes."""

    name = "kubernetes"

    def __init__(
        self,
        spec: manifests.WorkerSpec,
        *,
        session_id: str,
        kubeconfig: str | None = None,
        context: str | None = None,
        keep: bool = False,
        ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S,
    ) -> None:
        manifests.check_dns_label(spec.namespace, "namespace")
        self.spec = spec
        self.session_id = session_id
        self._kubeconfig = kubeconfig
        self._context = context
        self.keep = keep
        self.ready_timeout_s = ready_timeout_s
        self._api: KubeApi | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            self._api = KubeApi(kubeconfig=self._kubeconfig, context=self._context)
        return self._api

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    # -- deploy ----------------------------------------------------------------------
    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        if not targets:
            raise BackendError("kubernetes backend needs --fio-storageclass (one or more)")
        self.check_storage_classes(targets)
        self.ensure_namespace()
        self.acquire_lock()
        try:
            for storage_class in targets:
                self._apply(
                    "service",
                    manifests.headless_service(self.spec, storage_class),
                    self.api.core.create_namespaced_service,
                    self.api.core.replace_namespaced_service,
                    self.api.core.read_namespaced_service,
                )
                self._apply(
                    "statefulset",
                    manifests.statefulset(self.spec, storage_class, workers),
                    self.api.apps.create_namespaced_stateful_set,
                    self.api.apps.replace_namespaced_stateful_set,
                    self.api.apps.read_namespaced_stateful_set,
                )
            self.wait_ready(targets, workers)
        except BaseException:
            # The session only tears down what deployed; a half deploy cleans up itself
            # (or, with --fio-keep, leaves what it made for inspection, unlocked).
            with contextlib.suppress(BackendError):
                if self.keep:
                    self.release_lock()
                else:
                    self.destroy()
            raise
        env = Environment(backend=self.name, workers={})
        for storage_class in targets:
            env.workers[storage_class] = [
                self._worker(storage_class, ordinal) for ordinal in range(workers)
            ]
        env.details = {"namespace": self.namespace, "image": self.spec.image}
        return env

    def _worker(self, storage_class: str, ordinal: int) -> Worker:
        host = manifests.worker_dns_name(storage_class, ordinal, self.namespace)
        # directory=None: the container's workingDir is the worker's PVC.
        return Worker(host, WorkerAddress(host, manifests.FIO_PORT), storage_class, None)

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

    def read_namespace(self) -> Any | None:
        try:
            return self.api.call(
                f"read namespace {self.namespace}", self.api.core.read_namespace, self.namespace
            )
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise

    def refuse_foreign(self, namespace: Any, action: str) -> None:
        labels = namespace.metadata.labels or {}
        if labels.get(manifests.OWNER_LABEL) != manifests.OWNER_VALUE:
            raise BackendError(
                f"refusing to {action} namespace {self.namespace!r}: it has no label "
                f"{manifests.OWNED_SELECTOR}, so pytest-fioloadgen did not create it "
                "(choose another --fio-namespace)"
            )

    def ensure_namespace(self) -> None:
        existing = self.read_namespace()
        if existing is not None:
            self.refuse_foreign(existing, "deploy into")
            if existing.status is not None and existing.status.phase == "Terminating":
                self._wait_namespace_gone(DELETE_TIMEOUT_S)
                existing = None
        if existing is None:
            try:
                self.api.call(
                    f"create namespace {self.namespace}",
                    self.api.core.create_namespace,
                    manifests.namespace(self.namespace),
                )
            except KubeApiError as err:
                if err.status != 409:
                    raise
                # Created meanwhile by someone else: only use it if it is ours.
                again = self.read_namespace()
                if again is not None:
                    self.refuse_foreign(again, "deploy into")

    def _apply(self, kind: str, body: dict[str, Any], create: Any, replace: Any, read: Any) -> None:
        name = body["metadata"]["name"]
        what = f"{kind} {self.namespace}/{name}"
        try:
            self.api.call(f"create {what}", create, self.namespace, body)
            return
        except KubeApiError as err:
            if err.status != 409:
                raise
        # Left by a --fio-keep session: take it over (it is ours) with the new spec.
        current = self.api.call(f"read {what}", read, name, self.namespace)
        body["metadata"]["resourceVersion"] = current.metadata.resource_version
        self.api.call(f"replace {what}", replace, name, self.namespace, body)

    # -- the results server ----------------------------------------------------------
    def deploy_server(self, server: manifests.ServerSpec) -> None:
        """The results server (PVC, Deployment, Service) in the namespace, until Ready.

        An existing PVC is kept: a redeploy finds the history of the previous one. On a
        failure what was made stays for inspection (``fioloadgen destroy`` removes it).
        """
        objects = manifests.server_objects(server)
        if server.storage_class is not None:
            self.check_storage_classes([server.storage_class])
        self.ensure_namespace()
        self.acquire_lock()
        core, apps = self.api.core, self.api.apps
        try:
            pvc, deployment, service = objects
            self._create_or_keep(
                "persistentvolumeclaim", pvc, core.create_namespaced_persistent_volume_claim
            )
            self._apply(
                "deployment",
                deployment,
                apps.create_namespaced_deployment,
                apps.replace_namespaced_deployment,
                apps.read_namespaced_deployment,
            )
            self._create_or_keep("service", service, core.create_namespaced_service)
            self.wait_server_ready()
        finally:
            self.release_lock()

    def _create_or_keep(self, kind: str, body: dict[str, Any], create: Any) -> None:
        name = body["metadata"]["name"]
        try:
            self.api.call(f"create {kind} {self.namespace}/{name}", create, self.namespace, body)
        except KubeApiError as err:
            if err.status != 409:
                raise

    def _server_pods(self) -> list[Any]:
        listing = self.api.call(
            f"list pods in {self.namespace}",
            self.api.core.list_namespaced_pod,
            self.namespace,
            label_selector=SERVER_SELECTOR,
        )
        return [pod for pod in listing.items if not pod.metadata.deletion_timestamp]

    def wait_server_ready(self) -> None:
        """Until a server pod is Ready (its probe answers), or name why it is not."""
        owners = [manifests.SERVER_NAME]
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            pods = self._server_pods()
            if any(is_ready(pod) for pod in pods):
                return
            causes = [cause for pod in pods if (cause := pod_cause(pod))]
            causes += self._object_causes(owners, pvcs=False)
            fatal = [cause for cause in causes if cause.fatal]
            if fatal:
                raise BackendError(f"the results server did not become ready: {summarize(fatal)}")
            if time.monotonic() >= deadline:
                causes = self._object_causes(owners, pvcs=True, selector=SERVER_SELECTOR) + causes
                why = summarize(causes) or (
                    f"pod {_name(pods[0])} is running but not Ready (readiness probe on "
                    f"{manifests.SERVER_READY_PATH} failing)"
                    if pods
                    else "no pod was created"
                )
                raise BackendError(
                    f"the results server is not Ready after {self.ready_timeout_s:.0f} s in "
                    f"namespace {self.namespace!r}: {why}"
                )
            time.sleep(SERVER_POLL_S)

    def server_status(self) -> tuple[int, int, str] | None:
        """(Ready, desired, why not) of the results server; None when not deployed."""
        try:
            deployment = self.api.call(
                f"read deployment {self.namespace}/{manifests.SERVER_NAME}",
                self.api.apps.read_namespaced_deployment,
                manifests.SERVER_NAME,
                self.namespace,
            )
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise
        pods = self._server_pods()
        ready = sum(1 for pod in pods if is_ready(pod))
        causes = [cause for pod in pods if (cause := pod_cause(pod))]
        return ready, int(deployment.spec.replicas or 0), summarize(causes)

    # -- lock ------------------------------------------------------------------------
    def holder(self) -> dict[str, str]:
        return {
            "session": self.session_id,
            "host": socket.gethostname(),
            "pid": str(os.getpid()),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def acquire_lock(self) -> None:
        try:
            self.api.call(
                f"create configmap {self.namespace}/{manifests.LOCK_NAME}",
                self.api.core.create_namespaced_config_map,
                self.namespace,
                manifests.lock(self.spec, self.holder()),
            )
        except KubeApiError as err:
            if err.status != 409:
                raise
            held = self.lock_holder() or {}
            raise BackendError(
                f"namespace {self.namespace!r} is locked by another deploy (session "
                f"{held.get('session', '?')} on {held.get('host', '?')} pid "
                f"{held.get('pid', '?')} since {held.get('since', '?')}); if that session is "
                f"gone, clear the lock with: fioloadgen unlock --namespace {self.namespace}"
            ) from err

    def lock_holder(self) -> dict[str, str] | None:
        try:
            lock = self.api.call(
                f"read configmap {self.namespace}/{manifests.LOCK_NAME}",
                self.api.core.read_namespaced_config_map,
                manifests.LOCK_NAME,
                self.namespace,
            )
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise
        return dict(lock.data or {})

    def release_lock(self) -> None:
        with contextlib.suppress(KubeApiError):
            self.api.call(
                f"delete configmap {self.namespace}/{manifests.LOCK_NAME}",
                self.api.core.delete_namespaced_config_map,
                manifests.LOCK_NAME,
                self.namespace,
            )

    # -- readiness -------------------------------------------------------------------
    def _worker_pods(self) -> tuple[dict[str, Any], str]:
        listing = self.api.call(
            f"list pods in {self.namespace}",
            self.api.core.list_namespaced_pod,
            self.namespace,
            label_selector=WORKER_SELECTOR,
        )
        return {_name(pod): pod for pod in listing.items}, str(listing.metadata.resource_version)

    def wait_ready(self, targets: Sequence[str], workers: int) -> None:
        """Watch worker pods until ``workers`` per target are Ready, or name the cause.

        One watch request stays open while pods become Ready (no re-list per pod, so the
        wait is O(1) requests for N pods); between requests the namespace's events are
        checked for what pod objects cannot show (quota, admission refusals).
        """
        wanted = {
            f"{manifests.workload_name(sc)}-{ordinal}"
            for sc in targets
            for ordinal in range(workers)
        }
        owners = [manifests.workload_name(sc) for sc in targets]
        deadline = time.monotonic() + self.ready_timeout_s
        pods, version = self._worker_pods()
        ready = {name for name, pod in pods.items() if name in wanted and is_ready(pod)}
        while True:
            causes = [cause for pod in pods.values() if (cause := pod_cause(pod))]
            causes += self._object_causes(owners, pvcs=False)
            fatal = [cause for cause in causes if cause.fatal]
            if fatal:
                raise BackendError(f"workers did not become ready: {summarize(fatal)}")
            if ready >= wanted:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendError(self._timeout_message(wanted, pods, causes, owners))
            try:
                for kind, pod in self.api.watch(
                    f"watch pods in {self.namespace}",
                    self.api.core.list_namespaced_pod,
                    timeout_s=min(WATCH_CHUNK_S, remaining),
                    namespace=self.namespace,
                    label_selector=WORKER_SELECTOR,
                    resource_version=version,
                ):
                    name = _name(pod)
                    version = str(pod.metadata.resource_version)
                    if kind == "DELETED":
                        pods.pop(name, None)
                    else:
                        pods[name] = pod
                    if kind != "DELETED" and is_ready(pod) and name in wanted:
                        ready.add(name)
                    else:
                        ready.discard(name)
                    cause = pod_cause(pod) if kind != "DELETED" else None
                    if ready >= wanted or (cause is not None and cause.fatal):
                        break
            except KubeApiError as err:
                if err.status != 410:
                    raise
                # The watch fell too far behind: start again from a fresh list.
                pods, version = self._worker_pods()
                ready = {n for n, p in pods.items() if n in wanted and is_ready(p)}

    def _events_by_object(self) -> tuple[list[Any], dict[str, str]]:
        try:
            events = self.api.call(
                f"list events in {self.namespace}",
                self.api.core.list_namespaced_event,
                self.namespace,
            ).items
        except KubeApiError as err:
            if err.status == 403:
                return [], {}
            raise
        latest = {
            str(event.involved_object.name): str(event.message or event.reason)
            for event in events
            if event.involved_object is not None
        }
        return events, latest

    def _object_causes(
        self, owners: Sequence[str], *, pvcs: bool, selector: str = WORKER_SELECTOR
    ) -> list[Cause]:
        events, latest = self._events_by_object()
        causes = event_causes(events, owners)
        if pvcs:
            listing = self.api.call(
                f"list persistentvolumeclaims in {self.namespace}",
                self.api.core.list_namespaced_persistent_volume_claim,
                self.namespace,
                label_selector=selector,
            )
            causes += pvc_causes(listing.items, latest)
        return causes

    def _timeout_message(
        self, wanted: set[str], pods: dict[str, Any], causes: list[Cause], owners: Sequence[str]
    ) -> str:
        ready = sum(1 for name in wanted if name in pods and is_ready(pods[name]))
        causes = self._object_causes(owners, pvcs=True) + causes
        missing = sorted(name for name in wanted if name not in pods)
        if missing and not causes:
            causes.append(Cause(f"pods {', '.join(missing[:3])} were never created"))
        why = summarize(causes) or "pods are running but not Ready (readiness probe failing)"
        return (
            f"{ready} of {len(wanted)} workers Ready after {self.ready_timeout_s:.0f} s in "
            f"namespace {self.namespace!r}: {why}"
        )

    # -- running ---------------------------------------------------------------------
    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        chosen = first_workers(env, target, count)
        pods, _version = self._worker_pods()
        for worker in chosen:
            pod_name = worker.name.split(".")[0]
            pod = pods.get(pod_name)
            if pod is None or not is_ready(pod):
                cause = pod_cause(pod) if pod is not None else None
                detail = cause.message if cause else "not Ready"
                raise BackendError(f"worker pod {self.namespace}/{pod_name}: {detail}")
        return chosen

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
    ) -> RunResult:
        if not workers:
            raise BackendError("no workers to run on")
        name = f"fio-run-{uuid.uuid4().hex[:10]}"
        hosts = [worker.address.hostfile_line() for worker in workers]
        timeout_s = expected_runtime_s + DEFAULT_SLACK_S
        started = time.monotonic()
        created: list[tuple[str, Any]] = []
        try:
            self.api.call(
                f"create configmap {self.namespace}/{name}",
                self.api.core.create_namespaced_config_map,
                self.namespace,
                manifests.run_configmap(self.spec, name, job_text, hosts),
            )
            created.append(("configmap", self.api.core.delete_namespaced_config_map))
            self.api.call(
                f"create job {self.namespace}/{name}",
                self.api.batch.create_namespaced_job,
                self.namespace,
                manifests.run_job(self.spec, name, int(timeout_s + CLIENT_START_S)),
            )
            created.append(("job", self.api.batch.delete_namespaced_job))
            pod = self._wait_client(name, timeout_s, started, on_progress)
            log = self._read_log(_name(pod))
            exit_code = _exit_code(pod)
        finally:
            for kind, delete in reversed(created):
                # Background propagation: a Job deleted with the API's default (orphan)
                # would leave its pod behind.
                with contextlib.suppress(KubeApiError):
                    self.api.call(
                        f"delete {kind} {self.namespace}/{name}",
                        delete,
                        name,
                        self.namespace,
                        propagation_policy="Background",
                    )
        invocation = FioInvocation(
            argv=tuple(manifests.client_command()),
            returncode=exit_code,
            stdout=log,
            stderr=_outside_document(log),
            duration_s=time.monotonic() - started,
        )
        result = check_fio_invocation(invocation, [worker.address for worker in workers])
        version = result.raw.get("fio version")
        if version:
            env.details["fio_version"] = str(version)
        return result

    def _wait_client(
        self,
        name: str,
        timeout_s: float,
        started: float,
        on_progress: ProgressCallback | None,
    ) -> Any:
        """The client pod once it has finished (Succeeded or Failed)."""
        selector = f"job-name={name}"
        deadline = started + timeout_s + CLIENT_START_S
        version: str | None = None
        next_event_check = 0.0
        while True:
            listing = None
            if version is None:
                listing = self.api.call(
                    f"list pods of job {self.namespace}/{name}",
                    self.api.core.list_namespaced_pod,
                    self.namespace,
                    label_selector=selector,
                )
                version = str(listing.metadata.resource_version)
                for pod in listing.items:
                    if _finished(pod):
                        return pod
            if time.monotonic() > deadline:
                raise BackendError(
                    f"fio client job {self.namespace}/{name} did not finish within "
                    f"{timeout_s + CLIENT_START_S:.0f} s{self._job_problem(name)}"
                )
            if listing is None and time.monotonic() >= next_event_check:
                # A pod the Job controller may not create (quota, admission) shows only
                # as an event: do not wait the whole run's timeout for it.
                next_event_check = time.monotonic() + EVENT_CHECK_S
                events, _latest = self._events_by_object()
                refused = event_causes(events, [name])
                if refused:
                    raise BackendError(f"fio client: {refused[0].message}")
            try:
                for _kind, pod in self.api.watch(
                    f"watch pods of job {self.namespace}/{name}",
                    self.api.core.list_namespaced_pod,
                    timeout_s=1,
                    namespace=self.namespace,
                    label_selector=selector,
                    resource_version=version,
                ):
                    version = str(pod.metadata.resource_version)
                    if _finished(pod):
                        return pod
                    cause = pod_cause(pod)
                    if cause is not None and cause.fatal:
                        raise BackendError(f"fio client: {cause.message}")
            except KubeApiError as err:
                if err.status != 410:
                    raise
                version = None
            if on_progress is not None:
                on_progress(time.monotonic() - started)

    def _job_problem(self, name: str) -> str:
        _events, latest = self._events_by_object()
        return f": {latest[name]}" if name in latest else ""

    def _read_log(self, pod_name: str) -> str:
        # Raw bytes: the client would otherwise "deserialize" a log that looks like JSON
        # (fio's output does) into a Python repr.
        response = self.api.call(
            f"read log of pod {self.namespace}/{pod_name}",
            self.api.core.read_namespaced_pod_log,
            pod_name,
            self.namespace,
            _preload_content=False,
        )
        return bytes(response.data).decode("utf-8", errors="replace")

    # -- teardown --------------------------------------------------------------------
    def teardown(self, env: Environment) -> None:
        try:
            if self.keep:
                env.kept = True
                self.release_lock()
                return
            self.destroy()
            self.check_leaks()
        finally:
            self.close()

    def destroy(self, *, force: bool = False, timeout_s: float = DELETE_TIMEOUT_S) -> bool:
        """Delete our namespace and wait until it is gone; False when there was none.

        Refuses a namespace without our label, and one locked by another session unless
        ``force`` (a stale lock).
        """
        existing = self.read_namespace()
        if existing is None:
            return False
        self.refuse_foreign(existing, "delete")
        held = self.lock_holder()
        if held and held.get("session") != self.session_id and not force:
            raise BackendError(
                f"namespace {self.namespace!r} is in use by session {held.get('session')} on "
                f"{held.get('host')} since {held.get('since')}; pass --force to delete it "
                "anyway (a lock left by a killed session)"
            )
        try:
            self.api.call(
                f"delete namespace {self.namespace}",
                self.api.core.delete_namespace,
                self.namespace,
                propagation_policy="Foreground",
            )
        except KubeApiError as err:
            if err.status != 404:
                raise
        self._wait_namespace_gone(timeout_s)
        return True

    def _wait_namespace_gone(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.read_namespace() is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendError(
                    f"namespace {self.namespace!r} still exists {timeout_s:.0f} s after "
                    "deleting it (a finalizer is holding it?)"
                )
            for kind, _obj in self.api.watch(
                f"watch namespace {self.namespace}",
                self.api.core.list_namespace,
                timeout_s=min(WATCH_CHUNK_S, remaining),
                field_selector=f"metadata.name={self.namespace}",
            ):
                if kind == "DELETED":
                    return

    def check_leaks(self) -> None:
        """Fail loudly when anything of ours survived teardown."""
        leaks: list[str] = []
        if self.read_namespace() is not None:
            leaks.append(f"namespace {self.namespace}")
        core, batch, apps = self.api.core, self.api.batch, self.api.apps
        for kind, lister in (
            ("pod", core.list_namespaced_pod),
            ("persistentvolumeclaim", core.list_namespaced_persistent_volume_claim),
            ("job", batch.list_namespaced_job),
            ("deployment", apps.list_namespaced_deployment),
        ):
            found = self.api.call(
                f"list {kind}s in {self.namespace}",
                lister,
                self.namespace,
                label_selector=manifests.OWNED_SELECTOR,
            )
            leaks += [f"{kind} {self.namespace}/{_name(item)}" for item in found.items]
        if leaks:
            raise BackendError(
                f"teardown left {len(leaks)} objects behind: {', '.join(leaks[:5])}"
                + (" ..." if len(leaks) > 5 else "")
            )

    # -- status and fingerprint ----------------------------------------------------
    def status(self) -> dict[str, tuple[int, int]]:
        """(Ready, desired) workers per storage class in the namespace."""
        sets = self.api.call(
            f"list statefulsets in {self.namespace}",
            self.api.apps.list_namespaced_stateful_set,
            self.namespace,
            label_selector=WORKER_SELECTOR,
        )
        pods, _version = self._worker_pods()
        counts: dict[str, tuple[int, int]] = {}
        for item in sets.items:
            storage_class = item.spec.volume_claim_templates[0].spec.storage_class_name
            prefix = f"{_name(item)}-"
            ready = sum(
                1 for name, pod in pods.items() if name.startswith(prefix) and is_ready(pod)
            )
            counts[str(storage_class)] = (ready, int(item.spec.replicas or 0))
        return counts

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        from .k8s_facts import cluster_facts, storage_class_facts

        api = self.api
        facts: dict[str, Any] = {
            "backend": self.name,
            # fio runs in the image: its version comes from a run's output when one ran.
            "fio_version": env.details.get("fio_version", f"image {self.spec.image}"),
            "namespace": self.namespace,
            "image": self.spec.image,
            **cluster_facts(api),
        }
        facts["targets"] = {
            storage_class: {
                "workers": env.capacity(storage_class),
                "pvc_size": self.spec.pvc_size,
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
            from . import ceph

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


def _finished(pod: Any) -> bool:
    return pod.status is not None and pod.status.phase in ("Succeeded", "Failed")


def _exit_code(pod: Any) -> int:
    for container in pod.status.container_statuses or []:
        terminated = container.state.terminated if container.state else None
        if terminated is not None:
            return int(terminated.exit_code)
    return 0 if pod.status.phase == "Succeeded" else 1


def _outside_document(log: str) -> str:
    """The log without fio's JSON document: what fio said on stderr, merged in the log."""
    try:
        _document, before = split_output(log)
    except ResultError:
        return log
    try:
        _value, end = json.JSONDecoder().raw_decode(log, len(before))
    except ValueError:
        return before
    return before + log[end:]
