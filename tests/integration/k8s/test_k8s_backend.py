"""The kubernetes backend against the API emulator: real HTTP, real fio in pods."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kubernetes import client, config

from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.kubernetes import api as k8s_api
from pytest_fioloadgen.exceptions import BackendError, FioRunError

pytestmark = pytest.mark.slow

JOB = "[global]\nioengine=psync\nsize=2m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


def namespaces(emulator) -> set[str]:
    return {obj["metadata"]["name"] for obj in emulator.objects("namespaces")}


def test_deploy_run_teardown_two_storage_classes(emulator, make_backend, namespace):
    backend = make_backend()
    env = backend.deploy(["standard", "fast"], 4)
    assert env.describe() == {"standard": 4, "fast": 4}
    sets = {obj["metadata"]["name"]: obj for obj in emulator.objects("statefulsets", namespace)}
    assert sets["fio-fast"]["spec"]["podManagementPolicy"] == "Parallel"
    template = sets["fio-fast"]["spec"]["volumeClaimTemplates"][0]
    assert template["spec"]["storageClassName"] == "fast"
    assert len(emulator.objects("persistentvolumeclaims", namespace)) == 8
    for target in ("standard", "fast"):
        for count in (1, 2, 4):
            workers = backend.resolve(env, target, count)
            result = backend.run_job(env, JOB, workers, expected_runtime_s=1)
            assert sorted(w.name for w in result.workers) == sorted(w.address.name for w in workers)
            assert result.metrics["iops"] > 0
    # Every run's Job and ConfigMap were removed, and the Job's pod with it.
    assert emulator.objects("jobs", namespace) == []
    assert [p for p in emulator.objects("pods", namespace) if "run" in p["metadata"]["name"]] == []
    facts = backend.fingerprint(env)
    assert facts["fio_version"].startswith("fio-")
    assert facts["kubernetes"]["nodes"] == 3
    assert facts["targets"]["fast"]["parameters"] == {"tier": "fast"}
    assert facts["targets"]["fast"]["pvc_size"] == "1Gi"
    assert facts["cluster"]["id"]
    backend.teardown(env)
    assert namespace not in namespaces(emulator)
    assert emulator.objects("pods", namespace) == []


def test_worker_restart_is_found_by_name(emulator, make_backend, namespace, kubeconfig):
    backend = make_backend()
    env = backend.deploy(["standard"], 1)
    before = emulator.objects("pods", namespace)[0]["status"]["podIP"]
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    api.delete_namespaced_pod("fio-standard-0", namespace)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = emulator.objects("pods", namespace)
        ready = [
            p
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions", [])
            )
        ]
        if ready:
            break
        time.sleep(0.1)
    after = emulator.objects("pods", namespace)[0]["status"]["podIP"]
    assert after != before
    result = backend.run_job(env, JOB, backend.resolve(env, "standard", 1), expected_runtime_s=1)
    assert result.metrics["iops"] > 0


def test_missing_worker_is_named(emulator, make_backend, namespace):
    backend = make_backend()
    env = backend.deploy(["standard"], 1)
    worker = backend.resolve(env, "standard", 1)[0]
    ghost = worker.__class__(
        "ghost",
        worker.address.__class__(worker.address.host.replace("-0.", "-7."), 8765),
        "standard",
    )
    with pytest.raises(FioRunError, match="fio-standard-7"):
        backend.run_job(env, JOB, [worker, ghost], expected_runtime_s=1)
    assert emulator.objects("jobs", namespace) == []


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"images": {"fio:broken": "ImagePullBackOff"}}, r"image pull failed \(ImagePullBackOff"),
        ({"images": {"fio:broken": "ErrImagePull"}}, r"image pull failed \(ErrImagePull"),
        ({"images": {"fio:broken": "CrashLoopBackOff"}}, "CrashLoopBackOff"),
        ({"quota_pods": 1}, "resource quota exceeded: .*exceeded quota"),
        ({"forbid_pods": 'violates PodSecurity "restricted"'}, "pod creation forbidden"),
    ],
    ids=["imagepullbackoff", "errimagepull", "crashloop", "quota", "forbidden-pods"],
)
def test_fatal_causes_fail_fast_and_clean_up(emulator, make_backend, namespace, setting, expected):
    emulator.configure(**setting)
    backend = make_backend(image="fio:broken", ready_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(BackendError, match=expected):
        backend.deploy(["standard"], 2)
    assert time.monotonic() - started < 10, "a fatal cause must not wait for the timeout"
    assert namespace not in namespaces(emulator)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            {"pending_storage_classes": ["standard"]},
            r"0 of 1 workers Ready .*PVC data-fio-standard-0 \(storage class 'standard'\) is "
            "Pending: failed to provision",
        ),
        (
            {"unschedulable": "0/3 nodes are available: 3 Insufficient cpu."},
            "pod fio-standard-0 is Unschedulable: 0/3 nodes are available: 3 Insufficient cpu",
        ),
    ],
    ids=["pvc-pending", "unschedulable"],
)
def test_slow_causes_are_named_at_the_timeout(emulator, make_backend, namespace, setting, expected):
    emulator.configure(**setting)
    backend = make_backend(ready_timeout_s=2)
    with pytest.raises(BackendError, match=expected):
        backend.deploy(["standard"], 1)
    assert namespace not in namespaces(emulator)


def test_unknown_storage_class(make_backend, emulator, namespace):
    with pytest.raises(
        BackendError, match=r"storage class 'gold' .* does not exist .*ceph-rbd, fast, standard"
    ):
        make_backend().deploy(["gold"], 1)
    assert namespace not in namespaces(emulator)


def test_rbac_forbidden_is_one_line(emulator, make_backend, namespace):
    emulator.fault(
        verb="create",
        resource="statefulsets",
        code=403,
        reason="Forbidden",
        times=-1,
        message='statefulsets.apps is forbidden: User "ci" cannot create resource '
        '"statefulsets" in API group "apps" in the namespace "x"',
    )
    with pytest.raises(BackendError) as caught:
        make_backend().deploy(["standard"], 1)
    message = str(caught.value)
    assert message.startswith(f"create statefulset {namespace}/fio-standard: Forbidden: ")
    assert "(HTTP 403)" in message and "\n" not in message
    assert namespace not in namespaces(emulator)


def test_invalid_and_conflict_are_one_line(emulator, make_backend):
    emulator.fault(
        verb="create",
        resource="services",
        code=422,
        reason="Invalid",
        times=1,
        message='Service "fio-standard" is invalid: spec.ports[0].port: Invalid value: 0',
    )
    with pytest.raises(
        BackendError, match=r"create service .*/fio-standard: Invalid: .*\(HTTP 422\)"
    ):
        make_backend().deploy(["standard"], 1)


def test_transient_errors_are_retried(emulator, make_backend, namespace):
    emulator.fault(
        verb="create",
        resource="statefulsets",
        code=429,
        reason="TooManyRequests",
        message="slow down",
        times=2,
        retry_after=1,
    )
    emulator.fault(
        verb="list",
        resource="pods",
        code=503,
        reason="ServiceUnavailable",
        message="etcd leader changed",
        times=2,
    )
    backend = make_backend()
    env = backend.deploy(["standard"], 1)
    assert env.describe() == {"standard": 1}
    backend.teardown(env)


def test_persistent_5xx_gives_up_with_the_reason(emulator, make_backend, monkeypatch):
    monkeypatch.setattr(k8s_api, "FIRST_BACKOFF_S", 0.01)
    emulator.fault(
        verb="get",
        resource="storageclasses",
        code=500,
        reason="InternalError",
        message="etcdserver: request timed out",
        times=-1,
    )
    with pytest.raises(BackendError, match="read storageclass standard: InternalError: etcdserver"):
        make_backend().deploy(["standard"], 1)


def test_foreign_namespace_is_refused(emulator, make_backend, kubeconfig, namespace):
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    api.create_namespace({"metadata": {"name": namespace}})
    backend = make_backend()
    with pytest.raises(
        BackendError, match=r"refusing to deploy into namespace .*did not create it"
    ):
        backend.deploy(["standard"], 1)
    with pytest.raises(BackendError, match="refusing to delete namespace"):
        backend.destroy(force=True)
    assert namespace in namespaces(emulator)
    api.delete_namespace(namespace)


def test_lock_keeps_a_second_deploy_out(emulator, make_backend, namespace):
    first = make_backend()
    env = first.deploy(["standard"], 1)
    second = make_backend()
    with pytest.raises(
        BackendError, match=f"locked by another deploy .*fioloadgen unlock --namespace {namespace}"
    ):
        second.deploy(["standard"], 1)
    # The refused deploy must not have torn down the first one's environment.
    assert first.status() == {"standard": (1, 1)}
    with pytest.raises(BackendError, match="in use by session"):
        second.destroy()
    first.teardown(env)
    assert namespace not in namespaces(emulator)


def test_keep_leaves_workers_and_releases_the_lock(emulator, make_backend, namespace):
    first = make_backend(keep=True)
    env = first.deploy(["standard"], 1)
    first.teardown(env)
    assert env.kept and first.lock_holder() is None
    second = make_backend()
    env = second.deploy(["standard"], 2)  # takes the kept StatefulSet over, resized
    assert second.status() == {"standard": (2, 2)}
    second.teardown(env)


def test_leak_check_names_what_is_left(make_backend, kubeconfig, namespace):
    backend = make_backend()
    backend.ensure_namespace()
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    api.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {
                "name": "stray",
                "labels": {"app.kubernetes.io/managed-by": "pytest-fioloadgen"},
            },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    with pytest.raises(
        BackendError,
        match=rf"teardown left 2 objects behind: namespace {namespace}, persistentvolumeclaim {namespace}/stray",
    ):
        backend.check_leaks()


def test_ceph_storage_class_adds_ceph_facts(make_backend):
    backend = make_backend()
    facts = backend.fingerprint(Environment(backend="kubernetes", workers={"ceph-rbd": []}))
    target = facts["targets"]["ceph-rbd"]
    assert target["provisioner"] == "rook-ceph.rbd.csi.ceph.com"
    assert target["parameters"]["pool"] == "replicapool"
    assert facts["ceph"] == {"collected": False, "reason": "no rook-ceph-tools pod found"}


def test_loopback_fallback_without_network_namespaces(tmp_path):
    """What the emulator does when the tests do not run as root."""
    from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
    from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings
    from tests.k8s_emulator.harness import Emulator

    with Emulator(use_netns=False) as loopback:
        kubeconfig = loopback.kubeconfig(tmp_path / "kubeconfig")
        backend = KubernetesBackend(
            KubernetesSettings(image="fio:emulated", kubeconfig=Path(kubeconfig)),
            session_id="loopback",
        )
        env = backend.deploy(["standard"], 2)
        ips = {pod["status"]["podIP"] for pod in loopback.objects("pods", "fio")}
        assert all(ip.startswith("127.") for ip in ips) and len(ips) == 2
        result = backend.run_job(
            env, JOB, backend.resolve(env, "standard", 2), expected_runtime_s=1
        )
        assert len(result.workers) == 2
        backend.teardown(env)


def test_refused_client_pod_fails_the_run_fast(emulator, make_backend, namespace):
    backend = make_backend()
    env = backend.deploy(["standard"], 1)
    emulator.configure(quota_pods=1)
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"fio client: job fio-run-\w+: resource quota exceeded"):
        backend.run_job(env, JOB, backend.resolve(env, "standard", 1), expected_runtime_s=1)
    assert time.monotonic() - started < 15
    assert emulator.objects("jobs", namespace) == []
