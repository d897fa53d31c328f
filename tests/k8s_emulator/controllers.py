"""The controllers of the emulator: what a cluster does after the API stored an object.

StatefulSet -> PVCs (from volumeClaimTemplates) and pods, all at once; Deployment ->
``replicas`` pods from its template (a deleted one is replaced under a new name); DaemonSet
-> a pod per node, pinned there by node affinity and tolerating a cordon, as the DaemonSet
controller makes them; PodDisruptionBudget -> its status, and the Eviction API's decision
(disruption.py); PVC -> Bound (or
Pending with a ProvisioningFailed event); pod -> scheduled, a real process started in
its sandbox, Ready ``ready_delay_s`` after its creation; Job -> a pod whose command really runs and
whose output is its log; deletion of a namespace cascades, deletion of an owner deletes
its pods unless orphaned (a Job's default, as in Kubernetes).

Behaviour for failure tests is switched on through ``Config`` (``POST /_emulator/config``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import shutil
import sys
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import admission, disruption
from .api import BY_PLURAL, ApiServer, ApiStatus, Resource, Store, now_rfc3339
from .runtime import PodGone, Runtime
from .scheduler import choose_node

CLUSTER_DOMAIN = "svc"


@dataclass
class Config:
    """Knobs for the emulated cluster (all settable over HTTP)."""

    #: emulated pod start: creation to Ready (sandbox and process setup included)
    ready_delay_s: float = 0.2
    namespace_delete_delay_s: float = 0.1
    #: image -> ErrImagePull | ImagePullBackOff | CrashLoopBackOff
    images: dict[str, str] = field(default_factory=dict)
    #: storage classes whose PVCs are never provisioned
    pending_storage_classes: list[str] = field(default_factory=list)
    #: when set, pods stay Pending with this Unschedulable message
    unschedulable: str | None = None
    #: at most this many pods per namespace; beyond it FailedCreate "exceeded quota"
    quota_pods: int | None = None
    #: when set, the StatefulSet controller's pod creation is refused with this message
    forbid_pods: str | None = None
    #: act as OpenShift: namespaces get a UID range, pods are admitted by restricted-v2
    openshift: bool = False
    #: raw block claims are loop devices of at most this size (the claim's, if smaller)
    block_size_cap_bytes: int = 256 * 1024**2

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if not hasattr(self, key):
                raise ApiStatus(422, "Invalid", f"unknown emulator setting {key!r}")
            setattr(self, key, value)


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def _bytes(quantity: str) -> int:
    match = re.match(r"^(\d+)([A-Za-z]*)$", quantity)
    if match is None:
        return 1024**3
    return int(match.group(1)) * _UNITS.get(match.group(2), 1)


def _identity(pod: dict[str, Any], container: dict[str, Any]) -> tuple[int, int, list[int]] | None:
    """(uid, gid, supplementary groups) the container runs as, or None for root.

    The emulator knows no image's USER: a pod that sets no runAsUser runs as root. With
    one, the process really runs as it (group runAsGroup, else 0 as OpenShift's arbitrary
    UIDs; fsGroup and supplementalGroups as supplementary groups), so a volume it may not
    write fails as on a real node.
    """
    pod_security = pod["spec"].get("securityContext") or {}
    security = container.get("securityContext") or {}
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    if uid is None or int(uid) == 0:
        return None
    gid = int(security.get("runAsGroup", pod_security.get("runAsGroup", 0)))
    groups = [int(g) for g in pod_security.get("supplementalGroups", [])]
    if pod_security.get("fsGroup") is not None:
        groups.insert(0, int(pod_security["fsGroup"]))
    return int(uid), gid, groups


def _apply_fs_group(root: Path, gid: int, policy: str) -> None:
    """What the kubelet does for fsGroup on every mount (volume_linux.go): group owner
    ``gid``, group read-write on files, group rwx and setgid on directories, recursively.
    With fsGroupChangePolicy OnRootMismatch it stops at a root that already matches."""
    info = root.stat()
    if policy == "OnRootMismatch" and info.st_gid == gid and info.st_mode & 0o2770 == 0o2770:
        return
    for directory, _dirs, files in os.walk(root):
        os.chown(directory, -1, gid)
        os.chmod(directory, os.stat(directory).st_mode | 0o2770)
        for name in files:
            path = os.path.join(directory, name)
            os.chown(path, -1, gid)
            os.chmod(path, os.stat(path).st_mode | 0o660)


#: What the DaemonSet controller adds to its pods (the DaemonSet page's "Taints and
#: tolerations"): they stay on nodes under pressure, unreachable or cordoned.
DAEMONSET_TOLERATIONS = tuple(
    {"key": f"node.kubernetes.io/{key}", "operator": "Exists", "effect": effect}
    for key, effect in (
        ("not-ready", "NoExecute"),
        ("unreachable", "NoExecute"),
        ("disk-pressure", "NoSchedule"),
        ("memory-pressure", "NoSchedule"),
        ("pid-pressure", "NoSchedule"),
        ("unschedulable", "NoSchedule"),
    )
)


def daemon_node(pod: dict[str, Any]) -> str | None:
    """The node a DaemonSet's pod is pinned to (its required matchFields affinity)."""
    affinity = (pod["spec"].get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for field_ in term.get("matchFields") or []:
            if field_.get("key") == "metadata.name" and field_.get("values"):
                return str(field_["values"][0])
    return pod["spec"].get("nodeName")


def disruption_covering(budgets: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]]:
    labels = pod["metadata"].get("labels") or {}
    return [
        b
        for b in budgets
        if disruption.selector_matches((b.get("spec") or {}).get("selector"), labels)
    ]


def _key(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return f"{meta['namespace']}/{meta['name']}/{meta['uid']}"


class Cluster:
    """Controllers over one ApiServer's store, running pods in one Runtime."""

    def __init__(self, server: ApiServer, runtime: Runtime, config: Config) -> None:
        self.server = server
        self.store: Store = server.store
        self.runtime = runtime
        self.config = config
        self.workdir = runtime.workdir
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pod_tasks: dict[tuple[str, str], asyncio.Task[Any]] = {}
        self._reconciled: dict[str, str] = {}
        self._aliases: dict[tuple[str, str], dict[str, str]] = {}
        server.on_delete = self.delete
        server.logs = self.log_of
        server.control = config.update
        server.evict = self.evict
        server.act = self.act
        #: (namespace, claim) -> loop device of a raw block claim
        self._devices: dict[tuple[str, str], str] = {}
        #: pod keys whose process exit is an OOM kill being reported (not a crash)
        self._oom_killed: dict[str, bool] = {}
        #: (namespace, budget) -> evictions still to refuse (act "pdb", disruption.py)
        self._holds: dict[tuple[str, str], int] = {}
        self.store.listeners.append(self._changed)

    # -- bootstrapping ---------------------------------------------------------------
    def seed(self, storage_classes: dict[str, dict[str, Any]], nodes: int) -> None:
        self.store.add(BY_PLURAL["namespaces"], "", {"metadata": {"name": "kube-system"}})
        self.store.add(BY_PLURAL["namespaces"], "", {"metadata": {"name": "default"}})
        for index in range(nodes):
            self.store.add(
                BY_PLURAL["nodes"],
                "",
                {
                    "metadata": {
                        "name": f"emulated-node-{index + 1}",
                        "labels": {
                            "kubernetes.io/hostname": f"emulated-node-{index + 1}",
                            "topology.kubernetes.io/zone": f"zone-{index % 2 + 1}",
                        },
                    },
                    "spec": {},
                    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                },
            )
        for name, spec in storage_classes.items():
            self.store.add(
                BY_PLURAL["storageclasses"],
                "",
                {
                    "metadata": {"name": name},
                    "provisioner": spec.get("provisioner", "emulator.fioloadgen.io/hostpath"),
                    "parameters": spec.get("parameters", {}),
                    "reclaimPolicy": "Delete",
                    "volumeBindingMode": "Immediate",
                },
            )

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A controller bug must show, not leave the emulated cluster silently stuck.
            traceback.print_exception(task.exception(), file=sys.stderr)

    def _changed(self, kind: str, plural: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if plural == "pods":
            # The disruption controller follows the pods its budgets cover.
            self._budgets(meta["namespace"])
        if kind == "ADDED" and plural == "statefulsets":
            self._spawn(self.reconcile_statefulset(meta["namespace"], meta["name"]))
        elif kind == "MODIFIED" and plural == "statefulsets":
            # Only a spec change needs a reconcile (status updates are our own).
            spec = json.dumps(obj.get("spec"), sort_keys=True)
            if self._reconciled.get(meta["uid"]) != spec:
                self._spawn(self.reconcile_statefulset(meta["namespace"], meta["name"]))
        elif plural == "deployments" and kind in ("ADDED", "MODIFIED"):
            spec = json.dumps(obj.get("spec"), sort_keys=True)
            if self._reconciled.get(meta["uid"]) != spec:
                self._spawn(self.reconcile_deployment(meta["namespace"], meta["name"]))
        elif plural == "daemonsets" and kind in ("ADDED", "MODIFIED"):
            spec = json.dumps(obj.get("spec"), sort_keys=True)
            if self._reconciled.get(meta["uid"]) != spec:
                self._spawn(self.reconcile_daemonset(meta["namespace"], meta["name"]))
        elif plural == "poddisruptionbudgets" and kind in ("ADDED", "MODIFIED"):
            self._budgets(meta["namespace"])
        elif kind == "ADDED" and plural == "jobs":
            self._spawn(self.start_job(meta["namespace"], meta["name"]))
        elif kind == "ADDED" and plural == "persistentvolumeclaims":
            self._spawn(self.bind_pvc(meta["namespace"], meta["name"]))
        elif kind == "DELETED" and plural == "pods":
            # A StatefulSet replaces a deleted pod under the same name (a new IP).
            for ref in meta.get("ownerReferences", []):
                if ref.get("kind") == "StatefulSet":
                    self._spawn(self.reconcile_statefulset(meta["namespace"], ref["name"]))
                elif ref.get("kind") == "Deployment":
                    self._spawn(self.reconcile_deployment(meta["namespace"], ref["name"]))
                elif ref.get("kind") == "DaemonSet":
                    self._spawn(self.reconcile_daemonset(meta["namespace"], ref["name"]))
        elif kind == "ADDED" and plural == "pods":
            key = (meta["namespace"], meta["name"])
            self._pod_tasks[key] = self._spawn(self.run_pod(*key))
        elif kind == "ADDED" and plural == "namespaces" and self.config.openshift:
            # OpenShift's namespace controller gives each namespace its own UID range.
            updated = copy.deepcopy(obj)
            annotations = updated["metadata"].setdefault("annotations", {})
            annotations.setdefault(admission.UID_RANGE_ANNOTATION, admission.DEFAULT_UID_RANGE)
            self.store.update(BY_PLURAL["namespaces"], updated)

    def event(self, namespace: str, involved: dict[str, Any], reason: str, message: str) -> None:
        meta = involved["metadata"]
        self.store.add(
            BY_PLURAL["events"],
            namespace,
            {
                "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}"},
                "involvedObject": {
                    "kind": involved["kind"],
                    "name": meta["name"],
                    "namespace": namespace,
                    "uid": meta["uid"],
                },
                "reason": reason,
                "message": message,
                "type": "Warning",
                "count": 1,
                "firstTimestamp": now_rfc3339(),
                "lastTimestamp": now_rfc3339(),
            },
        )

    def _owner_ref(self, owner: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
        }

    def _set_status(self, plural: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        meta = obj["metadata"]
        current = self.store.get(plural, meta.get("namespace", ""), meta["name"])
        if current is None or current["metadata"]["uid"] != meta["uid"]:
            return
        updated = copy.deepcopy(current)
        updated["status"] = {**current.get("status", {}), **status}
        if updated["status"] == current.get("status"):
            return
        self.store.update(BY_PLURAL[plural], updated)

    # -- StatefulSet -----------------------------------------------------------------
    async def reconcile_statefulset(self, namespace: str, name: str) -> None:
        sts = self.store.get("statefulsets", namespace, name)
        namespace_obj = self.store.get("namespaces", "", namespace)
        if (
            sts is None
            or namespace_obj is None
            or namespace_obj.get("status", {}).get("phase") == "Terminating"
        ):
            return
        self._reconciled[sts["metadata"]["uid"]] = json.dumps(sts.get("spec"), sort_keys=True)
        spec = sts["spec"]
        replicas = int(spec.get("replicas", 1))
        template = spec["template"]
        existing = {
            pod["metadata"]["name"]: pod
            for pod in self.store.items("pods", namespace)
            if any(
                ref["uid"] == sts["metadata"]["uid"]
                for ref in pod["metadata"].get("ownerReferences", [])
            )
        }
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            if pod_name in existing or self.store.get("pods", namespace, pod_name):
                continue
            refusal, admitted, annotations = self._pod_refusal(
                namespace, pod_name, template["spec"]
            )
            if refusal is not None:
                self.event(namespace, sts, "FailedCreate", refusal)
                continue
            volumes = list(admitted.get("volumes", []))
            for claim in spec.get("volumeClaimTemplates", []):
                claim_name = f"{claim['metadata']['name']}-{pod_name}"
                if self.store.get("persistentvolumeclaims", namespace, claim_name) is None:
                    self.store.add(
                        BY_PLURAL["persistentvolumeclaims"],
                        namespace,
                        {
                            "metadata": {
                                "name": claim_name,
                                "labels": dict(claim["metadata"].get("labels", {})),
                            },
                            "spec": copy.deepcopy(claim["spec"]),
                            "status": {"phase": "Pending"},
                        },
                    )
                volumes.append(
                    {
                        "name": claim["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": claim_name},
                    }
                )
            pod_spec = copy.deepcopy(admitted)
            pod_spec["volumes"] = volumes
            pod_spec["hostname"] = pod_name
            pod_spec["subdomain"] = spec.get("serviceName", name)
            labels = {
                **template["metadata"].get("labels", {}),
                "statefulset.kubernetes.io/pod-name": pod_name,
            }
            self.store.add(
                BY_PLURAL["pods"],
                namespace,
                {
                    "metadata": {
                        "name": pod_name,
                        "labels": labels,
                        "annotations": annotations,
                        "ownerReferences": [self._owner_ref(sts)],
                    },
                    "spec": pod_spec,
                    "status": {"phase": "Pending"},
                },
            )
        for pod_name in existing:
            if int(pod_name.rsplit("-", 1)[1]) >= replicas:
                self.delete(BY_PLURAL["pods"], namespace, pod_name, {})
        self._set_status("statefulsets", sts, {"replicas": replicas})

    # -- Deployment ------------------------------------------------------------------
    async def reconcile_deployment(self, namespace: str, name: str) -> None:
        """Pods from the template up to ``replicas`` (no ReplicaSet in between: the pods
        are owned by the Deployment itself); a changed template replaces them all, as the
        Recreate strategy does."""
        deployment = self.store.get("deployments", namespace, name)
        namespace_obj = self.store.get("namespaces", "", namespace)
        if (
            deployment is None
            or namespace_obj is None
            or namespace_obj.get("status", {}).get("phase") == "Terminating"
        ):
            return
        uid = deployment["metadata"]["uid"]
        spec = deployment["spec"]
        revision = json.dumps(spec["template"], sort_keys=True)
        revision_hash = uuid.uuid5(uuid.NAMESPACE_OID, revision).hex[:10]
        self._reconciled[uid] = json.dumps(spec, sort_keys=True)
        owned = [
            pod
            for pod in self.store.items("pods", namespace)
            if any(ref["uid"] == uid for ref in pod["metadata"].get("ownerReferences", []))
        ]
        current = []
        for pod in owned:
            if pod["metadata"].get("annotations", {}).get("emulator/template") == revision:
                current.append(pod)
            else:
                self.delete(BY_PLURAL["pods"], namespace, pod["metadata"]["name"], {})
        replicas = int(spec.get("replicas", 1))
        for pod in current[replicas:]:
            self.delete(BY_PLURAL["pods"], namespace, pod["metadata"]["name"], {})
        template = spec["template"]
        for _ in range(replicas - len(current)):
            replica_set = f"{name}-{revision_hash}"
            pod_name = f"{replica_set}-{uuid.uuid4().hex[:5]}"
            refusal, admitted, annotations = self._pod_refusal(
                namespace, pod_name, template["spec"]
            )
            if refusal is not None:
                # A Deployment's pods are created, and refused, by its ReplicaSet.
                involved = {
                    "kind": "ReplicaSet",
                    "metadata": {"name": replica_set, "uid": f"{uid}-rs"},
                }
                self.event(namespace, involved, "FailedCreate", refusal)
                continue
            self.store.add(
                BY_PLURAL["pods"],
                namespace,
                {
                    "metadata": {
                        "name": pod_name,
                        "labels": dict(template["metadata"].get("labels", {})),
                        "annotations": {"emulator/template": revision, **annotations},
                        "ownerReferences": [self._owner_ref(deployment)],
                    },
                    "spec": copy.deepcopy(admitted),
                    "status": {"phase": "Pending"},
                },
            )
        self._set_status("deployments", deployment, {"replicas": replicas})

    # -- DaemonSet -------------------------------------------------------------------
    async def reconcile_daemonset(self, namespace: str, name: str) -> None:
        """A pod per node its template's nodeSelector allows, made as the DaemonSet
        controller makes them: required node affinity on ``metadata.name`` (the scheduler
        binds it there) and the controller's tolerations, among them
        ``node.kubernetes.io/unschedulable`` (a cordoned node keeps its daemon)."""
        daemonset = self.store.get("daemonsets", namespace, name)
        namespace_obj = self.store.get("namespaces", "", namespace)
        if (
            daemonset is None
            or namespace_obj is None
            or namespace_obj.get("status", {}).get("phase") == "Terminating"
        ):
            return
        uid = daemonset["metadata"]["uid"]
        self._reconciled[uid] = json.dumps(daemonset.get("spec"), sort_keys=True)
        template = daemonset["spec"]["template"]
        selector = template["spec"].get("nodeSelector") or {}
        covered = {
            daemon_node(pod)
            for pod in self.store.items("pods", namespace)
            if any(ref["uid"] == uid for ref in pod["metadata"].get("ownerReferences", []))
        }
        nodes = [
            node["metadata"]["name"]
            for node in self.store.items("nodes")
            if all(node["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        for node in nodes:
            if node in covered:
                continue
            pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
            refusal, admitted, annotations = self._pod_refusal(
                namespace, pod_name, template["spec"]
            )
            if refusal is not None:
                self.event(namespace, daemonset, "FailedCreate", refusal)
                continue
            pod_spec = copy.deepcopy(admitted)
            pod_spec["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchFields": [
                                    {"key": "metadata.name", "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                }
            }
            pod_spec["tolerations"] = list(pod_spec.get("tolerations") or []) + [
                dict(toleration) for toleration in DAEMONSET_TOLERATIONS
            ]
            self.store.add(
                BY_PLURAL["pods"],
                namespace,
                {
                    "metadata": {
                        "name": pod_name,
                        "labels": dict(template["metadata"].get("labels", {})),
                        "annotations": annotations,
                        "ownerReferences": [self._owner_ref(daemonset)],
                    },
                    "spec": pod_spec,
                    "status": {"phase": "Pending"},
                },
            )
        self._set_status(
            "daemonsets",
            daemonset,
            {
                "desiredNumberScheduled": len(nodes),
                "currentNumberScheduled": len(nodes),
                "numberMisscheduled": 0,
                "numberReady": 0,
            },
        )

    # -- PodDisruptionBudget -----------------------------------------------------------
    def _scale_of(self, pod: dict[str, Any]) -> int | None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            plural = {"StatefulSet": "statefulsets", "Deployment": "deployments"}.get(
                ref.get("kind", "")
            )
            if ref.get("controller") and plural is not None:
                owner = self.store.get(plural, pod["metadata"]["namespace"], ref["name"])
                if owner is not None:
                    return int(owner["spec"].get("replicas", 1))
        return None

    def _budgets(self, namespace: str) -> None:
        """The disruption controller: every budget's status over its pods, now."""
        budgets = self.store.items("poddisruptionbudgets", namespace)
        if not budgets:
            return
        pods = self.store.items("pods", namespace)
        for budget in budgets:
            held = self._holds.get((namespace, budget["metadata"]["name"]), 0) > 0
            status = disruption.status(budget, pods, self._scale_of, held=held)
            if status != budget.get("status"):
                updated = copy.deepcopy(budget)
                updated["status"] = status
                self.store.update(BY_PLURAL["poddisruptionbudgets"], updated)

    def _check_budget(self, namespace: str, pod: dict[str, Any]) -> None:
        """The Eviction API's budget check: a 429 or 500 ApiStatus, or the budget is
        decremented and the pod recorded as disrupted."""
        if disruption.can_skip_budget(pod):
            return
        budgets = disruption_covering(self.store.items("poddisruptionbudgets", namespace), pod)
        if len(budgets) > 1:
            raise disruption.two_budgets()
        if not budgets:
            return
        budget = budgets[0]
        key = (namespace, budget["metadata"]["name"])
        if self._holds.get(key, 0) > 0:
            self._holds[key] -= 1
            refusal = disruption.refuse(budget)
            self._budgets(namespace)
            raise refusal
        status = budget.get("status") or {}
        healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
        if not disruption.is_ready(pod) and healthy >= desired and desired > 0:
            return  # not Ready: not counted as healthy, its eviction costs nothing
        if status.get("disruptionsAllowed", 0) <= 0:
            raise disruption.refuse(budget)
        updated = copy.deepcopy(budget)
        updated["status"]["disruptionsAllowed"] = status["disruptionsAllowed"] - 1
        updated["status"].setdefault("disruptedPods", {})[pod["metadata"]["name"]] = now_rfc3339()
        self.store.update(BY_PLURAL["poddisruptionbudgets"], updated)

    def _pod_refusal(
        self, namespace: str, pod_name: str, pod_spec: dict[str, Any]
    ) -> tuple[str | None, dict[str, Any], dict[str, str]]:
        """(why the pod may not be created, the spec as admitted, annotations to add)."""
        if self.config.forbid_pods:
            return f'pods "{pod_name}" is forbidden: {self.config.forbid_pods}', pod_spec, {}
        quota = self.config.quota_pods
        if quota is not None and len(self.store.items("pods", namespace)) >= quota:
            return (
                (
                    f'pods "{pod_name}" is forbidden: exceeded quota: pods-quota, requested: '
                    f"pods=1, used: pods={quota}, limited: pods={quota}"
                ),
                pod_spec,
                {},
            )
        namespace_obj = self.store.get("namespaces", "", namespace) or {"metadata": {}}
        classes = {pc["metadata"]["name"] for pc in self.store.items("priorityclasses")}
        return admission.refusal(pod_name, pod_spec, namespace_obj, classes, self.config.openshift)

    # -- PVC -------------------------------------------------------------------------
    async def bind_pvc(self, namespace: str, name: str) -> None:
        pvc = self.store.get("persistentvolumeclaims", namespace, name)
        if pvc is None:
            return
        storage_class = pvc["spec"].get("storageClassName")
        if self.store.get("storageclasses", "", storage_class or "") is None:
            self.event(
                namespace,
                pvc,
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{storage_class}" not found',
            )
            return
        if storage_class in self.config.pending_storage_classes:
            self.event(
                namespace,
                pvc,
                "ProvisioningFailed",
                f"failed to provision volume with StorageClass {storage_class!r}: "
                "emulated provisioner failure",
            )
            return
        if pvc["spec"].get("volumeMode") == "Block":
            size = min(
                _bytes(pvc["spec"]["resources"]["requests"]["storage"]),
                self.config.block_size_cap_bytes,
            )
            backing = self.workdir / "devices" / namespace / f"{name}.img"
            device = await asyncio.to_thread(self.runtime.attach_loop, backing, size)
            if self.store.get("persistentvolumeclaims", namespace, name) is None:
                await asyncio.to_thread(self.runtime.detach_loop, device)
                return
            self._devices[(namespace, name)] = device
        else:
            self.volume_dir(namespace, name).mkdir(parents=True, exist_ok=True)
        self._set_status("persistentvolumeclaims", pvc, {"phase": "Bound"})

    def device_of(self, namespace: str, claim: str) -> str | None:
        """The loop device of a raw block claim (for tests)."""
        return self._devices.get((namespace, claim))

    def _release_claim(self, namespace: str, claim: str) -> None:
        device = self._devices.pop((namespace, claim), None)
        if device is not None:
            self.runtime.detach_loop(device)

    def volume_dir(self, namespace: str, claim: str) -> Path:
        return self.workdir / "volumes" / namespace / claim

    # -- pods ------------------------------------------------------------------------
    def _pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get("pods", namespace, name)

    def _condition(
        self, kind: str, status: bool, reason: str = "", message: str = ""
    ) -> dict[str, Any]:
        condition = {
            "type": kind,
            "status": "True" if status else "False",
            "lastTransitionTime": now_rfc3339(),
        }
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        return condition

    async def _claims_bound(self, namespace: str, pod: dict[str, Any]) -> bool:
        for volume in pod["spec"].get("volumes", []):
            claim = volume.get("persistentVolumeClaim")
            if claim is None:
                continue
            pvc = self.store.get("persistentvolumeclaims", namespace, claim["claimName"])
            if pvc is None or pvc.get("status", {}).get("phase") != "Bound":
                return False
        return True

    async def run_pod(self, namespace: str, name: str) -> None:
        # A pod's start time counts from its creation, as a kubelet's does: sandbox and
        # process setup are part of it, not added on top.
        ready_at = asyncio.get_running_loop().time() + self.config.ready_delay_s
        pod = self._pod(namespace, name)
        if pod is None:
            return
        uid = pod["metadata"]["uid"]

        def current() -> dict[str, Any] | None:
            # The same pod, not a new one of the same name (a StatefulSet's replacement,
            # or a namespace deleted and made again while this task slept).
            found = self._pod(namespace, name)
            return found if found is not None and found["metadata"]["uid"] == uid else None

        if self.config.unschedulable:
            self._unschedulable(pod, self.config.unschedulable)
            return
        waited = False
        while not await self._claims_bound(namespace, pod):
            if not waited:
                self._unschedulable(
                    pod,
                    "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.",
                )
                waited = True
            await asyncio.sleep(0.1)
            pod = current()
            if pod is None:
                return
        # A pod created with spec.nodeName (a mirror pod, a DaemonSet's of old) is bound
        # already: the scheduler never sees it.
        node = pod["spec"].get("nodeName") or None
        while node is None:
            # Filters and spread against the pods bound so far; no await in between, so
            # pods starting together see each other's nodes.
            placed = [p for p in self.store.items("pods", namespace) if p["spec"].get("nodeName")]
            node, why = choose_node(pod, self.store.items("nodes"), placed)
            if node is None:
                if waited != why:
                    self._unschedulable(pod, why)
                    waited = why
                await asyncio.sleep(0.25)
                pod = current()
                if pod is None:
                    return
        pod = copy.deepcopy(pod)
        pod["spec"]["nodeName"] = node
        self.store.update(BY_PLURAL["pods"], pod)
        container = pod["spec"]["containers"][0]
        image = container.get("image", "")
        behaviour = self.config.images.get(image)
        key = _key(pod)
        try:
            sandbox = await asyncio.to_thread(self.runtime.create_sandbox, key)
        except PodGone:
            return
        scheduled = self._condition("PodScheduled", True)
        base_status = {
            "hostIP": sandbox.ip,
            "podIP": sandbox.ip,
            "podIPs": [{"ip": sandbox.ip}],
            "startTime": now_rfc3339(),
        }
        pod = current()
        if pod is None:
            await asyncio.to_thread(self.runtime.stop, key)
            return
        if behaviour in ("ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"):
            message = {
                "ErrImagePull": f'rpc error: pulling image "{image}": not found',
                "ImagePullBackOff": f'Back-off pulling image "{image}"',
                "CrashLoopBackOff": f"back-off 40s restarting failed container={container['name']}",
            }[behaviour]
            self._set_status(
                "pods",
                pod,
                {
                    **base_status,
                    "phase": "Pending" if "Image" in behaviour else "Running",
                    "conditions": [
                        scheduled,
                        self._condition("Ready", False, "ContainersNotReady"),
                    ],
                    "containerStatuses": [
                        {
                            "name": container["name"],
                            "image": image,
                            "imageID": "",
                            "ready": False,
                            "restartCount": 3 if behaviour == "CrashLoopBackOff" else 0,
                            "state": {"waiting": {"reason": behaviour, "message": message}},
                        }
                    ],
                },
            )
            return
        # The names are read here (the store is the loop's), the file written in a thread.
        await asyncio.to_thread(self.runtime.write_hosts, key, self.dns_names(namespace))
        await self._run_container(namespace, name, pod, sandbox.ip, base_status, ready_at)

    def _unschedulable(self, pod: dict[str, Any], message: str) -> None:
        condition = self._condition("PodScheduled", False, "Unschedulable", message)
        self._set_status("pods", pod, {"conditions": [condition]})

    async def _run_container(
        self,
        namespace: str,
        name: str,
        pod: dict[str, Any],
        ip: str,
        base_status: dict[str, Any],
        ready_at: float,
        restarts: int = 0,
        last_state: dict[str, Any] | None = None,
    ) -> None:
        """Start the pod's container and follow it: Ready once it answers, its exit the
        pod's phase for a run-to-completion pod."""
        container = pod["spec"]["containers"][0]
        image = container.get("image", "")
        key = _key(pod)
        scheduled = self._condition("PodScheduled", True)
        argv, cwd, env, devices = self._command(namespace, pod, ip)
        identity = _identity(pod, container)
        log = self.workdir / "logs" / namespace / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if not restarts:
            log.write_bytes(b"")
        try:
            process = await asyncio.to_thread(
                self.runtime.start,
                key,
                argv,
                cwd=cwd,
                log=log,
                env=env,
                devices=devices,
                identity=identity,
            )
        except PodGone:
            return
        running = {
            "name": container["name"],
            "image": image,
            "imageID": f"emulated://{image}",
            "containerID": f"emulated://{key}/{restarts}",
            "ready": False,
            "restartCount": restarts,
            "started": True,
            "state": {"running": {"startedAt": now_rfc3339()}},
            **({"lastState": last_state} if last_state else {}),
        }
        self._set_status(
            "pods",
            pod,
            {
                **base_status,
                "phase": "Running",
                "conditions": [scheduled, self._condition("Ready", False, "ContainersNotReady")],
                "containerStatuses": [running],
            },
        )
        restart = pod["spec"].get("restartPolicy", "Always")
        if restart == "Never":
            # A run-to-completion pod: Ready while it runs, its exit status is the result.
            code = await asyncio.to_thread(process.wait)
            await asyncio.to_thread(self.runtime.stop, key)
            finished = {
                **running,
                "ready": False,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": code,
                        "reason": "Completed" if code == 0 else "Error",
                        "finishedAt": now_rfc3339(),
                    }
                },
            }
            self._set_status(
                "pods",
                pod,
                {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [finished]},
            )
            return
        await asyncio.sleep(max(0.0, ready_at - asyncio.get_running_loop().time()))
        probe = container.get("readinessProbe", {}).get("httpGet")
        while probe is not None and process.poll() is None:
            # Ready once the process answers the probe, as a kubelet's httpGet probe.
            if await asyncio.to_thread(
                self.runtime.http_ok, key, ip, int(probe["port"]), probe.get("path", "/")
            ):
                break
            await asyncio.sleep(0.2)
            if self._pod(namespace, name) is None:
                return
        if process.poll() is not None:
            if self._oom_killed.pop(key, False):
                return  # act("oom") reports it and restarts the container
            self._set_status(
                "pods",
                pod,
                {
                    "containerStatuses": [
                        {
                            **running,
                            "state": {
                                "waiting": {
                                    "reason": "CrashLoopBackOff",
                                    "message": f"exited with {process.returncode}",
                                }
                            },
                        }
                    ]
                },
            )
            return
        self._set_status(
            "pods",
            pod,
            {
                "conditions": [scheduled, self._condition("Ready", True)],
                "containerStatuses": [{**running, "ready": True}],
            },
        )

    # -- faults: OOM kill, eviction ------------------------------------------------------
    def act(self, what: str, body: dict[str, Any]) -> None:
        if what == "oom":
            self._spawn(self.oom_kill(body["namespace"], body["pod"]))
        elif what == "pdb":
            # The next ``hold`` evictions the budget is asked about are refused (429).
            self._holds[(body["namespace"], body["name"])] = int(body["hold"])
            self._budgets(body["namespace"])

    async def oom_kill(self, namespace: str, name: str) -> None:
        """The kernel's OOM killer on the pod's container, then the kubelet's restart."""
        pod = self._pod(namespace, name)
        if pod is None:
            raise ApiStatus(404, "NotFound", f"no pod {namespace}/{name}")
        key = _key(pod)
        self._oom_killed[key] = True
        code = await asyncio.to_thread(self.runtime.kill, key)
        pod = self._pod(namespace, name)
        if pod is None:
            return
        before = (pod.get("status", {}).get("containerStatuses") or [{}])[0]
        terminated = {
            "terminated": {
                "exitCode": code or 137,
                "reason": "OOMKilled",
                "startedAt": before.get("state", {}).get("running", {}).get("startedAt"),
                "finishedAt": now_rfc3339(),
                "containerID": before.get("containerID", ""),
            }
        }
        restarts = int(before.get("restartCount", 0)) + 1
        base = {k: pod["status"][k] for k in ("hostIP", "podIP", "podIPs", "startTime")}
        self._set_status(
            "pods",
            pod,
            {
                "conditions": [
                    self._condition("PodScheduled", True),
                    self._condition("Ready", False, "ContainersNotReady"),
                ],
                "containerStatuses": [
                    {
                        **before,
                        "ready": False,
                        "started": False,
                        "restartCount": restarts,
                        "state": {"waiting": {"reason": "ContainerCreating"}},
                        "lastState": terminated,
                    }
                ],
            },
        )
        await asyncio.sleep(0.1)
        pod = self._pod(namespace, name)
        if pod is None:
            return
        ready_at = asyncio.get_running_loop().time() + self.config.ready_delay_s
        self._oom_killed.pop(key, None)
        await self._run_container(
            namespace, name, pod, pod["status"]["podIP"], base, ready_at, restarts, terminated
        )

    def evict(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """The Eviction API (what ``kubectl drain`` calls): the pod's budget is checked
        (disruption.py: 429 while it allows no disruption), then the pod is marked as a
        disruption target and deleted; its controller makes a new one elsewhere."""
        pod = self._pod(namespace, name)
        assert pod is not None
        self._check_budget(namespace, pod)
        updated = copy.deepcopy(pod)
        conditions = [
            c
            for c in updated.get("status", {}).get("conditions", [])
            if c["type"] != "DisruptionTarget"
        ]
        conditions.append(
            self._condition(
                "DisruptionTarget", True, "EvictionByEvictionAPI", "Eviction API: evicting"
            )
        )
        updated.setdefault("status", {})["conditions"] = conditions
        updated["metadata"]["deletionTimestamp"] = now_rfc3339()
        self.store.update(BY_PLURAL["pods"], updated)
        self.delete(BY_PLURAL["pods"], namespace, name, {})
        # As the API server answers a create that returns a Status: its code is 201.
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def _command(
        self, namespace: str, pod: dict[str, Any], ip: str
    ) -> tuple[list[str], Path, dict[str, str], dict[str, str]]:
        """The container's command with volume mount paths mapped to host directories,
        its environment, and its raw block devices (devicePath -> host device)."""
        container = pod["spec"]["containers"][0]
        env = self._env(pod, container, ip)
        mounts: dict[str, Path] = {}
        devices: dict[str, str] = {}
        volumes = {volume["name"]: volume for volume in pod["spec"].get("volumes", [])}
        for device in container.get("volumeDevices", []):
            claim = volumes.get(device["name"], {}).get("persistentVolumeClaim", {})
            host_device = self._devices.get((namespace, claim.get("claimName", "")))
            if host_device is not None:
                devices[device["devicePath"]] = host_device
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"], {})
            if "persistentVolumeClaim" in volume:
                host = self.volume_dir(namespace, volume["persistentVolumeClaim"]["claimName"])
                sub = mount.get("subPath") or re.sub(
                    r"\$\((\w+)\)", lambda m: env.get(m.group(1), ""), mount.get("subPathExpr", "")
                )
                if sub:
                    # The kubelet makes the subdirectory on the volume when it is missing.
                    host = host / sub
                    host.mkdir(parents=True, exist_ok=True)
                pod_security = pod["spec"].get("securityContext") or {}
                if pod_security.get("fsGroup") is not None:
                    _apply_fs_group(
                        host,
                        int(pod_security["fsGroup"]),
                        pod_security.get("fsGroupChangePolicy", "Always"),
                    )
            elif "configMap" in volume:
                host = (
                    self.workdir
                    / "configmaps"
                    / namespace
                    / pod["metadata"]["name"]
                    / mount["name"]
                )
                host.mkdir(parents=True, exist_ok=True)
                source = self.store.get("configmaps", namespace, volume["configMap"]["name"])
                for file_name, text in (source or {}).get("data", {}).items():
                    if not self.runtime.use_netns:
                        text = self._resolve_names(namespace, pod["metadata"]["name"], text)
                    (host / file_name).write_text(text)
            else:
                continue
            mounts[mount["mountPath"]] = host

        def mapped(value: str) -> str:
            # A path argument, or the value of an --option=path; one pass, longest first.
            for path in sorted(mounts, key=len, reverse=True):
                pattern = re.compile(rf"(^|=){re.escape(path.rstrip('/'))}(?=/|$)")
                host = str(mounts[path])
                value, count = pattern.subn(lambda m, host=host: m.group(1) + host, value)
                if count:
                    break
            return value

        argv = [mapped(arg) for arg in container.get("command", []) + container.get("args", [])]
        if not self.runtime.use_netns:
            # Shared loopback: each server must bind its own address.
            argv = [f"--server=ip:{ip},8765" if arg == "--server" else arg for arg in argv]
            argv = [
                ip if arg == "0.0.0.0" and before == "--host" else arg
                for before, arg in zip(["", *argv], argv, strict=False)
            ]
        working = container.get("workingDir")
        cwd = Path(mapped(working)) if working else self.workdir
        if not cwd.is_dir() or str(cwd) == working:
            cwd = self.workdir / "scratch" / namespace / pod["metadata"]["name"]
            cwd.mkdir(parents=True, exist_ok=True)
            # Like a container's /tmp: writable by whatever UID the pod runs as.
            cwd.chmod(0o1777)
        return argv, cwd, env, devices

    @staticmethod
    def _env(pod: dict[str, Any], container: dict[str, Any], ip: str) -> dict[str, str]:
        """The container's environment: values and the downward API fields we use."""
        fields = {
            "metadata.name": pod["metadata"]["name"],
            "metadata.namespace": pod["metadata"].get("namespace", ""),
            "spec.nodeName": pod["spec"].get("nodeName", ""),
            "status.podIP": ip,
        }
        env: dict[str, str] = {}
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = str(item["value"])
            elif "fieldRef" in item.get("valueFrom", {}):
                env[item["name"]] = fields.get(item["valueFrom"]["fieldRef"]["fieldPath"], "")
        return env

    def dns_names(self, namespace: str) -> dict[str, str]:
        """Headless-service names of every pod with an IP in the namespace."""
        names: dict[str, str] = {}
        for pod in self.store.items("pods", namespace):
            ip = pod.get("status", {}).get("podIP")
            subdomain = pod["spec"].get("subdomain")
            if ip and subdomain:
                host = f"{pod['spec']['hostname']}.{subdomain}"
                names[f"{host}.{namespace}.svc.cluster.local"] = ip
                names[f"{host}.{namespace}.{CLUSTER_DOMAIN}"] = ip
                names[host] = ip
        return names

    def _write_hosts(self, namespace: str, key: str) -> None:
        self.runtime.write_hosts(key, self.dns_names(namespace))

    def _resolve_names(self, namespace: str, pod: str, text: str) -> str:
        """Loopback fallback (no per-pod /etc/hosts): names in the pod's files become IPs,
        and the pod's log shows the names again, as fio would print them."""
        aliases = self._aliases.setdefault((namespace, pod), {})
        for name, ip in sorted(self.dns_names(namespace).items(), key=lambda kv: -len(kv[0])):
            if name in text:
                aliases[ip] = name
                text = text.replace(name, ip)
        return text

    def log_of(self, namespace: str, name: str) -> str:
        log = self.workdir / "logs" / namespace / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        for ip, alias in self._aliases.get((namespace, name), {}).items():
            text = re.sub(rf"(?<![\d.]){re.escape(ip)}(?![\d])", alias, text)
        return text

    # -- Jobs ------------------------------------------------------------------------
    async def start_job(self, namespace: str, name: str) -> None:
        job = self.store.get("jobs", namespace, name)
        if job is None:
            return
        template = job["spec"]["template"]
        uid = job["metadata"]["uid"]
        labels = {
            **template["metadata"].get("labels", {}),
            "job-name": name,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "batch.kubernetes.io/controller-uid": uid,
        }
        pod_name = f"{name}-{uuid.uuid4().hex[:5]}"
        refusal, admitted, annotations = self._pod_refusal(namespace, pod_name, template["spec"])
        if refusal is not None:
            self.event(namespace, job, "FailedCreate", refusal)
            return
        self.store.add(
            BY_PLURAL["pods"],
            namespace,
            {
                "metadata": {
                    "name": pod_name,
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [self._owner_ref(job)],
                },
                "spec": copy.deepcopy(admitted),
                "status": {"phase": "Pending"},
            },
        )
        self._set_status("jobs", job, {"active": 1, "startTime": now_rfc3339()})
        task = self._pod_tasks.get((namespace, pod_name))
        if task is not None:
            await asyncio.wait([task])
        pod = self.store.get("pods", namespace, pod_name)
        phase = (pod or {}).get("status", {}).get("phase")
        if phase == "Succeeded":
            self._set_status(
                "jobs",
                job,
                {"active": 0, "succeeded": 1, "conditions": [self._condition("Complete", True)]},
            )
        elif phase == "Failed":
            self._set_status(
                "jobs",
                job,
                {
                    "active": 0,
                    "failed": 1,
                    "conditions": [self._condition("Failed", True, "BackoffLimitExceeded")],
                },
            )

    # -- deletion --------------------------------------------------------------------
    def delete(
        self, resource: Resource, namespace: str, name: str, options: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Deletion with the side effects the API alone does not have."""
        obj = self.store.get(resource.plural, namespace, name)
        if obj is None:
            return None
        if resource.plural == "namespaces":
            if obj.get("status", {}).get("phase") != "Terminating":
                updated = copy.deepcopy(obj)
                updated["metadata"]["deletionTimestamp"] = now_rfc3339()
                updated["status"] = {"phase": "Terminating"}
                obj = self.store.update(resource, updated)
                self._spawn(self._finish_namespace(name))
            return obj
        if resource.plural == "pods":
            self._stop_pod(obj)
        if resource.plural == "persistentvolumeclaims":
            self._release_claim(namespace, name)
        policy = options.get("propagationPolicy")
        if policy is None:
            # As in Kubernetes: deleting a Job through the API orphans its pods by default.
            policy = "Orphan" if resource.plural == "jobs" else "Background"
        removed = self.store.remove(resource, namespace, name)
        if policy != "Orphan":
            uid = removed["metadata"]["uid"]
            for pod in self.store.items("pods", namespace):
                if any(ref.get("uid") == uid for ref in pod["metadata"].get("ownerReferences", [])):
                    self.delete(BY_PLURAL["pods"], namespace, pod["metadata"]["name"], {})
        return removed

    def _stop_pod(self, pod: dict[str, Any]) -> None:
        # Not cancelled: the pod's task notices the pod is gone after its next step, and
        # the runtime refuses to start anything for a stopped key.
        self.runtime.stop(_key(pod))

    async def _finish_namespace(self, namespace: str) -> None:
        await asyncio.sleep(self.config.namespace_delete_delay_s)
        for resource in BY_PLURAL.values():
            if not resource.namespaced:
                continue
            items = self.store.items(resource.plural, namespace)
            if resource.plural == "pods":
                # Pods stop in parallel, as a kubelet's do.
                await asyncio.gather(
                    *(asyncio.to_thread(self.runtime.stop, _key(obj)) for obj in items)
                )
            for obj in items:
                if self.store.get(resource.plural, namespace, obj["metadata"]["name"]):
                    self.store.remove(resource, namespace, obj["metadata"]["name"])
        for ns, claim in [key for key in self._devices if key[0] == namespace]:
            await asyncio.to_thread(self._release_claim, ns, claim)
        shutil.rmtree(self.workdir / "volumes" / namespace, ignore_errors=True)
        if self.store.get("namespaces", "", namespace) is not None:
            self.store.remove(BY_PLURAL["namespaces"], "", namespace)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        await asyncio.to_thread(self.runtime.close)
