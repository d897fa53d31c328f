"""What the Kubernetes faults rely on the emulator for, through the unmodified client:
the Eviction API and PodDisruptionBudgets (pkg/registry/core/pod/storage/eviction.go),
RBAC's refusals worded as the API server words them, DaemonSet pods that stay on a
cordoned node, and a scheduler that places nothing else there."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

pytestmark = pytest.mark.slow

SLEEPER = {"name": "main", "image": "sleeper:1", "command": ["sleep", "600"]}


@pytest.fixture
def api(kubeconfig):
    api_client = config.new_client_from_config(str(kubeconfig))
    yield (
        client.CoreV1Api(api_client),
        client.AppsV1Api(api_client),
        client.PolicyV1Api(api_client),
    )
    api_client.close()


@pytest.fixture
def space(api):
    core, _apps, _policy = api
    name = f"storage-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and name in {
        ns.metadata.name for ns in core.list_namespace().items
    }:
        time.sleep(0.1)


def deployment(name: str, labels: dict[str, str], **spec: object) -> dict:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [SLEEPER]}},
            **spec,
        },
    }


def budget(name: str, labels: dict[str, str], **spec: object) -> dict:
    return {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": labels}, **spec}}


def eviction(name: str, namespace: str) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }


def ready_pods(core, namespace, selector, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        ready = [
            p
            for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        if len(ready) >= count:
            return ready
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} Ready pods for {selector} in {namespace}")


def budget_allows(policy, namespace, name, allowed, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = policy.read_namespaced_pod_disruption_budget(name, namespace).status
        if status is not None and status.disruptions_allowed == allowed:
            return status
        time.sleep(0.1)
    raise AssertionError(f"budget {name} never allowed {allowed}")


def test_eviction_honours_the_pod_disruption_budget(api, space, emulator):
    core, apps, policy = api
    labels = {"app": "osd"}
    for index in range(2):
        apps.create_namespaced_deployment(
            space, deployment(f"osd-{index}", {**labels, "osd-id": str(index)})
        )
    first, second = ready_pods(core, space, "app=osd", 2)
    policy.create_namespaced_pod_disruption_budget(space, budget("osd", labels, maxUnavailable=1))
    status = budget_allows(policy, space, "osd", 1)
    assert (status.expected_pods, status.desired_healthy, status.current_healthy) == (2, 1, 2)

    # The first eviction is allowed (201, a Status of Success) and spends the budget.
    answer = core.create_namespaced_pod_eviction_with_http_info(
        first.metadata.name, space, eviction(first.metadata.name, space)
    )
    _data, code, _headers = answer
    assert code == 201  # the body, a Status of Success, reads as an Eviction here
    # While the replacement is not Ready the budget allows nothing: 429 with its cause.
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod_eviction(
            second.metadata.name, space, eviction(second.metadata.name, space)
        )
    assert refused.value.status == 429
    body = json.loads(refused.value.body)
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget osd needs 1 healthy pods and has 1 currently",
        }
    ]
    # Once the replacement is Ready, the budget allows one again.
    ready_pods(core, space, "app=osd", 2)
    budget_allows(policy, space, "osd", 1)

    # A test can make the budget refuse exactly once.
    emulator.hold_budget(space, "osd", 1)
    assert budget_allows(policy, space, "osd", 0).current_healthy == 2
    with pytest.raises(ApiException) as held:
        core.create_namespaced_pod_eviction(
            second.metadata.name, space, eviction(second.metadata.name, space)
        )
    assert held.value.status == 429
    core.create_namespaced_pod_eviction(
        second.metadata.name, space, eviction(second.metadata.name, space)
    )

    # A pod under two budgets: the eviction subresource refuses with a 500.
    ready_pods(core, space, "app=osd", 2)
    policy.create_namespaced_pod_disruption_budget(space, budget("osd-0", {"osd-id": "0"}))
    (pod,) = core.list_namespaced_pod(space, label_selector="osd-id=0").items
    with pytest.raises(ApiException) as two:
        core.create_namespaced_pod_eviction(
            pod.metadata.name, space, eviction(pod.metadata.name, space)
        )
    assert two.value.status == 500
    assert "more than one PodDisruptionBudget" in json.loads(two.value.body)["message"]


def test_rbac_refuses_what_no_binding_grants(api, space, emulator, tmp_path):
    core, _apps, _policy = api
    token, user = uuid.uuid4().hex, f"system:serviceaccount:{space}:bench"
    emulator.add_user(token, user)
    limited_client = config.new_client_from_config(
        str(emulator.kubeconfig(tmp_path / "kubeconfig", token=token))
    )
    limited = client.CoreV1Api(limited_client)
    core.create_namespaced_config_map(space, {"metadata": {"name": "c"}})
    with pytest.raises(ApiException) as denied:
        limited.delete_namespaced_config_map("c", space)
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == (
        f'configmaps "c" is forbidden: User "{user}" cannot delete resource "configmaps" in '
        f'API group "" in the namespace "{space}"'
    )
    with pytest.raises(ApiException) as cluster_scope:
        limited.list_node()
    assert json.loads(cluster_scope.value.body)["message"] == (
        f'nodes is forbidden: User "{user}" cannot list resource "nodes" in API group "" at '
        "the cluster scope"
    )
    rbac = client.RbacAuthorizationV1Api(core.api_client)
    rbac.create_namespaced_role(
        space,
        {
            "metadata": {"name": "cm"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["delete"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        space,
        {
            "metadata": {"name": "cm"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"},
            "subjects": [{"kind": "ServiceAccount", "name": "bench", "namespace": space}],
        },
    )
    limited.delete_namespaced_config_map("c", space)
    with pytest.raises(ApiException) as unknown:
        client.CoreV1Api(
            config.new_client_from_config(
                str(emulator.kubeconfig(tmp_path / "bad", token="not-a-token"))
            )
        ).list_namespace()
    assert unknown.value.status == 401
    limited_client.close()


def test_a_cordoned_node_keeps_its_daemons_and_takes_no_new_pod(api, space):
    core, apps, _policy = api
    labels = {"app": "csi"}
    apps.create_namespaced_daemon_set(
        space,
        {
            "metadata": {"name": "csi"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [SLEEPER]}},
            },
        },
    )
    daemons = ready_pods(core, space, "app=csi", 3)
    assert sorted(p.spec.node_name for p in daemons) == [f"emulated-node-{i}" for i in (1, 2, 3)]
    node = "emulated-node-2"
    core.patch_node(node, {"spec": {"unschedulable": True}})
    try:
        (daemon,) = [p for p in daemons if p.spec.node_name == node]
        core.delete_namespaced_pod(daemon.metadata.name, space)
        # The DaemonSet's new pod tolerates the cordon: it lands on the same node.
        again = ready_pods(core, space, "app=csi", 3)
        assert node in {p.spec.node_name for p in again}
        # Anything else asking for that node stays Pending, named as the scheduler does.
        pinned = {**SLEEPER}
        core.create_namespaced_pod(
            space,
            {
                "metadata": {"name": "pinned", "labels": {"app": "pinned"}},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [pinned]},
            },
        )
        deadline = time.monotonic() + 5
        message = ""
        while time.monotonic() < deadline and "unschedulable" not in message:
            pod = core.read_namespaced_pod("pinned", space)
            message = " ".join(c.message or "" for c in pod.status.conditions or [])
            time.sleep(0.1)
        assert "1 node(s) were unschedulable" in message
        assert pod.spec.node_name is None
    finally:
        core.patch_node(node, {"spec": {"unschedulable": False}})
    assert ready_pods(core, space, "app=pinned", 1)[0].spec.node_name == node
