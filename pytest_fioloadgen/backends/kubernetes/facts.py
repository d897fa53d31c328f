"""Cluster and storage-class facts for the fingerprint of Kubernetes runs.

``cluster`` is the identity history keys compare: the kube-system namespace's uid (the
conventional cluster id), or the API server's address when that cannot be read. Version,
node count and context are recorded beside it under ``kubernetes``. A storage class
contributes its provisioner, parameters and policies, so runs on different classes or
provisioner settings never share a history key.
"""

from __future__ import annotations

from typing import Any

from .api import KubeApi, KubeApiError


def cluster_facts(api: KubeApi) -> dict[str, Any]:
    # The identity is the cluster's, not the address it was reached at: the same cluster
    # through another endpoint or kubeconfig keeps its history.
    try:
        system = api.call("read namespace kube-system", api.core.read_namespace, "kube-system")
        cluster: dict[str, Any] = {"id": str(system.metadata.uid)}
    except KubeApiError:
        cluster = {"server": api.info.server}  # not allowed to read it: the address will do
    kubernetes: dict[str, Any] = {"context": api.info.context, "server": api.info.server}
    try:
        kubernetes["version"] = str(api.call("read version", api.version.get_code).git_version)
    except KubeApiError:
        kubernetes["version"] = "unknown"
    try:
        kubernetes["nodes"] = len(api.call("list nodes", api.core.list_node).items)
    except KubeApiError:
        kubernetes["nodes"] = None
    return {"cluster": cluster, "kubernetes": kubernetes}


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
