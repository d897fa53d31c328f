"""Admission of pods the controllers create: PriorityClass, and OpenShift's restricted-v2
SCC when the emulator is told to act as OpenShift (``Config.openshift``).

restricted-v2, as OpenShift 4.11+ ships it and its documentation describes it: runAsUser
MustRunAsRange and fsGroup MustRunAs over the namespace's range (annotation
``openshift.io/sa.scc.uid-range``; unset values are assigned the range's first id, so a
pod gets an arbitrary UID and its volumes that group), no privileged containers, no
privilege escalation, every capability dropped but NET_BIND_SERVICE allowed back, seccomp
RuntimeDefault only, no host namespaces or host ports, and only the volume types
configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and
secret. A refusal reads like OpenShift's ("unable to validate against any security
context constraint"), so the backend's FailedCreate naming is tested against it.
"""

from __future__ import annotations

import copy
from typing import Any

UID_RANGE_ANNOTATION = "openshift.io/sa.scc.uid-range"
DEFAULT_UID_RANGE = "1000680000/10000"
SCC_ANNOTATION = "openshift.io/scc"
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def uid_range(namespace: dict[str, Any]) -> tuple[int, int]:
    annotations = namespace["metadata"].get("annotations") or {}
    start, _slash, size = annotations.get(UID_RANGE_ANNOTATION, DEFAULT_UID_RANGE).partition("/")
    return int(start), int(start) + int(size) - 1


def restricted_v2(namespace: dict[str, Any], pod_spec: dict[str, Any]) -> tuple[list[str], Any]:
    """(problems, the pod spec as admitted: UID and fsGroup assigned when unset)."""
    low, high = uid_range(namespace)
    problems: list[str] = []
    spec = copy.deepcopy(pod_spec)
    pod_security = spec.setdefault("securityContext", {})

    def in_range(path: str, value: Any, what: str) -> None:
        if value is not None and not low <= int(value) <= high:
            problems.append(
                f"{path}: Invalid value: {value}: must be in the ranges: [{low}, {high}]"
                if what == "uid"
                else f"{path}: Invalid value: []int64{{{value}}}: {value} is not an allowed group"
            )

    in_range(".spec.securityContext.runAsUser", pod_security.get("runAsUser"), "uid")
    in_range(".spec.securityContext.fsGroup", pod_security.get("fsGroup"), "gid")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f".spec.{field}: Invalid value: true: Host namespaces are not allowed")
    seccomp = (pod_security.get("seccompProfile") or {}).get("type")
    if seccomp not in (None, "RuntimeDefault"):
        problems.append(
            f".spec.securityContext.seccompProfile.type: Forbidden: {seccomp} is not an allowed "
            "seccomp profile"
        )
    for volume in spec.get("volumes") or []:
        kinds = [key for key in volume if key != "name"]
        for kind in kinds:
            if kind not in ALLOWED_VOLUMES:
                problems.append(
                    f"spec.volumes[{volume['name']}]: Invalid value: {kind!r}: {kind} volumes are "
                    "not allowed to be used"
                )
    for index, container in enumerate(spec.get("containers") or []):
        security = container.get("securityContext") or {}
        where = f"spec.containers[{index}].securityContext"
        in_range(f"{where}.runAsUser", security.get("runAsUser"), "uid")
        if security.get("privileged"):
            problems.append(
                f"{where}.privileged: Invalid value: true: Privileged containers are not allowed"
            )
        if security.get("allowPrivilegeEscalation", False):
            problems.append(
                f"{where}.allowPrivilegeEscalation: Invalid value: true: Allowing privilege "
                "escalation for containers is not allowed"
            )
        added = set((security.get("capabilities") or {}).get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            problems.append(
                f"{where}.capabilities.add: Invalid value: {sorted(added)[0]!r}: capability may "
                "not be added"
            )
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(
                    f"spec.containers[{index}].ports: Invalid value: host ports are not allowed"
                )
    pod_security.setdefault("runAsUser", low)
    pod_security.setdefault("fsGroup", low)
    return problems, spec


def refusal(
    pod_name: str,
    pod_spec: dict[str, Any],
    namespace: dict[str, Any],
    priority_classes: set[str],
    openshift: bool,
) -> tuple[str | None, dict[str, Any], dict[str, str]]:
    """(why the pod is forbidden or None, the admitted spec, annotations to add)."""
    priority = pod_spec.get("priorityClassName")
    if priority and priority not in priority_classes:
        return (
            f'pods "{pod_name}" is forbidden: no PriorityClass with name {priority} was found',
            pod_spec,
            {},
        )
    if not openshift:
        return None, pod_spec, {}
    problems, admitted = restricted_v2(namespace, pod_spec)
    if problems:
        return (
            (
                f'pods "{pod_name}" is forbidden: unable to validate against any security context '
                'constraint: [provider "anyuid": Forbidden: not usable by user or serviceaccount, '
                f"provider restricted-v2: {', '.join(problems)}]"
            ),
            pod_spec,
            {},
        )
    return None, admitted, {SCC_ANNOTATION: "restricted-v2"}
