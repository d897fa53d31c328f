"""The kubernetes backend against a real cluster: opt-in with ``--with-k8s``.

Uses the current kubeconfig (KUBECONFIG), the storage classes in FIO_STORAGECLASS
(default: the cluster's default class), the image in FIO_IMAGE and the namespace in
FIO_NAMESPACE (default fio-selftest, created and deleted by the test).
"""

from __future__ import annotations

import os
import uuid

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster_backend(request):
    if not request.config.getoption("--with-k8s"):
        pytest.skip("real-cluster test: pass --with-k8s (uses KUBECONFIG)")
    pytest.importorskip("kubernetes")
    from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
    from pytest_fioloadgen.backends.kubernetes.manifests import DEFAULT_IMAGE, WorkerSpec

    backend = KubernetesBackend(
        WorkerSpec(
            namespace=os.environ.get("FIO_NAMESPACE", "fio-selftest"),
            image=os.environ.get("FIO_IMAGE", DEFAULT_IMAGE),
            pvc_size=os.environ.get("FIO_PVC_SIZE", "1Gi"),
        ),
        session_id=uuid.uuid4().hex,
        kubeconfig=os.environ.get("FIO_KUBECONFIG"),
        context=os.environ.get("FIO_CONTEXT"),
    )
    yield backend
    backend.destroy()
    backend.close()


def _storage_classes(backend) -> list[str]:
    configured = [sc for sc in os.environ.get("FIO_STORAGECLASS", "").split(",") if sc]
    if configured:
        return configured
    classes = backend.api.call("list storageclasses", backend.api.storage.list_storage_class)
    default = [
        sc.metadata.name
        for sc in classes.items
        if (sc.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    if not default:
        pytest.skip("no FIO_STORAGECLASS and no default storage class in the cluster")
    return default[:1]


def test_deploy_run_teardown_on_a_real_cluster(cluster_backend):
    targets = _storage_classes(cluster_backend)
    env = cluster_backend.deploy(targets, 2)
    job = "[global]\nioengine=psync\nsize=16m\nruntime=5\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
    for target in targets:
        workers = cluster_backend.resolve(env, target, 2)
        result = cluster_backend.run_job(env, job, workers, expected_runtime_s=5)
        assert len(result.workers) == 2 and result.metrics["iops"] > 0
    facts = cluster_backend.fingerprint(env)
    assert facts["kubernetes"]["version"].startswith("v")
    cluster_backend.teardown(env)
