"""PodDisruptionBudgets: the disruption controller's status and the eviction
subresource's decision, as Kubernetes makes them (policy/v1).

Status (the disruption controller): ``expectedPods`` is the pods the budget covers (with
an integer ``minAvailable``), or the scale of their controllers (with ``maxUnavailable``
or a percentage); ``desiredHealthy`` is ``minAvailable``, or ``expectedPods`` less
``maxUnavailable`` (percentages rounded up); ``currentHealthy`` counts the covered pods
that are Ready, not being deleted and not already approved for eviction
(``disruptedPods``); ``disruptionsAllowed`` is ``currentHealthy - desiredHealthy``, never
below 0.

Eviction (pkg/registry/core/pod/storage/eviction.go): a pod that is Pending, finished or
already being deleted is deleted without a budget check; a pod under more than one budget
is refused with a 500; a pod that is not Ready is deleted when its budget is met anyway;
otherwise a budget with ``disruptionsAllowed`` 0 answers 429 TooManyRequests "Cannot evict
pod as it would violate the pod's disruption budget." with a ``DisruptionBudget`` cause,
and one that allows it is decremented, records the pod in ``disruptedPods``, and the pod
is deleted (201, a Status of Success).

A budget with an empty selector covers no pod. For tests, ``hold`` (``POST
/_emulator/pdb {"namespace", "name", "hold": N}``) makes a budget answer the next N
evictions it is asked about with 429, as a disruption controller that has not yet
observed the pods' recovery would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .api import ApiStatus

TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget."
TWO_BUDGETS = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
    "support."
)


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector against labels; an empty or missing one matches nothing."""
    selector = selector or {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in expressions:
        key, operator = expression["key"], expression["operator"]
        values = set(expression.get("values") or [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in status.get("conditions") or []
    )


def covered(pdb: dict[str, Any], pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    selector = (pdb.get("spec") or {}).get("selector")
    return [p for p in pods if selector_matches(selector, p["metadata"].get("labels") or {})]


def _scaled(value: int | str, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def status(
    pdb: dict[str, Any],
    pods: list[dict[str, Any]],
    scale_of: Callable[[dict[str, Any]], int | None],
    *,
    held: bool = False,
) -> dict[str, Any]:
    """The budget's status over the namespace's ``pods``; ``scale_of(pod)`` is the
    replicas of the pod's controller (None: no controller)."""
    spec = pdb.get("spec") or {}
    mine = covered(pdb, pods)
    previous = (pdb.get("status") or {}).get("disruptedPods") or {}
    alive = {p["metadata"]["name"] for p in mine if not p["metadata"].get("deletionTimestamp")}
    disrupted = {name: when for name, when in previous.items() if name in alive}
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int):
        expected = len(mine)
        desired = min_available
    else:
        controllers: dict[str, int] = {}
        for pod in mine:
            owner = next(
                (r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")),
                None,
            )
            scale = scale_of(pod)
            key = owner["uid"] if owner else pod["metadata"]["uid"]
            controllers[key] = scale if scale is not None else 1
        expected = sum(controllers.values())
        if min_available is not None:
            desired = _scaled(min_available, expected, round_up=True)
        else:
            unavailable = _scaled(spec.get("maxUnavailable", 0), expected, round_up=True)
            desired = max(0, expected - unavailable)
    healthy = sum(
        1
        for p in mine
        if is_ready(p)
        and not p["metadata"].get("deletionTimestamp")
        and p["metadata"]["name"] not in disrupted
    )
    allowed = 0 if held else max(0, healthy - desired)
    result: dict[str, Any] = {
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "disruptionsAllowed": allowed,
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed > 0 else "False",
                "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                "message": "",
                "lastTransitionTime": "1970-01-01T00:00:00Z",
            }
        ],
    }
    if "generation" in pdb["metadata"]:
        result["observedGeneration"] = pdb["metadata"]["generation"]
    if disrupted:
        result["disruptedPods"] = disrupted
    return result


def can_skip_budget(pod: dict[str, Any]) -> bool:
    """Pending, finished, or already being deleted: evicted without a budget check."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Pending", "Succeeded", "Failed") or bool(
        pod["metadata"].get("deletionTimestamp")
    )


def refuse(pdb: dict[str, Any]) -> ApiStatus:
    """The 429 of a budget that allows no disruption."""
    current = pdb.get("status") or {}
    return ApiStatus(
        429,
        "TooManyRequests",
        TOO_MANY,
        {
            "causes": [
                {
                    "reason": "DisruptionBudget",
                    "message": (
                        f"The disruption budget {pdb['metadata']['name']} needs "
                        f"{current.get('desiredHealthy', 0)} healthy pods and has "
                        f"{current.get('currentHealthy', 0)} currently"
                    ),
                }
            ]
        },
    )


def two_budgets() -> ApiStatus:
    return ApiStatus(500, "", TWO_BUDGETS)
