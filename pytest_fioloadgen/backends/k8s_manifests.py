"""The Kubernetes objects of a fio deployment, rendered as plain dicts.

Pure functions with no import of the ``kubernetes`` package: the backend, the CLI and the
tests render the very same manifests, and the objects can be inspected without a cluster.
Every object carries the ownership label; teardown refuses anything without it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigError

#: The label that marks everything pytest-fioloadgen created (checked before deleting).
OWNER_LABEL = "app.kubernetes.io/managed-by"
OWNER_VALUE = "pytest-fioloadgen"
OWNED = {OWNER_LABEL: OWNER_VALUE}
#: Which storage class a worker belongs to (the target name).
TARGET_LABEL = "fioloadgen.io/storage-class"
COMPONENT_LABEL = "app.kubernetes.io/component"
OWNED_SELECTOR = f"{OWNER_LABEL}={OWNER_VALUE}"

FIO_PORT = 8765
DATA_MOUNT = "/data"
JOB_MOUNT = "/job"
LOCK_NAME = "fioloadgen-lock"
DEFAULT_IMAGE = "ghcr.io/pytest-fioloadgen/fio-worker:3.33"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$")


def check_dns_label(value: str, what: str, *, max_length: int = 63) -> str:
    """A Kubernetes name component, or a ConfigError naming it."""
    if len(value) > max_length or not _DNS_LABEL.match(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid Kubernetes name (lower-case letters, digits "
            f"and '-', at most {max_length} characters)"
        )
    return value


def check_dns_subdomain(value: str, what: str) -> str:
    """A name that may contain dots (storage classes), or a ConfigError naming it."""
    if len(value) > 253 or not all(_DNS_LABEL.match(part) for part in value.split(".")):
        raise ConfigError(
            f"{what} {value!r} is not a valid Kubernetes name (lower-case letters, digits, "
            "'-' and '.')"
        )
    return value


def check_quantity(value: str, what: str) -> str:
    if not _QUANTITY.match(value):
        raise ConfigError(f"{what} {value!r} is not a Kubernetes quantity (like 10Gi, 500m)")
    return value


@dataclass(frozen=True)
class WorkerSpec:
    """How the fio worker pods look; shared by every storage class of a deploy."""

    namespace: str = "fio"
    image: str = DEFAULT_IMAGE
    pvc_size: str = "10Gi"
    #: Kubernetes resources, e.g. {"cpu": "1", "memory": "1Gi"}; empty means none set.
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)


def workload_name(storage_class: str) -> str:
    """The StatefulSet and headless Service of one storage class.

    Storage class names may contain '.', which a Service name may not; pod names are
    ``<name>-<ordinal>`` and must stay DNS labels, hence the shorter limit.
    """
    slug = re.sub(r"[^a-z0-9-]", "-", storage_class.lower()).strip("-")
    return check_dns_label(f"fio-{slug}"[:52].rstrip("-"), "storage class workload name")


def worker_dns_name(storage_class: str, ordinal: int, namespace: str) -> str:
    """The stable DNS name of a worker pod through its headless Service."""
    name = workload_name(storage_class)
    return f"{name}-{ordinal}.{name}.{namespace}.svc"


def _labels(storage_class: str | None = None, component: str = "worker") -> dict[str, str]:
    labels = {**OWNED, COMPONENT_LABEL: component}
    if storage_class is not None:
        labels[TARGET_LABEL] = re.sub(r"[^A-Za-z0-9_.-]", "-", storage_class)[:63]
    return labels


def namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**OWNED}},
    }


def lock(spec: WorkerSpec, holder: dict[str, str]) -> dict[str, Any]:
    """The deploy lock: creating a named object is atomic, so only one deploy wins."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": LOCK_NAME,
            "namespace": spec.namespace,
            "labels": _labels(component="lock"),
        },
        "data": holder,
    }


def headless_service(spec: WorkerSpec, storage_class: str) -> dict[str, Any]:
    name = workload_name(storage_class)
    labels = _labels(storage_class)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "clusterIP": "None",
            # Workers must resolve before they are Ready: the readiness check itself and
            # a worker restarting mid-session are both found by name.
            "publishNotReadyAddresses": True,
            "selector": {**labels},
            "ports": [{"name": "fio", "port": FIO_PORT, "targetPort": FIO_PORT}],
        },
    }


#: Passes the "restricted" Pod Security Standard; the image runs as UID 1001.
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _resources(spec: WorkerSpec) -> dict[str, dict[str, str]]:
    resources: dict[str, dict[str, str]] = {}
    if spec.requests:
        resources["requests"] = dict(spec.requests)
    if spec.limits:
        resources["limits"] = dict(spec.limits)
    return resources


def statefulset(spec: WorkerSpec, storage_class: str, replicas: int) -> dict[str, Any]:
    name = workload_name(storage_class)
    labels = _labels(storage_class)
    container: dict[str, Any] = {
        "name": "fio",
        "image": spec.image,
        "command": ["fio", "--server"],
        # fio lays out its files in the server's working directory: the worker's PVC.
        "workingDir": DATA_MOUNT,
        "ports": [{"name": "fio", "containerPort": FIO_PORT}],
        "readinessProbe": {
            "tcpSocket": {"port": FIO_PORT},
            "periodSeconds": 2,
        },
        "volumeMounts": [{"name": "data", "mountPath": DATA_MOUNT}],
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
    }
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            # All pods start at once: deploy time is one pod start, not N of them.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {**labels}},
            "template": {
                "metadata": {"labels": {**labels}},
                "spec": {
                    "affinity": {
                        "podAntiAffinity": {
                            # Preferred, not required: a small cluster still gets every
                            # worker, a large one spreads them over nodes.
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "labelSelector": {"matchLabels": {**labels}},
                                        "topologyKey": "kubernetes.io/hostname",
                                    },
                                }
                            ]
                        }
                    },
                    "terminationGracePeriodSeconds": 5,
                    # fio needs no API access: no token in the pod, so no RBAC at all.
                    "automountServiceAccountToken": False,
                    "securityContext": copy.deepcopy(_POD_SECURITY),
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data", "labels": labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": storage_class,
                        "resources": {"requests": {"storage": spec.pvc_size}},
                    },
                }
            ],
        },
    }


def client_command() -> list[str]:
    """The fio client of a run: a host *file*, so every listed server runs the job."""
    return ["fio", f"--client={JOB_MOUNT}/hosts", f"{JOB_MOUNT}/job.fio", "--output-format=json+"]


def run_configmap(spec: WorkerSpec, name: str, job_text: str, hosts: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": _labels(component="run"),
        },
        "data": {"job.fio": job_text, "hosts": "".join(line + "\n" for line in hosts)},
    }


def run_job(spec: WorkerSpec, name: str, deadline_s: int) -> dict[str, Any]:
    """A batch/v1 Job whose one pod runs the fio client; its log is fio's output."""
    labels = _labels(component="run")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            # A failed fio run is a finding, not something to retry.
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    # The client talks to fio servers only: no token, no RBAC needed.
                    "automountServiceAccountToken": False,
                    "securityContext": copy.deepcopy(_POD_SECURITY),
                    "containers": [
                        {
                            "name": "fio-client",
                            "image": spec.image,
                            "command": client_command(),
                            "workingDir": "/tmp",
                            "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
                            "volumeMounts": [{"name": "job", "mountPath": JOB_MOUNT}],
                        }
                    ],
                    "volumes": [{"name": "job", "configMap": {"name": name}}],
                },
            },
        },
    }


# -- the results server ------------------------------------------------------------------
SERVER_NAME = "fioloadgen-server"
SERVER_CLAIM = f"{SERVER_NAME}-data"
SERVER_PORT = 8080
SERVER_STATE_DIR = f"{DATA_MOUNT}/state"
SERVER_STORE = f"{DATA_MOUNT}/history.db"
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
            "labels": _labels(component="server"),
        },
        "spec": claim,
    }


def server_service(spec: ServerSpec) -> dict[str, Any]:
    labels = _labels(component="server")
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
    labels = _labels(component="server")
    container: dict[str, Any] = {
        "name": "server",
        "image": spec.image,
        "command": server_command(),
        "ports": [{"name": "http", "containerPort": SERVER_PORT}],
        "readinessProbe": {
            "httpGet": {"path": SERVER_READY_PATH, "port": SERVER_PORT},
            "periodSeconds": 2,
        },
        "volumeMounts": [{"name": "data", "mountPath": DATA_MOUNT}],
        "securityContext": copy.deepcopy(_CONTAINER_SECURITY),
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
                    # fsGroup: the PVC is writable by the image's non-root user.
                    "securityContext": {**copy.deepcopy(_POD_SECURITY), "fsGroup": SERVER_UID},
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "persistentVolumeClaim": {"claimName": SERVER_CLAIM}}
                    ],
                },
            },
        },
    }


def server_objects(spec: ServerSpec) -> list[dict[str, Any]]:
    """The PVC first (the pod waits for it), then the Deployment and its Service."""
    check_dns_label(spec.namespace, "namespace")
    if spec.storage_class is not None:
        check_dns_subdomain(spec.storage_class, "server storage class")
    check_quantity(spec.pvc_size, "server PVC size")
    return [server_pvc(spec), server_deployment(spec), server_service(spec)]
