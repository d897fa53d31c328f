"""The results server in the cluster (``fioloadgen deploy --with-server``).

A Deployment of one ``fioloadgen serve`` pod (strategy Recreate: never two pods on the one
sqlite file), a ClusterIP Service and a PVC holding its store and state dir (the token),
so the history survives pod restarts and redeploys; reached with ``kubectl port-forward``.

It lives with the server because only the server knows its own command line; it joins
``fioloadgen deploy`` and ``fioloadgen status`` through the ``fioloadgen.commands`` entry
point (``register``), using the kubernetes backend's namespace, lock and readiness wait.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from typing import Any

from pytest_fioloadgen.backends.kubernetes import manifests, options
from pytest_fioloadgen.cli.cluster import DeployExtension, add_deploy_extension
from pytest_fioloadgen.settings import Settings

SERVER_NAME = "fioloadgen-server"
SERVER_CLAIM = f"{SERVER_NAME}-data"
SERVER_PORT = 8080
SERVER_STATE_DIR = f"{manifests.DATA_MOUNT}/state"
SERVER_STORE = f"{manifests.DATA_MOUNT}/history.db"
#: What the readiness probe asks: answers once the store and the token are open.
SERVER_READY_PATH = "/api/v1/status"
DEFAULT_SERVER_IMAGE = "ghcr.io/pytest-fioloadgen/results-server:latest"
#: The image's user (containers/results-server/Containerfile) and the volume's group.
SERVER_UID = 1001


@dataclass(frozen=True)
class ServerSpec:
    """The results server in the workers' namespace: one pod, its history on a PVC."""

    namespace: str = "fio"
    image: str = DEFAULT_SERVER_IMAGE
    #: None: the cluster's default storage class.
    storage_class: str | None = None
    pvc_size: str = "1Gi"
    #: The PVC's group (writable by the image's non-root user); None on OpenShift, whose
    #: restricted-v2 SCC assigns one from the namespace's range (and refuses others).
    fs_group: int | None = SERVER_UID


def server_command() -> list[str]:
    """``fioloadgen serve`` with its store and state (the token) on the PVC, no executor:
    the history browser and the API, fed by sessions that record through it."""
    return [
        "fioloadgen",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(SERVER_PORT),
        f"--store={SERVER_STORE}",
        f"--state-dir={SERVER_STATE_DIR}",
        "--no-executor",
        # Plain HTTP on the pod's address, reached only through the ClusterIP Service
        # (kubectl port-forward from outside); serve refuses that without saying so.
        "--insecure",
    ]


def server_pvc(spec: ServerSpec) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.pvc_size}},
    }
    if spec.storage_class is not None:
        claim["storageClassName"] = spec.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": SERVER_CLAIM,
            "namespace": spec.namespace,
            "labels": manifests.labels(component="server"),
        },
        "spec": claim,
    }


def server_service(spec: ServerSpec) -> dict[str, Any]:
    labels = manifests.labels(component="server")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVER_NAME, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": {**labels},
            "ports": [{"name": "http", "port": SERVER_PORT, "targetPort": SERVER_PORT}],
        },
    }


def server_deployment(spec: ServerSpec) -> dict[str, Any]:
    labels = manifests.labels(component="server")
    container: dict[str, Any] = {
        "name": "server",
        "image": spec.image,
        "command": server_command(),
        "ports": [{"name": "http", "containerPort": SERVER_PORT}],
        "readinessProbe": {
            "httpGet": {"path": SERVER_READY_PATH, "port": SERVER_PORT},
            "periodSeconds": 2,
        },
        "volumeMounts": [{"name": "data", "mountPath": manifests.DATA_MOUNT}],
        "securityContext": copy.deepcopy(manifests.CONTAINER_SECURITY),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": SERVER_NAME, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            # Never two pods on the one sqlite file (a rolling update would start the new
            # pod before stopping the old one).
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {**labels}},
            "template": {
                "metadata": {"labels": {**labels}},
                "spec": {
                    "terminationGracePeriodSeconds": 10,
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(spec),
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "persistentVolumeClaim": {"claimName": SERVER_CLAIM}}
                    ],
                },
            },
        },
    }


def _pod_security(spec: ServerSpec) -> dict[str, Any]:
    security = copy.deepcopy(manifests.POD_SECURITY)
    if spec.fs_group is not None:
        security["fsGroup"] = spec.fs_group
    return security


def server_objects(spec: ServerSpec) -> list[dict[str, Any]]:
    """The PVC first (the pod waits for it), then the Deployment and its Service."""
    options.check_dns_label(spec.namespace, "namespace")
    if spec.storage_class is not None:
        options.check_dns_subdomain(spec.storage_class, "server storage class")
    options.check_quantity(spec.pvc_size, "server PVC size")
    return [server_pvc(spec), server_deployment(spec), server_service(spec)]


SERVER_SELECTOR = f"{manifests.OWNED_SELECTOR},{manifests.COMPONENT_LABEL}=server"


def deploy_server(backend: Any, server: ServerSpec) -> None:
    """The results server (PVC, Deployment, Service) in the namespace, until Ready.

    An existing PVC is kept: a redeploy finds the history of the previous one. On a
    failure what was made stays for inspection (``fioloadgen destroy`` removes it).
    """
    from pytest_fioloadgen.backends.kubernetes.readiness import wait_ready

    objects = server_objects(server)
    if server.storage_class is not None:
        backend.check_storage_classes([server.storage_class])
    backend.ensure_namespace()
    backend.acquire_lock()
    try:
        for body in objects:
            backend.apply(body)
        wait_ready(
            backend.api,
            server.namespace,
            what="results server",
            selector=SERVER_SELECTOR,
            owners=[SERVER_NAME],
            timeout_s=backend.ready_timeout_s,
        )
    finally:
        backend.release_lock()


def server_status(backend: Any) -> tuple[int, int, str] | None:
    """(Ready, desired, why not) of the results server; None when not deployed."""
    from pytest_fioloadgen.backends.kubernetes.api import KubeApiError
    from pytest_fioloadgen.backends.kubernetes.readiness import is_ready, pod_cause, summarize

    api, namespace = backend.api, backend.namespace
    try:
        deployment = api.call(
            f"read deployment {namespace}/{SERVER_NAME}",
            api.apps.read_namespaced_deployment,
            SERVER_NAME,
            namespace,
        )
    except KubeApiError as err:
        if err.status == 404:
            return None
        raise
    pods = [
        pod
        for pod in api.call(
            f"list pods in {namespace}",
            api.core.list_namespaced_pod,
            namespace,
            label_selector=SERVER_SELECTOR,
        ).items
        if not pod.metadata.deletion_timestamp
    ]
    ready = sum(1 for pod in pods if is_ready(pod))
    causes = [cause for pod in pods if (cause := pod_cause(pod))]
    return ready, int(deployment.spec.replicas or 0), summarize(causes)


# -- the CLI: joins ``fioloadgen deploy`` and ``fioloadgen status`` -----------------------
def _add_arguments(deploy: argparse.ArgumentParser) -> None:
    deploy.add_argument(
        "--with-server",
        action="store_true",
        help="also run the results server in the namespace (its history on a PVC); "
        "without --storageclass only the server",
    )
    deploy.add_argument("--server-image", help="results server image")
    deploy.add_argument(
        "--server-storageclass",
        help="storage class of the server's PVC (default: the first --storageclass, else "
        "the cluster's default)",
    )
    deploy.add_argument("--server-pvc-size", default="1Gi", help="size of the server's PVC (1Gi)")
    deploy.add_argument(
        "--server-fs-group",
        default=str(SERVER_UID),
        help=f"fsGroup of the server pod, or 'none' on OpenShift (default {SERVER_UID})",
    )


def _spec(args: argparse.Namespace, settings: Settings) -> ServerSpec:
    storage_class = args.server_storageclass or (
        settings.kubernetes.storageclasses[0] if settings.kubernetes.storageclasses else None
    )
    fs_group = None
    if args.server_fs_group != "none":
        fs_group = options.parse_id(args.server_fs_group, "--server-fs-group")
    return ServerSpec(
        namespace=settings.kubernetes.namespace,
        image=args.server_image or DEFAULT_SERVER_IMAGE,
        storage_class=storage_class,
        pvc_size=args.server_pvc_size,
        fs_group=fs_group,
    )


def _deploy(args: argparse.Namespace, settings: Settings, backend: Any) -> None:
    deploy_server(backend, _spec(args, settings))
    ns = settings.kubernetes.namespace
    print(f"{ns}/{SERVER_NAME}: results server Ready")
    print(
        f"  reach it:  kubectl -n {ns} port-forward svc/{SERVER_NAME} "
        f"{SERVER_PORT}:{SERVER_PORT}  (then http://127.0.0.1:{SERVER_PORT}/)"
    )
    print(
        f"  its token (for writes, FIO_API_TOKEN):  kubectl -n {ns} exec "
        f"deploy/{SERVER_NAME} -- cat {SERVER_STATE_DIR}/token"
    )


def _status(args: argparse.Namespace, backend: Any) -> tuple[str, bool] | None:
    found = server_status(backend)
    if found is None:
        return None
    ready, desired, why = found
    line = f"results server: {ready}/{desired} Ready" + (f" ({why})" if why else "")
    return line, ready >= desired


EXTENSION = DeployExtension(
    name="results server",
    add_arguments=_add_arguments,
    wanted=lambda args: bool(getattr(args, "with_server", False)),
    deploy=_deploy,
    objects=lambda args, settings: server_objects(_spec(args, settings)),
    status=_status,
)


def register(commands: Any) -> None:
    add_deploy_extension(commands, EXTENSION)
