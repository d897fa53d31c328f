"""Kubernetes manifests and settings of the kubernetes backend (no cluster, no client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fioloadgen_server import k8s_deploy

from pytest_fioloadgen.backends.kubernetes import manifests
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings
from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.settings import resolve

SPEC = KubernetesSettings(
    namespace="bench",
    image="registry/fio:1",
    pvc_size="20Gi",
    requests={"cpu": "1"},
    limits={"memory": "2Gi"},
)


def test_statefulset_per_storage_class():
    sts = manifests.statefulset(SPEC, "ocs-storagecluster-ceph-rbd", 4)
    assert sts["metadata"]["name"] == "fio-ocs-storagecluster-ceph-rbd"
    spec = sts["spec"]
    assert spec["replicas"] == 4 and spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == sts["metadata"]["name"]
    (spread,) = spec["template"]["spec"]["topologySpreadConstraints"]
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "registry/fio:1"
    assert container["resources"] == {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}
    assert container["workingDir"] == manifests.DATA_MOUNT
    claim = spec["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "ocs-storagecluster-ceph-rbd"
    assert claim["resources"]["requests"]["storage"] == "20Gi"
    for obj in (sts, manifests.headless_service(SPEC, "x"), manifests.namespace("bench")):
        assert obj["metadata"]["labels"][manifests.OWNER_LABEL] == manifests.OWNER_VALUE


def test_headless_service_and_dns_names():
    service = manifests.headless_service(SPEC, "gp3.encrypted")
    assert service["spec"]["clusterIP"] == "None"
    assert service["metadata"]["name"] == "fio-gp3-encrypted"
    assert manifests.worker_dns_name("gp3.encrypted", "fio-gp3-encrypted-2", "bench") == (
        "fio-gp3-encrypted-2.fio-gp3-encrypted.bench.svc"
    )


def test_run_job_runs_the_client_once():
    job = manifests.run_job(SPEC, "fio-run-1", 600)
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    command = pod["containers"][0]["command"]
    assert command[:2] == ["sh", "-c"] and command[-1] == "/job"
    assert 'fio --client="$1/hosts" "$1/job.fio" --output-format=json+' in command[2]
    config_map = manifests.run_configmap(SPEC, "fio-run-1", "[x]\n", ["a,8765", "b,8765"])
    assert config_map["data"]["hosts"] == "a,8765\nb,8765\n"


def settings_from(env):
    """The kubernetes settings these variables resolve to."""
    return resolve(rootdir=Path("/r"), cli={}, env=env, ini={}).kubernetes


def test_kubernetes_settings():
    settings = settings_from(
        {
            "FIO_BACKEND": "kubernetes",
            "FIO_STORAGECLASS": "standard, gp3.io",
            "FIO_NAMESPACE": "bench",
            "FIO_REQUESTS": "cpu=500m,memory=1Gi",
            "FIO_PVC_SIZE": "5Gi",
            "FIO_KUBECONFIG": "kc",
            "FIO_READY_TIMEOUT": "60",
        }
    )
    assert settings.storageclasses == ("standard", "gp3.io")
    assert settings.requests == {"cpu": "500m", "memory": "1Gi"}
    assert settings.kubeconfig == Path("/r/kc")
    assert settings.ready_timeout == 60


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIO_NAMESPACE": "Bench_1"}, "FIO_NAMESPACE: namespace 'Bench_1' is not a valid"),
        ({"FIO_STORAGECLASS": "a,a"}, "FIO_STORAGECLASS: a storage class is listed twice"),
        ({"FIO_STORAGECLASS": "UPPER"}, "FIO_STORAGECLASS: storage class 'UPPER' is not"),
        ({"FIO_PVC_SIZE": "10GB"}, "FIO_PVC_SIZE: PVC size '10GB' is not a Kubernetes quantity"),
        ({"FIO_LIMITS": "cpu"}, "FIO_LIMITS: 'cpu' is not RESOURCE=QUANTITY"),
        ({"FIO_REQUESTS": "cpu=lots"}, "FIO_REQUESTS: cpu 'lots' is not a Kubernetes quantity"),
    ],
)
def test_bad_kubernetes_settings_name_the_source(env, message):
    with pytest.raises(ConfigError) as caught:
        settings_from(env)
    assert str(caught.value).startswith(message)


def test_kubernetes_client_is_imported_only_when_used():
    import subprocess
    import sys

    code = (
        "import sys, pytest_fioloadgen.plugin, pytest_fioloadgen.cli;"
        "import pytest_fioloadgen.backends.kubernetes.backend;"
        "import pytest_fioloadgen.backend_factory.kubernetes;"
        "print('kubernetes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def k8s_fingerprint(*, cluster="uid-1", parameters=None, workers=4, pvc_size="10Gi"):
    return {
        "backend": "kubernetes",
        "fio_version": "fio-3.33",
        "cluster": {"id": cluster},
        "kubernetes": {"version": "v1.30.0", "nodes": 3, "context": "ctx"},
        "targets": {
            "rbd": {
                "workers": workers,
                "pvc_size": pvc_size,
                "provisioner": "rook-ceph.rbd.csi.ceph.com",
                "parameters": parameters or {"pool": "replicapool"},
            }
        },
    }


def test_history_keys_separate_clusters_and_storage_classes():
    from pytest_fioloadgen.identity import history_key

    def key(**kwargs):
        return history_key(
            test="job",
            profile_hash="p",
            workers=2,
            backend="kubernetes",
            target="rbd",
            fingerprint=k8s_fingerprint(**kwargs),
        )

    assert key() == key(workers=8)  # the deploy size is not the storage
    assert key() != key(cluster="uid-2")
    assert key() != key(parameters={"pool": "ec-pool"})
    assert key() != key(pvc_size="100Gi")


def test_missing_client_says_which_extra_to_install():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['kubernetes'] = None\n"
        "from pytest_fioloadgen.backends.kubernetes.api import KubeApi\n"
        "try:\n    KubeApi()\nexcept Exception as err:\n    print(type(err).__name__, err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "BackendError the kubernetes backend needs the kubernetes client: "
        "pip install 'pytest-fioloadgen[kubernetes]'"
    )


def test_bad_kubeconfig_is_one_line(tmp_path):
    pytest.importorskip("kubernetes")
    from pytest_fioloadgen.backends.kubernetes.api import KubeApi
    from pytest_fioloadgen.exceptions import BackendError

    broken = tmp_path / "config"
    broken.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    with pytest.raises(BackendError, match=rf"cannot load Kubernetes config from {broken}: "):
        KubeApi(kubeconfig=str(broken))


SERVER = k8s_deploy.ServerSpec(namespace="bench", image="registry/server:1", storage_class="fast")


def test_server_objects_are_ours_and_share_one_pvc():
    pvc, deployment, service = k8s_deploy.server_objects(SERVER)
    for obj in (pvc, deployment, service):
        assert obj["metadata"]["namespace"] == "bench"
        assert obj["metadata"]["labels"][manifests.OWNER_LABEL] == manifests.OWNER_VALUE
        assert obj["metadata"]["labels"][manifests.COMPONENT_LABEL] == "server"
    assert pvc["spec"]["storageClassName"] == "fast"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    spec = deployment["spec"]
    # One pod at a time on the sqlite file, also across an update.
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}
    ]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroup"] == k8s_deploy.SERVER_UID
    container = pod["containers"][0]
    assert container["image"] == "registry/server:1"
    assert container["command"][:2] == ["fioloadgen", "serve"]
    assert "--store=/data/history.db" in container["command"]
    assert "--state-dir=/data/state" in container["command"]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    probe = container["readinessProbe"]["httpGet"]
    assert probe == {"path": "/api/v1/status", "port": 8080}
    assert spec["selector"]["matchLabels"] == spec["template"]["metadata"]["labels"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == spec["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["port"] == 8080
    assert service["metadata"]["name"] == "fioloadgen-server"


def test_server_pvc_without_storage_class_uses_the_cluster_default():
    pvc = k8s_deploy.server_pvc(k8s_deploy.ServerSpec(namespace="bench"))
    assert "storageClassName" not in pvc["spec"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"namespace": "Bad_NS"}, "namespace"),
        ({"storage_class": "Not Valid"}, "server storage class"),
        ({"pvc_size": "lots"}, "server PVC size"),
    ],
)
def test_server_spec_errors_are_named(changes, message):
    spec = k8s_deploy.ServerSpec(**{**vars(SERVER), **changes})
    with pytest.raises(ConfigError, match=message):
        k8s_deploy.server_objects(spec)
