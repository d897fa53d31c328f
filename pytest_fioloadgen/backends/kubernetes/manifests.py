"""The Kubernetes objects of a fio deployment, rendered as plain dicts.

Pure functions with no import of the ``kubernetes`` package: the backend, ``fioloadgen
deploy --dry-run`` and the tests render the very same manifests, and the objects can be
inspected (and validated against the Kubernetes schemas) without a cluster. Every object
carries the ownership label; teardown refuses anything without it.

Per storage class (a target) there is one headless Service (stable DNS names for the
workers) and the workers' volumes in one of four shapes:

* new claims, ReadWriteOnce (default): one StatefulSet, a claim per worker from its
  volumeClaimTemplate;
* new claim, ReadWriteMany (``--fio-access-mode rwx``): one shared claim, one StatefulSet
  whose pods each mount their own directory of it (``subPathExpr: $(POD_NAME)``);
* existing claims, ReadWriteOnce: a one-pod StatefulSet per claim, all behind the
  target's Service;
* one existing ReadWriteMany claim: as the shared claim above.

With ``--fio-volume-mode block`` the claim is a raw device (``volumeDevices`` at
DEVICE_PATH) that the job's ``filename`` is set to (the session does it, and the safety
policy allows exactly that device because the worker names it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from .logframe import client_script
from .options import check_dns_label
from .settings import KubernetesSettings

#: The label that marks everything pytest-fioloadgen created (checked before deleting).
OWNER_LABEL = "app.kubernetes.io/managed-by"
OWNER_VALUE = "pytest-fioloadgen"
OWNED = {OWNER_LABEL: OWNER_VALUE}
#: Which storage class a worker belongs to (the target name).
TARGET_LABEL = "fioloadgen.io/storage-class"
#: Which StatefulSet a worker pod belongs to (a target may have several: existing claims).
WORKLOAD_LABEL = "fioloadgen.io/workload"
COMPONENT_LABEL = "app.kubernetes.io/component"
OWNED_SELECTOR = f"{OWNER_LABEL}={OWNER_VALUE}"
WORKER_SELECTOR = f"{OWNED_SELECTOR},{COMPONENT_LABEL}=worker"

FIO_PORT = 8765
DATA_MOUNT = "/data"
JOB_MOUNT = "/job"
#: Where a raw block volume appears in a worker pod.
DEVICE_PATH = "/dev/fioloadgen-data"
LOCK_NAME = "fioloadgen-lock"

#: Passes the "restricted" Pod Security Standard and OpenShift's restricted-v2 SCC: no
#: fixed UID (the image's, or the one the SCC assigns from the namespace's range).
#: OnRootMismatch: the kubelet re-applies an fsGroup (ours, or the SCC's) to a volume only
#: when its root does not match yet; with the default (Always) every pod start adds group
#: read-write to every file again, and a 0600 secret on the volume (the results server's
#: token) stops being private after the first restart.
POD_SECURITY = {
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "fsGroupChangePolicy": "OnRootMismatch",
}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def workload_name(storage_class: str) -> str:
    """The StatefulSet and headless Service of one storage class.

    Storage class names may contain '.', which a Service name may not; pod names are
    ``<name>-<ordinal>`` and must stay DNS labels, hence the shorter limit.
    """
    slug = re.sub(r"[^a-z0-9-]", "-", storage_class.lower()).strip("-")
    return check_dns_label(f"fio-{slug}"[:52].rstrip("-"), "storage class workload name")


def claim_workload_name(storage_class: str, index: int) -> str:
    """The one-pod StatefulSet of the ``index``-th existing claim of a storage class."""
    return f"{workload_name(storage_class)[:46].rstrip('-')}-c{index}"


def shared_claim_name(storage_class: str) -> str:
    return f"{workload_name(storage_class)}-shared"


def worker_pods(
    spec: KubernetesSettings, storage_class: str, replicas: int, claims: Sequence[str] = ()
) -> list[str]:
    """The worker pod names of a target, in worker order."""
    if claims and not spec.shared:
        return [f"{claim_workload_name(storage_class, i)}-0" for i in range(len(claims))]
    name = workload_name(storage_class)
    return [f"{name}-{ordinal}" for ordinal in range(replicas)]


def worker_dns_name(storage_class: str, pod: str, namespace: str) -> str:
    """The stable DNS name of a worker pod through its target's headless Service."""
    return f"{pod}.{workload_name(storage_class)}.{namespace}.svc"


def labels(
    storage_class: str | None = None, component: str = "worker", workload: str | None = None
) -> dict[str, str]:
    result = {**OWNED, COMPONENT_LABEL: component}
    if storage_class is not None:
        result[TARGET_LABEL] = re.sub(r"[^A-Za-z0-9_.-]", "-", storage_class)[:63]
    if workload is not None:
        result[WORKLOAD_LABEL] = workload
    return result


def namespace(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {**OWNED}},
    }


def lock(namespace_name: str, holder: dict[str, str]) -> dict[str, Any]:
    """The deploy lock: creating a named object is atomic, so only one deploy wins."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": LOCK_NAME,
            "namespace": namespace_name,
            "labels": labels(component="lock"),
        },
        "data": holder,
    }


def headless_service(spec: KubernetesSettings, storage_class: str) -> dict[str, Any]:
    name = workload_name(storage_class)
    target = labels(storage_class)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": target},
        "spec": {
            "clusterIP": "None",
            # Workers must resolve before they are Ready: the readiness check itself and
            # a worker restarting mid-session are both found by name.
            "publishNotReadyAddresses": True,
            "selector": {**target},
            "ports": [{"name": "fio", "port": FIO_PORT, "targetPort": FIO_PORT}],
        },
    }


def _claim_spec(spec: KubernetesSettings, storage_class: str) -> dict[str, Any]:
    return {
        "accessModes": ["ReadWriteMany" if spec.shared else "ReadWriteOnce"],
        "volumeMode": "Block" if spec.block else "Filesystem",
        "storageClassName": storage_class,
        "resources": {"requests": {"storage": spec.pvc_size}},
    }


def shared_claim(spec: KubernetesSettings, storage_class: str) -> dict[str, Any]:
    """The one ReadWriteMany claim all workers of a target share (a directory each)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": shared_claim_name(storage_class),
            "namespace": spec.namespace,
            "labels": labels(storage_class),
        },
        "spec": _claim_spec(spec, storage_class),
    }


def _resources(spec: KubernetesSettings) -> dict[str, dict[str, str]]:
    resources: dict[str, dict[str, str]] = {}
    if spec.requests:
        resources["requests"] = dict(spec.requests)
    if spec.limits:
        resources["limits"] = dict(spec.limits)
    return resources


def scheduling(spec: KubernetesSettings) -> dict[str, Any]:
    """Node selector, tolerations and priority class: for every pod we run (the client
    too: it must fit on the nodes the user allows)."""
    fields: dict[str, Any] = {}
    if spec.node_selector:
        fields["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        fields["tolerations"] = [dict(toleration) for toleration in spec.tolerations]
    if spec.priority_class:
        fields["priorityClassName"] = spec.priority_class
    return fields


def _spread(spec: KubernetesSettings, target: dict[str, str]) -> dict[str, Any]:
    if spec.spread.mode == "none":
        return {}
    return {
        "topologySpreadConstraints": [
            {
                # Skew 1: a worker more on one node (zone) than another at most. Hard
                # leaves a worker Pending (named at the timeout) rather than doubling up.
                "maxSkew": 1,
                "topologyKey": spec.spread.topology_key,
                "whenUnsatisfiable": "DoNotSchedule"
                if spec.spread.mode == "hard"
                else "ScheduleAnyway",
                "labelSelector": {"matchLabels": {**target}},
            }
        ]
    }


def _pod_security(spec: KubernetesSettings) -> dict[str, Any]:
    security = copy.deepcopy(POD_SECURITY)
    # Unset by default: the image's user, or on OpenShift the UID the SCC assigns (a
    # fixed one would be refused by restricted-v2 outside the namespace's range).
    if spec.run_as_user is not None:
        security["runAsUser"] = spec.run_as_user
    if spec.fs_group is not None:
        # The kubelet makes the volume group-owned by it: a root-owned volume otherwise
        # gives the non-root fio server EACCES.
        security["fsGroup"] = spec.fs_group
    return security


def worker_template(
    spec: KubernetesSettings, storage_class: str, workload: str, claim: str | None
) -> dict[str, Any]:
    """The pod template of a worker StatefulSet (``claim``: a volume of the pod rather
    than a volumeClaimTemplate), with the pod patch applied last."""
    target = labels(storage_class)
    container: dict[str, Any] = {
        "name": "fio",
        "image": spec.image,
        "command": ["fio", "--server"],
        "ports": [{"name": "fio", "containerPort": FIO_PORT}],
        "readinessProbe": {"tcpSocket": {"port": FIO_PORT}, "periodSeconds": 2},
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
    }
    if spec.block:
        container["volumeDevices"] = [{"name": "data", "devicePath": DEVICE_PATH}]
        container["workingDir"] = "/tmp"
    else:
        mount: dict[str, Any] = {"name": "data", "mountPath": DATA_MOUNT}
        if spec.shared:
            # A directory per worker on the shared claim, created by the kubelet.
            mount["subPathExpr"] = "$(POD_NAME)"
            container["env"] = [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ]
        container["volumeMounts"] = [mount]
        # fio lays out its files in the server's working directory: the worker's volume.
        container["workingDir"] = DATA_MOUNT
    resources = _resources(spec)
    if resources:
        container["resources"] = resources
    pod: dict[str, Any] = {
        **scheduling(spec),
        **_spread(spec, target),
        "terminationGracePeriodSeconds": 5,
        # fio needs no API access: no token in the pod, so no RBAC at all.
        "automountServiceAccountToken": False,
        "securityContext": _pod_security(spec),
        "containers": [container],
    }
    if claim is not None:
        pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    template = {"metadata": {"labels": labels(storage_class, workload=workload)}, "spec": pod}
    if spec.pod_patch is not None:
        template = spec.pod_patch.apply(template)
    return template


def statefulset(
    spec: KubernetesSettings,
    storage_class: str,
    replicas: int,
    *,
    name: str | None = None,
    claim: str | None = None,
) -> dict[str, Any]:
    """A StatefulSet of ``replicas`` workers: on new claims from a volumeClaimTemplate, or
    (``claim``) all on one given claim."""
    service = workload_name(storage_class)
    workload = name or service
    selector = labels(storage_class, workload=workload)
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": workload,
            "namespace": spec.namespace,
            "labels": labels(storage_class),
        },
        "spec": {
            "serviceName": service,
            "replicas": replicas,
            # All pods start at once: deploy time is one pod start, not N of them.
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector},
            "template": worker_template(spec, storage_class, workload, claim),
        },
    }
    if claim is None:
        body["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data", "labels": labels(storage_class)},
                "spec": _claim_spec(spec, storage_class),
            }
        ]
    return body


def target_objects(
    spec: KubernetesSettings, storage_class: str, replicas: int, claims: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Everything one target needs, in creation order: Service, shared claim, workloads.

    ``claims``: existing claims of this storage class (already resolved from names or
    patterns); with rwx the first (only) one is shared by ``replicas`` workers.
    """
    objects = [headless_service(spec, storage_class)]
    if claims and not spec.shared:
        for index, claim in enumerate(claims):
            objects.append(
                statefulset(
                    spec,
                    storage_class,
                    1,
                    name=claim_workload_name(storage_class, index),
                    claim=claim,
                )
            )
    elif spec.shared:
        claim = claims[0] if claims else shared_claim_name(storage_class)
        if not claims:
            objects.append(shared_claim(spec, storage_class))
        objects.append(statefulset(spec, storage_class, replicas, claim=claim))
    else:
        objects.append(statefulset(spec, storage_class, replicas))
    return objects


def client_command() -> list[str]:
    """The fio client of a run: a host *file*, so every listed server runs the job."""
    return ["fio", f"--client={JOB_MOUNT}/hosts", f"{JOB_MOUNT}/job.fio", "--output-format=json+"]


def run_configmap(
    spec: KubernetesSettings, name: str, job_text: str, hosts: list[str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": labels(component="run"),
        },
        "data": {"job.fio": job_text, "hosts": "".join(line + "\n" for line in hosts)},
    }


def run_job(spec: KubernetesSettings, name: str, deadline_s: int) -> dict[str, Any]:
    """A batch/v1 Job whose one pod runs the fio client; its log is fio's output and then
    the framed time-series logs (logframe)."""
    run_labels = labels(component="run")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": run_labels},
        "spec": {
            # A failed fio run is a finding, not something to retry.
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s,
            "template": {
                "metadata": {"labels": run_labels},
                "spec": {
                    **scheduling(spec),
                    "restartPolicy": "Never",
                    # The client talks to fio servers only: no token, no RBAC needed.
                    "automountServiceAccountToken": False,
                    "securityContext": copy.deepcopy(POD_SECURITY),
                    "containers": [
                        {
                            "name": "fio-client",
                            "image": spec.image,
                            # $1: the job directory (a whole argument, so a runtime that
                            # maps mount paths sees it).
                            "command": ["sh", "-c", client_script(), "fio-client", JOB_MOUNT],
                            # fio writes its time-series logs here; any UID may write /tmp.
                            "workingDir": "/tmp",
                            "securityContext": copy.deepcopy(CONTAINER_SECURITY),
                            "volumeMounts": [{"name": "job", "mountPath": JOB_MOUNT}],
                        }
                    ],
                    "volumes": [{"name": "job", "configMap": {"name": name}}],
                },
            },
        },
    }
