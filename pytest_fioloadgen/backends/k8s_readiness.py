"""Why fio worker pods are not Ready: named causes from pod, PVC and event state.

Pure functions over the client's model objects (read by attribute), so the diagnosis is
the same whether it runs on a watch event, at a timeout, or in ``fioloadgen status``.
Causes that never heal by waiting (a bad image, a crashing container, a refused pod
creation) are *fatal* and stop the wait at once; the others are reported at the timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Container waiting reasons that waiting will not fix.
FATAL_WAITING = {
    "ErrImagePull": "image pull failed",
    "ImagePullBackOff": "image pull failed",
    "InvalidImageName": "invalid image name",
    "CrashLoopBackOff": "container keeps crashing (CrashLoopBackOff)",
    "CreateContainerConfigError": "container config error",
}


@dataclass(frozen=True)
class Cause:
    """One reason a worker is not Ready; ``fatal`` when waiting will not help."""

    message: str
    fatal: bool = False


def is_ready(pod: Any) -> bool:
    status = pod.status
    if status is None or status.phase != "Running" or pod.metadata.deletion_timestamp:
        return False
    return any(
        condition.type == "Ready" and condition.status == "True"
        for condition in status.conditions or []
    )


def pod_cause(pod: Any) -> Cause | None:
    """Why this pod is not Ready, when its status says so."""
    name = pod.metadata.name
    status = pod.status
    if status is None:
        return None
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason in FATAL_WAITING:
            detail = f": {waiting.message}" if waiting.message else ""
            return Cause(
                f"pod {name}: {FATAL_WAITING[waiting.reason]} ({waiting.reason}, image "
                f"{container.image}){detail}",
                fatal=True,
            )
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            reason = condition.reason or "not scheduled"
            return Cause(f"pod {name} is {reason}: {condition.message or 'no message'}")
    if status.phase == "Failed":
        return Cause(f"pod {name} failed: {status.reason or ''} {status.message or ''}".strip())
    return None


def event_causes(events: Iterable[Any], owners: Iterable[str]) -> list[Cause]:
    """FailedCreate events of our StatefulSets or Jobs: quota and admission refusals."""
    wanted = set(owners)
    causes = []
    for event in events:
        involved = event.involved_object
        if involved is None or involved.name not in wanted or event.reason != "FailedCreate":
            continue
        message = event.message or ""
        if "exceeded quota" in message:
            label = "resource quota exceeded"
        elif "forbidden" in message.lower():
            label = "pod creation forbidden"
        else:
            label = "pod creation failed"
        kind = str(involved.kind or "object").lower()
        causes.append(Cause(f"{kind} {involved.name}: {label}: {message}", fatal=True))
    return causes


def pvc_causes(pvcs: Iterable[Any], events_by_object: Mapping[str, str]) -> list[Cause]:
    causes = []
    for pvc in pvcs:
        if pvc.status is not None and pvc.status.phase == "Pending":
            name = pvc.metadata.name
            why = events_by_object.get(name, "no provisioner has bound it")
            causes.append(
                Cause(
                    f"PVC {name} (storage class {pvc.spec.storage_class_name!r}) is Pending: {why}"
                )
            )
    return causes


def summarize(causes: list[Cause], *, limit: int = 3) -> str:
    """A short one-line message: the first causes and how many more there are."""
    # Distinct messages only: 32 pods failing the same way say it once.
    seen: list[str] = []
    for cause in causes:
        if cause.message not in seen:
            seen.append(cause.message)
    shown = "; ".join(seen[:limit])
    more = len(seen) - limit
    return f"{shown}; and {more} more" if more > 0 else shown
