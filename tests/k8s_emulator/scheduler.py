"""Where an emulated pod runs: the scheduler's filters and its spreading, in small.

Filters, as kube-scheduler's plugins of the same names: NodeUnschedulable (a cordoned
node, unless the pod tolerates ``node.kubernetes.io/unschedulable:NoSchedule`` as a
DaemonSet's pods do), NodeAffinity (``nodeSelector``, and required node affinity terms:
``matchExpressions`` on labels, ``matchFields`` on ``metadata.name``), TaintToleration
(NoSchedule and NoExecute taints need a toleration). Then PodTopologySpread: with ``DoNotSchedule`` a domain whose
count would exceed the least loaded one by more than ``maxSkew`` is filtered out; with
``ScheduleAnyway`` (and without constraints) the least loaded eligible node wins. A pod
that fits nowhere gets the scheduler's message ("0/3 nodes are available: ...").
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def _tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    for toleration in tolerations:
        if toleration.get("key") not in (None, "", taint.get("key")):
            continue
        if toleration.get("effect") not in (None, "", taint.get("effect")):
            continue
        if toleration.get("operator", "Equal") == "Exists":
            return True
        if toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


#: The taint NodeUnschedulable treats a cordon as (tolerating it lets a pod on).
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def _requirement(requirement: dict[str, Any], value: str | None) -> bool:
    operator, values = requirement.get("operator"), requirement.get("values") or []
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    return False


def _affinity_allows(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """Required node affinity: any term whose requirements all hold."""
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not required:
        return True
    labels = node["metadata"].get("labels", {})
    fields = {"metadata.name": node["metadata"]["name"]}
    return any(
        all(_requirement(r, labels.get(r["key"])) for r in term.get("matchExpressions") or [])
        and all(_requirement(r, fields.get(r["key"])) for r in term.get("matchFields") or [])
        for term in required.get("nodeSelectorTerms") or []
    )


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def choose_node(
    pod: dict[str, Any], nodes: list[dict[str, Any]], placed: list[dict[str, Any]]
) -> tuple[str | None, str]:
    """(node name, "") or (None, why not). ``placed``: the namespace's pods already bound."""
    spec = pod["spec"]
    selector = spec.get("nodeSelector") or {}
    tolerations = spec.get("tolerations") or []
    reasons: Counter[str] = Counter()
    eligible = []
    for node in nodes:
        labels = node["metadata"].get("labels", {})
        node_spec = node.get("spec", {})
        if node_spec.get("unschedulable") and not _tolerates(tolerations, UNSCHEDULABLE_TAINT):
            reasons["node(s) were unschedulable"] += 1
        elif any(labels.get(k) != v for k, v in selector.items()) or not _affinity_allows(
            spec, node
        ):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
        elif any(
            taint.get("effect") in ("NoSchedule", "NoExecute")
            and not _tolerates(tolerations, taint)
            for taint in node_spec.get("taints", [])
        ):
            reasons["node(s) had untolerated taint"] += 1
        else:
            eligible.append(node)
    load = Counter(p["spec"].get("nodeName") for p in placed if p["spec"].get("nodeName"))
    for constraint in spec.get("topologySpreadConstraints") or []:
        key = constraint["topologyKey"]
        mates = [
            p
            for p in placed
            if _matches(constraint.get("labelSelector", {}), p["metadata"].get("labels", {}))
        ]
        domain_of = {n["metadata"]["name"]: n["metadata"].get("labels", {}).get(key) for n in nodes}
        domains = {domain_of[n["metadata"]["name"]] for n in eligible} - {None}
        counts = Counter(domain_of.get(p["spec"].get("nodeName")) for p in mates)
        fewest = min((counts[d] for d in domains), default=0)
        if constraint.get("whenUnsatisfiable") == "DoNotSchedule":
            kept = [
                n
                for n in eligible
                if domain_of[n["metadata"]["name"]] is not None
                and counts[domain_of[n["metadata"]["name"]]] + 1 - fewest
                <= int(constraint.get("maxSkew", 1))
            ]
            reasons["node(s) didn't match pod topology spread constraints"] += len(eligible) - len(
                kept
            )
            eligible = kept
        # Spread first: the least loaded domain for this constraint, then by node load.
        load = Counter(
            {
                n["metadata"]["name"]: counts[domain_of[n["metadata"]["name"]]] * 1000
                + load[n["metadata"]["name"]]
                for n in eligible
            }
        )
    if not eligible:
        detail = ", ".join(
            f"{count} {reason}" for reason, count in sorted(reasons.items()) if count
        )
        return None, f"0/{len(nodes)} nodes are available: {detail}."
    chosen = min(eligible, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))
    return chosen["metadata"]["name"], ""
