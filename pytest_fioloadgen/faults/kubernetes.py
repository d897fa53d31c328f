"""The Kubernetes faults: ``delete-pod`` and ``drain-node`` (see builtin.py for the rest).

Both act through the Kubernetes backend's own API client, on anything its ServiceAccount
may touch: the calls they make need the opt-in RBAC of
``backends/kubernetes/rbac-faults.yaml`` (the default role grants none of them).

* ``delete-pod`` (``name`` or ``selector``, ``namespace``, ``workers``, ``timeout``): delete
  the pod(s), e.g. a Ceph OSD pod in ``openshift-storage``. Kubernetes recreates them, so
  the fault is not reversible; its undo waits (up to ``timeout``, 120 s by default) until
  each deleted pod's controller has a new Ready pod, and says how long that took. A pod
  of the run itself (a worker, the fio client) is refused unless ``workers=allow`` names
  the intent for workers; the worker is then one the run loses on purpose.
* ``drain-node`` (``node`` or ``selector``, ``timeout``): what ``kubectl drain`` does:
  cordon the node (``spec.unschedulable``), evict every pod on it through the Eviction API
  (DaemonSet pods and mirror pods are left, as kubectl leaves them), retrying the 429 a
  PodDisruptionBudget answers until ``timeout`` (120 s by default). The undo uncordons.
  A node that hosts the run's own pods (workers, fio client) is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..exceptions import BackendError, FaultError
from .base import FaultContext
from .builtin import FaultType
from .spec import FaultSpec, parse_duration

if TYPE_CHECKING:
    from ..backends.kubernetes.api import KubeApi
    from ..backends.kubernetes.backend import KubernetesBackend

#: How long an undo waits for replacements, and a drain for its evictions, by default.
DEFAULT_TIMEOUT_S = 120.0
#: Pause between eviction attempts a PodDisruptionBudget refused (the 429 gives none).
EVICTION_RETRY_S = 1.0
#: How often a drain looks whether its evicted pods are gone.
GONE_POLL_S = 0.2
#: Where the RBAC these faults need ships (named in every Forbidden answer).
RBAC_FILE = "backends/kubernetes/rbac-faults.yaml"
#: kubelet's annotation on the API's copy of a static pod (deleting it does nothing).
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
#: Statuses retried inside one eviction call: not 429 (a PodDisruptionBudget's refusal,
#: retried against the drain's deadline) and not 500 (a pod under two budgets: final).
EVICTION_TRANSIENT = frozenset({502, 503, 504})


def kubernetes_backend(context: FaultContext, spec: FaultSpec) -> KubernetesBackend:
    """The run's Kubernetes backend, or one line saying this backend is not one."""
    from ..backends.kubernetes.backend import KubernetesBackend

    backend = context.backend
    if not isinstance(backend, KubernetesBackend):
        raise FaultError(
            f"fault {spec.name}: the {getattr(backend, 'name', 'this')} backend cannot inject"
            " it (it acts on a Kubernetes cluster); use --fio-backend kubernetes, or command"
        )
    return backend


def _call(api: KubeApi, fault: str, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """An API call whose failure is the fault's one line (a Forbidden names the RBAC)."""
    from ..backends.kubernetes.api import KubeApiError

    try:
        return api.call(what, function, *args, **kwargs)
    except KubeApiError as err:
        hint = f" (grant it with {RBAC_FILE})" if err.status == 403 else ""
        raise FaultError(f"{fault}: {err}{hint}") from err
    except BackendError as err:
        raise FaultError(f"{fault}: {err}") from err


def _timeout(spec: FaultSpec) -> float:
    text = spec.get("timeout")
    if text is None:
        return DEFAULT_TIMEOUT_S
    seconds = parse_duration(text, f"{spec.name}: timeout")
    if seconds <= 0:
        raise FaultError(f"{spec.name}: timeout must be positive, got {text!r}")
    return seconds


def _one_of(spec: FaultSpec, first: str, second: str) -> tuple[str, str]:
    """(key, value) of exactly one of two keys, or one line saying what is wrong."""
    given = [(key, spec.get(key)) for key in (first, second) if spec.get(key)]
    if len(given) != 1:
        what = "both" if given else "neither"
        raise FaultError(f"{spec.name}: give {first}= or {second}= (got {what})")
    key, value = given[0]
    assert value is not None
    return key, value


def _name(obj: Any) -> str:
    return str(obj.metadata.name)


def _controller(pod: Any) -> Any | None:
    """The ownerReference that controls the pod (its ReplicaSet, StatefulSet...), if any."""
    for ref in pod.metadata.owner_references or []:
        if ref.controller:
            return ref
    return None


def _is_ready(pod: Any) -> bool:
    from ..backends.kubernetes.readiness import is_ready

    return is_ready(pod)


# -- the run's own pods ------------------------------------------------------------------
@dataclass(frozen=True)
class OwnPod:
    """A pod of this session in the run's namespace, and what it is to the run."""

    name: str
    node: str | None
    #: "worker" or another component ("run": the fio client Job's pod).
    component: str
    #: The worker's address (host:port) when the pod is one of the case's workers.
    worker: str | None = None

    def describe(self, namespace: str) -> str:
        if self.worker is not None:
            return f"pod {namespace}/{self.name} is a worker of this run ({self.worker})"
        if self.component == "run":
            return f"pod {namespace}/{self.name} is this run's fio client (its Job's pod)"
        return f"pod {namespace}/{self.name} is this session's {self.component} pod"


def own_pods(backend: KubernetesBackend, context: FaultContext, fault: str) -> dict[str, OwnPod]:
    """The session's pods in the run's namespace by name: workers and fio clients."""
    from ..backends.kubernetes import manifests
    from ..backends.kubernetes.client_job import pod_name_of

    api, namespace = backend.api, backend.namespace
    workers = {pod_name_of(worker): worker.address.name for worker in context.workers}
    listing = _call(
        api,
        fault,
        f"list pods in {namespace}",
        api.core.list_namespaced_pod,
        namespace,
        label_selector=manifests.OWNED_SELECTOR,
    )
    pods = {}
    for pod in listing.items:
        component = (pod.metadata.labels or {}).get(manifests.COMPONENT_LABEL, "worker")
        pods[_name(pod)] = OwnPod(
            _name(pod), pod.spec.node_name, str(component), workers.get(_name(pod))
        )
    for name, address in workers.items():
        # A worker whose pod is being replaced is still the run's.
        pods.setdefault(name, OwnPod(name, None, "worker", address))
    return pods


# -- delete-pod --------------------------------------------------------------------------
@dataclass(frozen=True)
class Deleted:
    """A pod this fault deleted, and the controller expected to replace it."""

    name: str
    uid: str
    owner_kind: str | None
    owner_name: str | None
    owner_uid: str | None


@dataclass
class _ClusterFault:
    """What every Kubernetes fault holds: its spec, the run, and the cluster's API (the
    run's Kubernetes backend); it acts beyond the run's workers."""

    spec: FaultSpec
    context: FaultContext
    scope: str = "cluster"
    lost_workers: frozenset[str] = frozenset()
    reversible: bool = True

    def __post_init__(self) -> None:
        self._backend = kubernetes_backend(self.context, self.spec)

    @property
    def _api(self) -> KubeApi:
        return self._backend.api


@dataclass
class DeletePod(_ClusterFault):
    reversible: bool = False
    _deleted: list[Deleted] = field(default_factory=list)
    #: uids of the namespace's pods just before the deletion: a replacement is none of them.
    _before: set[str] = field(default_factory=set)
    _injected_at: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._by, self._what = _one_of(self.spec, "name", "selector")
        self._namespace = self.spec.get("namespace") or self._backend.namespace
        workers = self.spec.get("workers", "refuse")
        if workers not in ("allow", "refuse"):
            raise FaultError(f"delete-pod: workers={workers!r} is not allow or refuse")
        self._allow_workers = workers == "allow"
        self._timeout_s = _timeout(self.spec)
        # Refused now, before the run, when the spec names the run's own pods.
        self._check(self._matching())

    def _describe_target(self) -> str:
        if self._by == "name":
            return f"pod {self._namespace}/{self._what}"
        return f"pods matching {self._what!r} in namespace {self._namespace}"

    def _matching(self) -> list[Any]:
        api = self._api
        selector = (
            {"field_selector": f"metadata.name={self._what}"}
            if self._by == "name"
            else {"label_selector": self._what}
        )
        listing = _call(
            api,
            "delete-pod",
            f"list pods in {self._namespace}",
            api.core.list_namespaced_pod,
            self._namespace,
            **selector,
        )
        pods = [pod for pod in listing.items if not pod.metadata.deletion_timestamp]
        if not pods:
            raise FaultError(f"delete-pod: no {self._describe_target()} (nothing to delete)")
        return pods

    def _check(self, pods: Sequence[Any]) -> None:
        """Refuse the run's own pods; with workers=allow, its workers become lost ones."""
        if self._namespace != self._backend.namespace:
            self.lost_workers = frozenset()
            return
        own = own_pods(self._backend, self.context, "delete-pod")
        lost = set()
        for pod in pods:
            mine = own.get(_name(pod))
            if mine is None:
                continue
            if mine.component == "worker" and self._allow_workers:
                if mine.worker is not None:
                    lost.add(mine.worker)
                continue
            hint = (
                "; add workers=allow to take it out of the run on purpose"
                if mine.component == "worker"
                else "; deleting it would end the run"
            )
            raise FaultError(f"delete-pod: refused: {mine.describe(self._namespace)}{hint}")
        self.lost_workers = frozenset(lost)

    def inject(self) -> str:
        api = self._api
        pods = self._matching()
        self._check(pods)
        everything = _call(
            api,
            "delete-pod",
            f"list pods in {self._namespace}",
            api.core.list_namespaced_pod,
            self._namespace,
        )
        self._before = {str(pod.metadata.uid) for pod in everything.items}
        self._deleted = []
        for pod in pods:
            _call(
                api,
                "delete-pod",
                f"delete pod {self._namespace}/{_name(pod)}",
                api.core.delete_namespaced_pod,
                _name(pod),
                self._namespace,
            )
            owner = _controller(pod)
            self._deleted.append(
                Deleted(
                    _name(pod),
                    str(pod.metadata.uid),
                    str(owner.kind) if owner else None,
                    str(owner.name) if owner else None,
                    str(owner.uid) if owner else None,
                )
            )
        self._injected_at = time.monotonic()
        names = ", ".join(f"{self._namespace}/{d.name}" for d in self._deleted)
        return f"deleted pod{'s' if len(self._deleted) > 1 else ''} {names}"

    def _missing(self, pods: Iterable[Any]) -> list[str]:
        """Controllers still short of a Ready replacement, as ``Kind ns/name (for p)``."""
        needed: dict[str, list[Deleted]] = {}
        for deleted in self._deleted:
            if deleted.owner_uid is not None:
                needed.setdefault(deleted.owner_uid, []).append(deleted)
        ready: dict[str, int] = {}
        for pod in pods:
            owner = _controller(pod)
            if owner is None or str(pod.metadata.uid) in self._before or not _is_ready(pod):
                continue
            ready[str(owner.uid)] = ready.get(str(owner.uid), 0) + 1
        missing = []
        for owner_uid, of_owner in needed.items():
            if ready.get(owner_uid, 0) < len(of_owner):
                first = of_owner[0]
                pods_named = ", ".join(d.name for d in of_owner)
                missing.append(
                    f"{first.owner_kind} {self._namespace}/{first.owner_name} (for {pods_named})"
                )
        return missing

    def undo(self) -> str:
        from ..backends.kubernetes.api import KubeApiError
        from ..backends.kubernetes.watching import follow

        if not self._deleted:
            return "nothing was deleted"
        orphans = [d.name for d in self._deleted if d.owner_uid is None]
        orphan_note = (
            f"; {', '.join(orphans)} had no controller: nothing recreates it" if orphans else ""
        )
        deadline = time.monotonic() + self._timeout_s
        missing: list[str] = []
        try:
            for change in follow(
                self._api,
                f"pods in {self._namespace}",
                self._api.core.list_namespaced_pod,
                deadline=deadline,
                namespace=self._namespace,
            ):
                missing = self._missing(change.objects.values())
                if not missing:
                    since = time.monotonic() - (self._injected_at or time.monotonic())
                    replaced = len(self._deleted) - len(orphans)
                    return (
                        f"{replaced} replacement pod{'s' if replaced != 1 else ''} Ready "
                        f"{since:.1f} s after the deletion{orphan_note}"
                    )
        except KubeApiError as err:
            raise FaultError(f"delete-pod: waiting for the replacements: {err}") from err
        raise FaultError(
            f"delete-pod: no Ready replacement within {self._timeout_s:g} s for "
            f"{', '.join(missing)}{orphan_note}"
        )

    def cleared(self) -> bool:
        if not self._deleted:
            return True
        try:
            listing = self._api.call(
                f"list pods in {self._namespace}",
                self._api.core.list_namespaced_pod,
                self._namespace,
            )
        except BackendError:
            return False
        return not self._missing(listing.items)


# -- drain-node --------------------------------------------------------------------------
def _selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against labels; empty matches none,
    as the eviction subresource treats a budget with an empty selector."""
    if selector is None:
        return False
    match_labels = dict(selector.match_labels or {})
    expressions = list(selector.match_expressions or [])
    if not match_labels and not expressions:
        return False
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in expressions:
        key, values = expression.key, set(expression.values or [])
        operator = expression.operator
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


@dataclass
class DrainNode(_ClusterFault):
    #: Nodes this fault cordoned (a node already cordoned stays so after the undo).
    _cordoned: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._by, self._what = _one_of(self.spec, "node", "selector")
        self._timeout_s = _timeout(self.spec)
        self._nodes = self._resolve()
        self._refuse_own()

    def _resolve(self) -> list[str]:
        api = self._api
        if self._by == "selector":
            listing = _call(
                api, "drain-node", "list nodes", api.core.list_node, label_selector=self._what
            )
            if not listing.items:
                raise FaultError(f"drain-node: no node matches selector {self._what!r}")
            return sorted(_name(node) for node in listing.items)
        listing = _call(api, "drain-node", "list nodes", api.core.list_node)
        names = sorted(_name(node) for node in listing.items)
        if self._what not in names:
            raise FaultError(
                f"drain-node: no node {self._what!r} in the cluster (it has: "
                f"{', '.join(names) or 'none'})"
            )
        return [self._what]

    def _refuse_own(self) -> None:
        """A node that hosts the run's workers or its fio client is refused: draining it
        would measure the harness, not the storage."""
        own = own_pods(self._backend, self.context, "drain-node")
        for node in self._nodes:
            hosted = sorted(pod.name for pod in own.values() if pod.node == node)
            if hosted:
                raise FaultError(
                    f"drain-node: refused: node {node} hosts this run's own pods "
                    f"({', '.join(hosted)} in {self._backend.namespace}); drain another "
                    "node, or keep the workers off it (--fio-node-selector)"
                )

    def inject(self) -> str:
        self._refuse_own()  # the fio client's pod exists now: it may have landed there
        deadline = time.monotonic() + self._timeout_s
        said = []
        try:
            for node in self._nodes:
                self._cordon(node)
                said.append(self._drain(node, deadline))
        except FaultError as err:
            # A drain that did not finish leaves no cordon behind: the schedule only
            # undoes what was injected.
            try:
                self.undo()
            except FaultError as undo_err:
                raise FaultError(f"{err}; and the uncordon failed: {undo_err}") from err
            raise
        return "; ".join(said)

    def _cordon(self, node: str) -> None:
        api = self._api
        current = _call(api, "drain-node", f"read node {node}", api.core.read_node, node)
        if current.spec is not None and current.spec.unschedulable:
            return
        self._schedulable(node, False)
        self._cordoned.append(node)

    def _schedulable(self, node: str, schedulable: bool) -> None:
        """Cordon (False) or uncordon (True) ``node``, as kubectl cordon does."""
        api = self._api
        said = f"{'uncordon' if schedulable else 'cordon'} node {node}"
        patch = {"spec": {"unschedulable": not schedulable}}
        _call(api, "drain-node", said, api.core.patch_node, node, patch)

    def _drain(self, node: str, deadline: float) -> str:
        from ..backends.kubernetes.api import KubeApiError

        api = self._api
        listing = _call(
            api,
            "drain-node",
            f"list pods on node {node}",
            api.core.list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={node}",
        )
        pending: dict[tuple[str, str], str] = {}
        skipped = {"DaemonSet": 0, "mirror": 0}
        for pod in listing.items:
            owner = _controller(pod)
            if owner is not None and owner.kind == "DaemonSet":
                skipped["DaemonSet"] += 1
            elif MIRROR_ANNOTATION in (pod.metadata.annotations or {}):
                skipped["mirror"] += 1
            else:
                pending[(str(pod.metadata.namespace), _name(pod))] = str(pod.metadata.uid)
        evicted: dict[tuple[str, str], str] = {}
        refusals = 0
        last_refusal: dict[tuple[str, str], str] = {}
        while pending:
            pause = EVICTION_RETRY_S
            for (namespace, name), uid in list(pending.items()):
                body = {
                    "apiVersion": "policy/v1",
                    "kind": "Eviction",
                    "metadata": {"name": name, "namespace": namespace},
                }
                try:
                    api.call(
                        f"evict pod {namespace}/{name}",
                        api.core.create_namespaced_pod_eviction,
                        name,
                        namespace,
                        body,
                        transient=EVICTION_TRANSIENT,
                    )
                except KubeApiError as err:
                    if err.status == 404:
                        pending.pop((namespace, name))  # gone by itself
                        continue
                    if err.status == 429:
                        refusals += 1
                        last_refusal[(namespace, name)] = str(err)
                        if err.retry_after:
                            pause = max(pause, err.retry_after)
                        continue
                    hint = f" (grant it with {RBAC_FILE})" if err.status == 403 else ""
                    raise FaultError(f"drain-node: node {node}: {err}{hint}") from err
                evicted[(namespace, name)] = uid
                pending.pop((namespace, name))
            if not pending:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FaultError(self._stuck(node, pending, last_refusal))
            time.sleep(min(pause, remaining))
        self._wait_gone(node, evicted, deadline)
        parts = [f"cordoned {node}, evicted {len(evicted)} pod{'s' if len(evicted) != 1 else ''}"]
        if refusals:
            parts.append(
                f"{refusals} eviction{'s' if refusals != 1 else ''} refused by a "
                "PodDisruptionBudget and retried"
            )
        left = [f"{count} {kind}" for kind, count in skipped.items() if count]
        if left:
            parts.append(f"left {' and '.join(left)} pod{'s' if sum(skipped.values()) > 1 else ''}")
        return ", ".join(parts)

    def _stuck(
        self,
        node: str,
        pending: Mapping[tuple[str, str], str],
        last_refusal: Mapping[tuple[str, str], str],
    ) -> str:
        """One line naming the pods not evicted in time and the budgets that held them."""
        blocked = []
        for namespace, name in sorted(pending):
            budgets = self._budgets_of(namespace, name)
            why = (
                f"PodDisruptionBudget {', '.join(budgets)}"
                if budgets
                else last_refusal.get((namespace, name), "no answer")
            )
            blocked.append(f"{namespace}/{name} ({why})")
        return (
            f"drain-node: node {node}: not drained within {self._timeout_s:g} s: "
            f"{'; '.join(blocked)}"
        )

    def _budgets_of(self, namespace: str, name: str) -> list[str]:
        """The PodDisruptionBudgets covering a pod, with what they allow ([] if unknown)."""
        try:
            pod = self._api.call(
                f"read pod {namespace}/{name}",
                self._api.core.read_namespaced_pod,
                name,
                namespace,
            )
            budgets = self._api.call(
                f"list poddisruptionbudgets in {namespace}",
                self._api.policy.list_namespaced_pod_disruption_budget,
                namespace,
            )
        except BackendError:
            return []
        labels = pod.metadata.labels or {}
        return [
            f"{namespace}/{_name(budget)} allows "
            f"{budget.status.disruptions_allowed if budget.status else '?'} disruptions"
            for budget in budgets.items
            if _selector_matches(budget.spec.selector, labels)
        ]

    def _wait_gone(
        self, node: str, evicted: Mapping[tuple[str, str], str], deadline: float
    ) -> None:
        """Evicted pods terminate gracefully: the drain is done when they are gone."""
        from ..backends.kubernetes.api import KubeApiError

        waiting = dict(evicted)
        while waiting:
            for (namespace, name), uid in list(waiting.items()):
                try:
                    pod = self._api.call(
                        f"read pod {namespace}/{name}",
                        self._api.core.read_namespaced_pod,
                        name,
                        namespace,
                    )
                except KubeApiError as err:
                    if err.status != 404:
                        raise FaultError(f"drain-node: node {node}: {err}") from err
                    pod = None
                if pod is None or str(pod.metadata.uid) != uid or pod.spec.node_name != node:
                    waiting.pop((namespace, name))
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{ns}/{name}" for ns, name in sorted(waiting))
                raise FaultError(
                    f"drain-node: node {node}: evicted pods still terminating after "
                    f"{self._timeout_s:g} s: {names}"
                )
            time.sleep(GONE_POLL_S)

    def undo(self) -> str:
        undone = []
        for node in list(self._cordoned):
            self._schedulable(node, True)
            self._cordoned.remove(node)
            undone.append(node)
        return f"uncordoned {', '.join(undone)}" if undone else "no node to uncordon"

    def cleared(self) -> bool:
        if self._cordoned:
            try:
                self.undo()
            except FaultError:
                return False
        return True


KUBERNETES: Mapping[str, FaultType] = {
    fault.name: fault
    for fault in (
        FaultType(
            "delete-pod",
            frozenset({"name", "selector", "namespace", "workers", "timeout"}),
            DeletePod,
            "delete a pod (name or selector) through the API; the undo waits for its replacement",
            ("kubernetes",),
        ),
        FaultType(
            "drain-node",
            frozenset({"node", "selector", "timeout"}),
            DrainNode,
            "cordon a node and evict its pods (Eviction API, PodDisruptionBudgets respected);"
            " the undo uncordons",
            ("kubernetes",),
        ),
    )
}
