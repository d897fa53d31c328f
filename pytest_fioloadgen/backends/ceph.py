"""Ceph facts (Rook / OpenShift Data Foundation) for the fingerprint of Kubernetes runs.

Read through the Rook toolbox pod when one runs (``ceph ... --format json`` by exec) and
parsed from the documented JSON shapes of ``ceph version``, ``ceph osd tree``,
``ceph osd pool ls detail`` and ``ceph node ls``. Parsing is separate from collecting so
it is tested on those shapes without a cluster. A missing toolbox is not an error: the
facts then say why they are absent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import BackendError

#: Where Rook and ODF put the toolbox, and its label.
TOOLBOX_NAMESPACES = ("rook-ceph", "openshift-storage")
TOOLBOX_SELECTOR = "app=rook-ceph-tools"
_POOL_TYPES = {1: "replicated", 3: "erasure"}


def parse_version(document: Mapping[str, Any]) -> str:
    """``{"version": "ceph version 17.2.6 (hash) quincy (stable)"}`` -> "17.2.6 quincy"."""
    text = str(document.get("version", ""))
    match = re.search(r"ceph version (\S+)(?: \([0-9a-f]+\))? ?(\w+)?", text)
    if not match:
        raise BackendError(f"ceph version: unexpected output {text[:80]!r}")
    return f"{match.group(1)} {match.group(2)}".strip() if match.group(2) else match.group(1)


def parse_osd_tree(document: Mapping[str, Any]) -> dict[str, Any]:
    """OSD count by device class, how many are up, and the hosts holding OSDs."""
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        raise BackendError("ceph osd tree: no 'nodes' list in the output")
    osds = [node for node in nodes if node.get("type") == "osd"]
    by_class = Counter(str(node.get("device_class", "unknown")) for node in osds)
    hosts = [node["name"] for node in nodes if node.get("type") == "host" and node.get("children")]
    return {
        "osds": len(osds),
        "osds_up": sum(1 for node in osds if node.get("status") == "up"),
        "osds_by_device_class": dict(sorted(by_class.items())),
        "osd_hosts": len(hosts),
    }


def parse_pools(document: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pools by name: type, replica size, PGs, erasure profile, applications."""
    if not isinstance(document, list):
        raise BackendError("ceph osd pool ls detail: expected a JSON list of pools")
    pools: dict[str, dict[str, Any]] = {}
    for pool in document:
        pools[str(pool["pool_name"])] = {
            "type": _POOL_TYPES.get(int(pool.get("type", 1)), str(pool.get("type"))),
            "size": pool.get("size"),
            "min_size": pool.get("min_size"),
            "pg_num": pool.get("pg_num"),
            "erasure_code_profile": pool.get("erasure_code_profile") or None,
            "applications": sorted(pool.get("application_metadata", {}) or {}),
        }
    return pools


def parse_nodes(document: Mapping[str, Any]) -> dict[str, int]:
    """``ceph node ls``: how many hosts run each daemon type (mon, mgr, osd, mds)."""
    return {role: len(hosts) for role, hosts in sorted(document.items()) if isinstance(hosts, dict)}


def summarize(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Facts from the parsed documents keyed by command (version, osd_tree, pools, nodes)."""
    facts: dict[str, Any] = {"version": parse_version(outputs["version"])}
    facts.update(parse_osd_tree(outputs["osd_tree"]))
    facts["pools"] = parse_pools(outputs["pools"])
    if "nodes" in outputs:
        facts["daemon_hosts"] = parse_nodes(outputs["nodes"])
    return facts


def pool_of(parameters: Mapping[str, Any]) -> str | None:
    """The pool a Ceph CSI storage class provisions from (rbd ``pool``, cephfs ``pool``)."""
    pool = parameters.get("pool") or parameters.get("dataPool")
    return str(pool) if pool else None


COMMANDS = {
    "version": ["ceph", "version", "--format", "json"],
    "osd_tree": ["ceph", "osd", "tree", "--format", "json"],
    "pools": ["ceph", "osd", "pool", "ls", "detail", "--format", "json"],
    "nodes": ["ceph", "node", "ls", "--format", "json"],
}


def collect(api: Any) -> dict[str, Any]:
    """Run the ceph commands in the toolbox pod and summarize them; never raises."""
    from .kubernetes.api import KubeApiError

    try:
        toolbox = _find_toolbox(api)
        if toolbox is None:
            return {"collected": False, "reason": "no rook-ceph-tools pod found"}
        namespace, pod = toolbox
        outputs = {
            key: json.loads(_exec(api, namespace, pod, command))
            for key, command in COMMANDS.items()
        }
        return {"collected": True, **summarize(outputs)}
    except (KubeApiError, BackendError, ValueError, KeyError) as err:
        return {"collected": False, "reason": str(err).splitlines()[0] if str(err) else "error"}


def _find_toolbox(api: Any) -> tuple[str, str] | None:
    from .kubernetes.api import KubeApiError

    for namespace in TOOLBOX_NAMESPACES:
        try:
            pods = api.call(
                f"list pods in {namespace}",
                api.core.list_namespaced_pod,
                namespace,
                label_selector=TOOLBOX_SELECTOR,
            ).items
        except KubeApiError:
            continue
        for pod in pods:
            if pod.status is not None and pod.status.phase == "Running":
                return namespace, str(pod.metadata.name)
    return None


def _exec(api: Any, namespace: str, pod: str, command: list[str]) -> str:
    from kubernetes.stream import stream

    output = api.call(
        f"exec {' '.join(command[:3])} in pod {namespace}/{pod}",
        stream,
        api.core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=command,
        stderr=False,
        stdin=False,
        stdout=True,
        tty=False,
    )
    return str(output)
