"""Readiness: why pods are not Ready (named causes from pod, PVC and event state) and the
wait until they are, on the one watch helper.

Pure functions over the client's model objects (read by attribute), so the diagnosis is
the same whether it runs on a watch event, at a timeout, or in ``fioloadgen status``.
Causes that never heal by waiting (a bad image, a crashing container, a refused pod
creation) are *fatal* and stop the wait at once; the others are reported at the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...exceptions import BackendError
from .api import KubeApi, KubeApiError
from .watching import SYNC, TICK, follow

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


def _owned_by(involved: Any, owners: set[str]) -> bool:
    """The event's object is one of ``owners``, or a ReplicaSet of an owner Deployment
    (``<deployment>-<hash>``: a Deployment's pods are created, and refused, by it)."""
    name = str(involved.name or "")
    if name in owners:
        return True
    if involved.kind == "ReplicaSet":
        return name.rpartition("-")[0] in owners
    return False


def event_causes(events: Iterable[Any], owners: Iterable[str]) -> list[Cause]:
    """FailedCreate events of our StatefulSets, Jobs or Deployments' ReplicaSets: quota,
    admission (Pod Security, a missing PriorityClass) and SCC refusals."""
    wanted = set(owners)
    causes = []
    for event in events:
        involved = event.involved_object
        if involved is None or event.reason != "FailedCreate" or not _owned_by(involved, wanted):
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


# -- reading the state that pods do not show ----------------------------------------------
def events_by_object(api: KubeApi, namespace: str) -> tuple[list[Any], dict[str, str]]:
    """The namespace's events, and the latest message per involved object (none when the
    user may not list events: the wait then names less, but still works)."""
    try:
        events = api.call(
            f"list events in {namespace}", api.core.list_namespaced_event, namespace
        ).items
    except KubeApiError as err:
        if err.status == 403:
            return [], {}
        raise
    latest = {
        str(event.involved_object.name): str(event.message or event.reason)
        for event in events
        if event.involved_object is not None
    }
    return events, latest


def object_causes(
    api: KubeApi, namespace: str, owners: Sequence[str], *, pvcs: bool, selector: str
) -> list[Cause]:
    """Refused pod creations of ``owners`` and, with ``pvcs``, claims still Pending."""
    events, latest = events_by_object(api, namespace)
    causes = event_causes(events, owners)
    if pvcs:
        listing = api.call(
            f"list persistentvolumeclaims in {namespace}",
            api.core.list_namespaced_persistent_volume_claim,
            namespace,
            label_selector=selector,
        )
        causes += pvc_causes(listing.items, latest)
    return causes


def wait_ready(
    api: KubeApi,
    namespace: str,
    *,
    what: str,
    selector: str,
    owners: Sequence[str],
    timeout_s: float,
    wanted: set[str] | None = None,
    count: int = 1,
) -> None:
    """Until every pod in ``wanted`` (or, without names, ``count`` pods of ``selector``)
    is Ready, or a BackendError that names why not.

    Fatal causes (a bad image, a crash loop, a refused pod creation read from events)
    stop the wait at once; the others (PVC Pending, Unschedulable) are named at the
    timeout. Events are looked at between watch requests, so a FailedCreate is reported
    within seconds, not at the timeout.
    """
    deadline = time.monotonic() + timeout_s
    pods: dict[str, Any] = {}
    # Kept up to date per event (not recounted): O(1) per change for N pods.
    ready: set[str] = set()

    def done() -> bool:
        return ready >= wanted if wanted is not None else len(ready) >= count

    for change in follow(
        api,
        f"pods in {namespace}",
        api.core.list_namespaced_pod,
        deadline=deadline,
        namespace=namespace,
        label_selector=selector,
    ):
        pods = change.objects
        if change.kind in (SYNC, TICK):
            if change.kind == SYNC:
                ready = {name for name, pod in pods.items() if is_ready(pod)}
            causes = [cause for pod in pods.values() if (cause := pod_cause(pod))]
            causes += object_causes(api, namespace, owners, pvcs=False, selector=selector)
            fatal = [cause for cause in causes if cause.fatal]
            if fatal:
                raise BackendError(f"{what} did not become ready: {summarize(fatal)}")
        elif change.obj is not None:
            name = str(change.obj.metadata.name)
            if change.kind != "DELETED" and is_ready(change.obj):
                ready.add(name)
            else:
                ready.discard(name)
            cause = pod_cause(change.obj) if change.kind != "DELETED" else None
            if cause is not None and cause.fatal:
                raise BackendError(f"{what} did not become ready: {cause.message}")
        if done():
            return
    raise BackendError(
        _timeout_message(api, namespace, what, selector, owners, timeout_s, pods, wanted, count)
    )


def _timeout_message(
    api: KubeApi,
    namespace: str,
    what: str,
    selector: str,
    owners: Sequence[str],
    timeout_s: float,
    pods: dict[str, Any],
    wanted: set[str] | None,
    count: int,
) -> str:
    causes = object_causes(api, namespace, owners, pvcs=True, selector=selector)
    causes += [cause for pod in pods.values() if (cause := pod_cause(pod))]
    names = wanted if wanted is not None else set(pods)
    ready = sum(1 for name in names if name in pods and is_ready(pods[name]))
    missing = sorted(name for name in (wanted or set()) if name not in pods)
    if missing and not causes:
        causes.append(Cause(f"pods {', '.join(missing[:3])} were never created"))
    if not pods and wanted is None and not causes:
        causes.append(Cause("no pod was created"))
    why = summarize(causes) or "pods are running but not Ready (readiness probe failing)"
    total = len(wanted) if wanted is not None else count
    return (
        f"{ready} of {total} {what} Ready after {timeout_s:.0f} s in namespace {namespace!r}: {why}"
    )
