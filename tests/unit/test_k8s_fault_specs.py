"""The Kubernetes faults' spec mistakes are one line each, found before anything reaches a
cluster (the backend object is real; it connects only when a call is made)."""

from __future__ import annotations

import pytest

from pytest_fioloadgen import faults
from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings
from pytest_fioloadgen.backends.local import LocalBackend
from pytest_fioloadgen.exceptions import FaultError
from pytest_fioloadgen.faults import registry
from pytest_fioloadgen.faults.base import FaultContext

WHERE = "--fio-fault"


def make(text: str, backend: object) -> object:
    find = registry.lookup()
    spec = registry.parse(text, WHERE, find)
    env = Environment(backend=getattr(backend, "name", "?"), workers={"standard": []})
    context = FaultContext(backend=backend, env=env, target="standard", workers=[])  # type: ignore[arg-type]
    return registry.fault_type(spec, find).make(spec, context)


@pytest.fixture
def kubernetes() -> KubernetesBackend:
    return KubernetesBackend(KubernetesSettings(namespace="fio"), session_id="unit")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "delete-pod:pod=x,at=1s",
            "--fio-fault: delete-pod: unknown key 'pod' (keys: at, for, name, namespace, "
            "selector, timeout, workers)",
        ),
        (
            "drain-node:nodes=a,at=1s",
            "--fio-fault: drain-node: unknown key 'nodes' (keys: at, for, node, selector, timeout)",
        ),
        (
            "drain-node:node=a",
            "--fio-fault: drain-node: at= is missing (seconds into the measurement)",
        ),
    ],
)
def test_unknown_keys_are_one_line(text, message):
    with pytest.raises(FaultError) as err:
        registry.parse(text, WHERE, registry.lookup())
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delete-pod:at=1s", "delete-pod: give name= or selector= (got neither)"),
        ("delete-pod:name=a,selector=b=c,at=1s", "delete-pod: give name= or selector= (got both)"),
        ("delete-pod:name=a,workers=yes,at=1s", "delete-pod: workers='yes' is not allow or refuse"),
        (
            "delete-pod:name=a,timeout=soon,at=1s",
            "delete-pod: timeout: 'soon' is not a duration (like 3s, 500ms, 2m)",
        ),
        ("drain-node:at=1s,for=2s", "drain-node: give node= or selector= (got neither)"),
        (
            'drain-node:node=a,selector="x=y",at=1s,for=2s',
            "drain-node: give node= or selector= (got both)",
        ),
    ],
)
def test_missing_or_conflicting_keys_are_one_line_before_any_api_call(kubernetes, text, message):
    with pytest.raises(FaultError) as err:
        make(text, kubernetes)
    assert str(err.value) == message
    assert kubernetes._api is None, "no connection was made"


def test_another_backend_is_refused_in_one_line(tmp_path):
    local = LocalBackend([], session_id="unit")
    for text in ("delete-pod:name=x,at=1s", "drain-node:node=a,at=1s,for=1s"):
        with pytest.raises(FaultError) as err:
            make(text, local)
        name = text.partition(":")[0]
        assert str(err.value) == (
            f"fault {name}: the local backend cannot inject it (it acts on a Kubernetes "
            "cluster); use --fio-backend kubernetes, or command"
        )


def test_python_constructors_give_the_cli_specs():
    selector = "app=rook-ceph-osd,ceph-osd-id=3"
    made = faults.delete_pod(namespace="openshift-storage", selector=selector, at=30)
    typed = registry.parse(
        f'delete-pod:namespace=openshift-storage,selector="{selector}",at=30s',
        WHERE,
        registry.lookup(),
    )
    assert made == typed
    assert made.get("selector") == selector
    assert made.canonical() == (
        'delete-pod:at=30s,namespace=openshift-storage,selector="app=rook-ceph-osd,ceph-osd-id=3"'
    )
    drain = faults.drain_node(node="worker-2", at=10, duration=30, timeout=60)
    assert drain.canonical() == "drain-node:at=10s,for=30s,node=worker-2,timeout=60s"
    assert drain.tag == "fault-drain"
