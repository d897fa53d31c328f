"""The kubernetes backend against a real cluster: opt-in with ``--with-k8s``.

Uses the current kubeconfig (KUBECONFIG), the storage classes in FIO_STORAGECLASS
(default: the cluster's default class), the image in FIO_IMAGE and the namespace in
FIO_NAMESPACE (default fio-selftest, created and deleted by the test). The block and rwx
shapes run on FIO_BLOCK_STORAGECLASS (a class that provisions raw block volumes, e.g.
Ceph RBD) and FIO_RWX_STORAGECLASS (ReadWriteMany, e.g. CephFS or NFS); each is skipped
when its variable is unset. FIO_FS_GROUP sets the pods' fsGroup (vanilla Kubernetes with
root-owned volumes; leave it unset on OpenShift, whose SCC assigns one).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

JOB = "[global]\nioengine=psync\nsize=16m\nruntime=5\ntime_based\n[rr]\nrw=randread\nbs=4k\n"


@pytest.fixture
def cluster_backend(request):
    if not request.config.getoption("--with-k8s"):
        pytest.skip("real-cluster test: pass --with-k8s (uses KUBECONFIG)")
    pytest.importorskip("kubernetes")
    from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
    from pytest_fioloadgen.backends.kubernetes.settings import DEFAULT_IMAGE, KubernetesSettings

    made = []

    def make(**shape):
        fs_group = os.environ.get("FIO_FS_GROUP")
        kubeconfig = os.environ.get("FIO_KUBECONFIG")
        backend = KubernetesBackend(
            KubernetesSettings(
                namespace=os.environ.get("FIO_NAMESPACE", "fio-selftest"),
                image=os.environ.get("FIO_IMAGE", DEFAULT_IMAGE),
                pvc_size=os.environ.get("FIO_PVC_SIZE", "1Gi"),
                fs_group=int(fs_group) if fs_group else None,
                kubeconfig=Path(kubeconfig) if kubeconfig else None,
                context=os.environ.get("FIO_CONTEXT"),
                **shape,
            ),
            session_id=uuid.uuid4().hex,
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
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
    backend = cluster_backend()
    targets = _storage_classes(backend)
    env = backend.deploy(targets, 2)
    for target in targets:
        workers = backend.resolve(env, target, 2)
        result = backend.run_job(env, JOB, workers, expected_runtime_s=5)
        assert len(result.workers) == 2 and result.metrics["iops"] > 0
        assert result.raw["fioloadgen"]["timeseries"]["workers"]
    facts = backend.fingerprint(env)
    assert facts["kubernetes"]["version"].startswith("v")
    backend.teardown(env)


@pytest.mark.parametrize(
    ("variable", "shape"),
    [
        ("FIO_BLOCK_STORAGECLASS", {"volume_mode": "block"}),
        ("FIO_RWX_STORAGECLASS", {"access_mode": "rwx"}),
    ],
    ids=["block", "rwx"],
)
def test_volume_shapes_on_a_real_cluster(cluster_backend, variable, shape):
    """Through a BenchmarkSession, as the plugin runs it: block jobs get the device as
    their filename and the safety policy allows exactly it."""
    from pytest_fioloadgen.cases import Case
    from pytest_fioloadgen.profiles import parse_profile
    from pytest_fioloadgen.session import BenchmarkSession
    from pytest_fioloadgen.verdicts.thresholds import Thresholds

    storage_class = os.environ.get(variable)
    if not storage_class:
        pytest.skip(f"set {variable} to a storage class for this shape")
    backend = cluster_backend(**shape)
    session = BenchmarkSession(
        backend=backend,
        targets=[storage_class],
        max_workers=2,
        store=None,
        thresholds=Thresholds.empty(),
    )
    try:
        outcome = session.run(Case(parse_profile(JOB, name="shape"), 2, storage_class))
        assert len(outcome.result.workers) == 2 and outcome.result.metrics["iops"] > 0
        assert session.fingerprint()["targets"][storage_class]["volume_mode"] == shape.get(
            "volume_mode", "filesystem"
        )
    finally:
        session.close()
