"""The Kubernetes faults against the emulator over HTTP, run as a ServiceAccount that has
exactly the shipped RBAC: rbac.yaml's roles, plus rbac-faults.yaml's where a test opts in.

A Ceph-like namespace (OSD Deployments named and labelled as Rook names them, a CSI
DaemonSet, a PodDisruptionBudget like Rook's) stands in for openshift-storage; the run's
one worker is pinned to emulated-node-1 (--fio-node-selector), so the other nodes can be
drained."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from pytest_fioloadgen.backends.kubernetes import manifests
from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings
from pytest_fioloadgen.exceptions import FaultError
from pytest_fioloadgen.faults import registry
from pytest_fioloadgen.faults.base import FaultContext

pytestmark = pytest.mark.slow

PACKAGE = Path(manifests.__file__).parent
SERVICE_ACCOUNT = ("fio", "fioloadgen")
USER = f"system:serviceaccount:{SERVICE_ACCOUNT[0]}:{SERVICE_ACCOUNT[1]}"
RUN_NODE = "emulated-node-1"
SLEEPER = {"name": "main", "image": "sleeper:1", "command": ["sleep", "600"]}
OSD_LABELS = {"app": "rook-ceph-osd"}
RUN = "[global]\nioengine=psync\nsize=2m\nruntime=4\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


def documents(name: str) -> list[dict]:
    return list(yaml.safe_load_all((PACKAGE / name).read_text()))


def subject() -> dict:
    return {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT[1], "namespace": SERVICE_ACCOUNT[0]}


@pytest.fixture(scope="module")
def admin(kubeconfig):
    api_client = config.new_client_from_config(str(kubeconfig))
    yield (
        client.CoreV1Api(api_client),
        client.AppsV1Api(api_client),
        client.PolicyV1Api(api_client),
        client.RbacAuthorizationV1Api(api_client),
    )
    api_client.close()


def role_ref(name: str) -> dict:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}


@pytest.fixture(scope="module")
def run_namespace(admin):
    """The run's namespace, given to the ServiceAccount with the least rbac.yaml allows:
    the deployer role bound in it alone (--fio-existing-namespace: bound cluster-wide,
    its pod deletion would reach every namespace), the cluster facts and namespaces
    roles cluster-wide. rbac-faults.yaml's roles exist; each test binds them."""
    core, _apps, _policy, rbac = admin
    for document in documents("rbac.yaml") + documents("rbac-faults.yaml"):
        if document["kind"] == "ClusterRole":
            rbac.create_cluster_role(document)
    name = f"fio-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    rbac.create_namespaced_role_binding(
        name,
        {
            "metadata": {"name": "fioloadgen-deployer"},
            "roleRef": role_ref("fioloadgen-deployer"),
            "subjects": [subject()],
        },
    )
    # fioloadgen-namespaces too, though rbac.yaml says an existing namespace needs it
    # not: the backend reads its namespace (get namespaces, cluster scope) all the same.
    for role in ("fioloadgen-cluster-facts", "fioloadgen-namespaces"):
        rbac.create_cluster_role_binding(
            {"metadata": {"name": role}, "roleRef": role_ref(role), "subjects": [subject()]}
        )
    yield name
    core.delete_namespace(name)
    gone(core, name)


@pytest.fixture(scope="module")
def deployed(emulator, run_namespace, tmp_path_factory):
    """One worker on emulated-node-1, deployed by the ServiceAccount."""
    token = uuid.uuid4().hex
    emulator.add_user(token, USER)
    kubeconfig = emulator.kubeconfig(tmp_path_factory.mktemp("sa") / "config", token=token)
    backend = KubernetesBackend(
        KubernetesSettings(
            namespace=run_namespace,
            image="fio:emulated",
            pvc_size="1Gi",
            node_selector={"kubernetes.io/hostname": RUN_NODE},
            kubeconfig=Path(kubeconfig),
            ready_timeout=30,
            existing_namespace=True,
        ),
        session_id=uuid.uuid4().hex,
    )
    env = backend.deploy(["standard"], 1)
    yield backend, env
    with contextlib.suppress(Exception):
        backend.teardown(env)


@pytest.fixture
def storage(admin):
    """A namespace like openshift-storage: three OSD Deployments (one pod each), a CSI
    DaemonSet (a pod per node) and the OSDs' budget (maxUnavailable 1, as Rook's)."""
    core, apps, policy, _rbac = admin
    name = f"storage-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    csi = {"app": "csi-rbdplugin"}
    apps.create_namespaced_daemon_set(
        name,
        {
            "metadata": {"name": "csi-rbdplugin"},
            "spec": {
                "selector": {"matchLabels": csi},
                "template": {"metadata": {"labels": csi}, "spec": {"containers": [SLEEPER]}},
            },
        },
    )
    for osd in range(3):
        labels = {**OSD_LABELS, "ceph-osd-id": str(osd)}
        apps.create_namespaced_deployment(
            name,
            {
                "metadata": {"name": f"rook-ceph-osd-{osd}", "labels": labels},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [SLEEPER]},
                    },
                },
            },
        )
    policy.create_namespaced_pod_disruption_budget(
        name,
        {
            "metadata": {"name": "rook-ceph-osd"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": OSD_LABELS}},
        },
    )
    ready(core, name, "app=rook-ceph-osd", 3)
    ready(core, name, "app=csi-rbdplugin", 3)
    yield name
    core.delete_namespace(name)
    gone(core, name)


def gone(core, namespace: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and namespace in {
        ns.metadata.name for ns in core.list_namespace().items
    }:
        time.sleep(0.1)


@pytest.fixture
def fault_rbac(admin):
    """Bind rbac-faults.yaml as shipped, its RoleBinding moved to the given namespace."""
    rbac = admin[3]
    made: list[tuple[str, str | None]] = []

    def bind(namespace: str) -> None:
        for document in documents("rbac-faults.yaml"):
            if not document["kind"].endswith("Binding"):
                continue
            body = copy.deepcopy(document)
            body["metadata"]["name"] += f"-{uuid.uuid4().hex[:4]}"
            body["subjects"] = [subject()]
            if document["kind"] == "RoleBinding":
                body["metadata"]["namespace"] = namespace
                rbac.create_namespaced_role_binding(namespace, body)
                made.append((body["metadata"]["name"], namespace))
            else:
                rbac.create_cluster_role_binding(body)
                made.append((body["metadata"]["name"], None))

    yield bind
    for name, namespace in made:
        with contextlib.suppress(Exception):
            if namespace is None:
                rbac.delete_cluster_role_binding(name)
            else:
                rbac.delete_namespaced_role_binding(name, namespace)


def ready(core, namespace, selector, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        up = [
            p
            for p in pods
            if not p.metadata.deletion_timestamp
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        if len(up) >= count:
            return up
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} Ready pods for {selector} in {namespace}")


def running(core, namespace, selector, timeout=20.0):
    """The one Running pod (a run-to-completion pod is never Ready) of ``selector``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        if len(pods) == 1 and pods[0].status.phase == "Running" and pods[0].spec.node_name:
            return pods[0]
        time.sleep(0.1)
    raise AssertionError(f"no Running pod for {selector} in {namespace}")


def make(text, deployed):
    backend, env = deployed
    find = registry.lookup()
    spec = registry.parse(text, "--fio-fault", find)
    context = FaultContext(backend, env, "standard", backend.resolve(env, "standard", 1))
    return registry.fault_type(spec, find).make(spec, context)


def test_delete_pod_deletes_in_another_namespace_and_the_undo_waits_for_the_replacement(
    admin, deployed, storage, fault_rbac
):
    core = admin[0]
    text = f'delete-pod:namespace={storage},selector="app=rook-ceph-osd,ceph-osd-id=1",at=0s,for=1s'
    # Without the opt-in RBAC the ServiceAccount may not even look: one line that says
    # where the grant is.
    with pytest.raises(FaultError) as denied:
        make(text, deployed)
    assert str(denied.value) == (
        f'delete-pod: list pods in {storage}: Forbidden: pods is forbidden: User "{USER}" '
        f'cannot list resource "pods" in API group "" in the namespace "{storage}" (HTTP 403) '
        "(grant it with backends/kubernetes/rbac-faults.yaml)"
    )
    fault_rbac(storage)
    fault = make(text, deployed)
    assert (fault.scope, fault.reversible, fault.lost_workers) == ("cluster", False, frozenset())
    (victim,) = core.list_namespaced_pod(storage, label_selector="ceph-osd-id=1").items
    said = fault.inject()
    assert said == f"deleted pod {storage}/{victim.metadata.name}"
    left = core.list_namespaced_pod(storage, label_selector="ceph-osd-id=1").items
    assert victim.metadata.uid not in {pod.metadata.uid for pod in left}
    undone = fault.undo()
    assert undone.startswith("1 replacement pod Ready ") and undone.endswith(
        " s after the deletion"
    )
    (replacement,) = ready(core, storage, "ceph-osd-id=1", 1)
    assert replacement.metadata.uid != victim.metadata.uid
    owner = replacement.metadata.owner_references[0]
    assert (owner.kind, owner.name) == ("Deployment", "rook-ceph-osd-1")
    assert fault.cleared()


def test_delete_pod_refuses_the_run_own_pods_unless_workers_allow(admin, deployed):
    core = admin[0]
    backend, env = deployed
    namespace = backend.namespace
    (worker,) = backend.resolve(env, "standard", 1)
    with pytest.raises(FaultError) as refused:
        make("delete-pod:name=fio-standard-0,at=1s", deployed)
    assert str(refused.value) == (
        f"delete-pod: refused: pod {namespace}/fio-standard-0 is a worker of this run "
        f"({worker.address.name}); add workers=allow to take it out of the run on purpose"
    )
    # The run's fio client: never, whatever the spec says.
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["result"] = backend.run_job(env, RUN, [worker], expected_runtime_s=4)
        except Exception as err:
            outcome["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        client_pod = running(core, namespace, "app.kubernetes.io/component=run")
        with pytest.raises(FaultError) as client_refused:
            make(
                "delete-pod:selector=app.kubernetes.io/component=run,workers=allow,at=1s",
                deployed,
            )
        assert str(client_refused.value) == (
            f"delete-pod: refused: pod {namespace}/{client_pod.metadata.name} is this run's fio "
            "client (its Job's pod); deleting it would end the run"
        )
        with pytest.raises(FaultError) as drain_refused:
            make(f"drain-node:node={RUN_NODE},at=1s,for=1s", deployed)
        assert str(drain_refused.value) == (
            f"drain-node: refused: node {RUN_NODE} hosts this run's own pods "
            f"({', '.join(sorted([client_pod.metadata.name, 'fio-standard-0']))} in "
            f"{namespace}); drain another node, or keep the workers off it "
            "(--fio-node-selector)"
        )
    finally:
        thread.join(30)
    assert "result" in outcome, outcome
    # On purpose: the worker is one the run loses, and the undo waits for the
    # StatefulSet's new pod of the same name.
    fault = make("delete-pod:name=fio-standard-0,workers=allow,at=1s", deployed)
    assert fault.lost_workers == frozenset({worker.address.name})
    (before,) = core.list_namespaced_pod(
        namespace, field_selector="metadata.name=fio-standard-0"
    ).items
    assert fault.inject() == f"deleted pod {namespace}/fio-standard-0"
    assert fault.undo().startswith("1 replacement pod Ready")
    (after,) = ready(core, namespace, manifests.WORKER_SELECTOR, 1)
    assert after.metadata.name == "fio-standard-0" and after.metadata.uid != before.metadata.uid
    backend.resolve(env, "standard", 1)


def test_delete_pod_undo_that_times_out_names_what_is_missing(
    admin, deployed, storage, fault_rbac, emulator
):
    fault_rbac(storage)
    fault = make(
        f"delete-pod:namespace={storage},selector=ceph-osd-id=2,timeout=1s,at=0s", deployed
    )
    # Nothing can make the replacement: its creation is refused (a quota, a webhook).
    emulator.configure(forbid_pods="admission webhook denied the request")
    fault.inject()
    started = time.monotonic()
    with pytest.raises(FaultError) as missing:
        fault.undo()
    assert time.monotonic() - started < 5
    assert str(missing.value) == (
        "delete-pod: no Ready replacement within 1 s for Deployment "
        f"{storage}/rook-ceph-osd-2 (for {fault._deleted[0].name})"
    )
    assert not fault.cleared()


def test_drain_node_cordons_evicts_through_the_eviction_api_and_uncordons(
    admin, deployed, storage, fault_rbac, emulator
):
    core = admin[0]
    fault_rbac(storage)
    osds = ready(core, storage, "app=rook-ceph-osd", 3)
    node = min(pod.spec.node_name for pod in osds if pod.spec.node_name != RUN_NODE)
    on_node = sorted(pod.metadata.name for pod in osds if pod.spec.node_name == node)
    # A static pod's mirror: deleting it through the API would do nothing; drains leave it.
    core.create_namespaced_pod(
        storage,
        {
            "metadata": {
                "name": f"etcd-{node}",
                "annotations": {"kubernetes.io/config.mirror": "emulated"},
            },
            "spec": {"nodeName": node, "containers": [SLEEPER]},
        },
    )
    emulator.hold_budget(storage, "rook-ceph-osd", 1)
    fault = make(f"drain-node:node={node},at=0s,for=1s", deployed)
    assert (fault.scope, fault.reversible) == ("cluster", True)
    said = fault.inject()
    assert said == (
        f"cordoned {node}, evicted {len(on_node)} pod{'s' if len(on_node) > 1 else ''}, "
        "1 eviction refused by a PodDisruptionBudget and retried, left 1 DaemonSet and "
        "1 mirror pods"
    )
    assert core.read_node(node).spec.unschedulable is True
    left = {
        pod.metadata.name
        for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    }
    assert not left & set(on_node), "the OSD pods were evicted"
    assert f"etcd-{node}" in left
    assert any(name.startswith("csi-rbdplugin-") for name in left)
    # Their Deployments replaced them, elsewhere: the scheduler keeps off the cordon.
    replaced = ready(core, storage, "app=rook-ceph-osd", 3)
    assert node not in {pod.spec.node_name for pod in replaced}
    assert fault.undo() == f"uncordoned {node}"
    assert not core.read_node(node).spec.unschedulable
    assert fault.cleared()


def test_a_drain_that_cannot_finish_names_the_budget_and_leaves_no_cordon(
    admin, deployed, storage, fault_rbac, emulator
):
    core, _apps, policy, _rbac = admin
    fault_rbac(storage)
    osds = ready(core, storage, "app=rook-ceph-osd", 3)
    victim = min(
        (pod for pod in osds if pod.spec.node_name != RUN_NODE), key=lambda p: p.spec.node_name
    )
    node = victim.spec.node_name
    policy.patch_namespaced_pod_disruption_budget(
        "rook-ceph-osd", storage, {"spec": {"maxUnavailable": 0}}
    )
    fault = make(f"drain-node:node={node},timeout=2s,at=0s,for=1s", deployed)
    started = time.monotonic()
    with pytest.raises(FaultError) as stuck:
        fault.inject()
    assert time.monotonic() - started < 6
    assert str(stuck.value) == (
        f"drain-node: node {node}: not drained within 2 s: {storage}/{victim.metadata.name} "
        f"(PodDisruptionBudget {storage}/rook-ceph-osd allows 0 disruptions)"
    )
    assert not core.read_node(node).spec.unschedulable, "the failed drain uncordoned"
    assert fault.cleared()


def test_drain_node_refuses_the_node_of_the_run_workers(deployed, fault_rbac):
    backend, _env = deployed
    fault_rbac(backend.namespace)
    for how in (f"node={RUN_NODE}", f"selector=kubernetes.io/hostname={RUN_NODE}"):
        with pytest.raises(FaultError) as refused:
            make(f"drain-node:{how},at=1s,for=1s", deployed)
        assert str(refused.value) == (
            f"drain-node: refused: node {RUN_NODE} hosts this run's own pods (fio-standard-0 "
            f"in {backend.namespace}); drain another node, or keep the workers off it "
            "(--fio-node-selector)"
        )
    with pytest.raises(FaultError) as unknown:
        make("drain-node:node=no-such-node,at=1s,for=1s", deployed)
    assert str(unknown.value) == (
        "drain-node: no node 'no-such-node' in the cluster (it has: emulated-node-1, "
        "emulated-node-2, emulated-node-3)"
    )
