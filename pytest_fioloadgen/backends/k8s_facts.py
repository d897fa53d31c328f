"""Cluster and storage-class facts for the fingerprint of Kubernetes runs.

``cluster`` is the identity history keys compare (the kube-system namespace's uid, the
conventional cluster id, and the API server); version and node count are recorded beside
it. A storage class contributes its provisioner, parameters and policies, so runs on
different classes or provisioner settings never share a history key.
"""

from __future__ import annotations

from typing import Any

from .k8s_api import KubeApi, KubeApiError


def cluster_facts(api: KubeApi) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    cluster_id = api.info.server
    try:
        system = api.call("read namespace kube-system", api.core.read_namespace, "kube-system")
        cluster_id = str(system.metadata.uid)
    except KubeApiError:
        pass  # not allowed to read it: the server address still tells clusters apart
    facts["cluster"] = {"id": cluster_id, "server": api.info.server}
    kubernetes: dict[str, Any] = {"context": api.info.context}
    try:
        kubernetes["version"] = str(api.call("read version", api.version.get_code).git_version)
    except KubeApiError:
        kubernetes["version"] = "unknown"
    try:
        kubernetes["nodes"] = len(api.call("list nodes", api.core.list_node).items)
    except KubeApiError:
        kubernetes["nodes"] = None
    facts["kubernetes"] = kubernetes
    return facts


def storage_class_facts(api: KubeApi, storage_class: str) -> dict[str, Any]:
    try:
        item = api.call(
            f"read storageclass {storage_class}", api.storage.read_storage_class, storage_class
        )
    except KubeApiError:
        return {"provisioner": "unknown"}
    return {
        "provisioner": str(item.provisioner),
        "parameters": dict(item.parameters or {}),
        "reclaim_policy": item.reclaim_policy,
        "volume_binding_mode": item.volume_binding_mode,
    }
