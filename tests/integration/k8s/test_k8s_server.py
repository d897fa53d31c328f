"""``fioloadgen deploy --with-server``: the results server in the emulated cluster, really
running ``fioloadgen serve`` in its pod, its history on a PVC that outlives the pod."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fioloadgen_server import k8s_deploy as server_manifests
from kubernetes import client, config

from pytest_fioloadgen.backends.kubernetes import manifests
from pytest_fioloadgen.cli import main
from pytest_fioloadgen.store import RunRecord, open_store


@pytest.fixture(autouse=True)
def _fioloadgen_on_path(monkeypatch):
    # The emulator runs a pod's command from PATH: the project's own ``fioloadgen``.
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


def ready(pod) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def server_pods(emulator, namespace):
    return [
        p
        for p in emulator.objects("pods", namespace)
        if p["metadata"]["labels"].get(manifests.COMPONENT_LABEL) == "server"
    ]


def get_in_pod(emulator, pod, path: str):
    """GET from the server on its pod IP, from inside the pod's network namespace."""
    meta = pod["metadata"]
    sandbox = emulator.runtime._sandboxes[f"{meta['namespace']}/{meta['name']}/{meta['uid']}"]
    prefix = ["ip", "netns", "exec", sandbox.netns] if sandbox.netns else []
    url = f"http://{pod['status']['podIP']}:{server_manifests.SERVER_PORT}{path}"
    script = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    )
    done = subprocess.run(
        [*prefix, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_record(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        session_id="before-restart",
        profile_name="randread-4k",
        profile_hash="sha256:00",
        profile_text="[rr]\nrw=randread\n",
        workers=1,
        backend="kubernetes",
        target="standard",
        started_at=1_700_000_000.0,
        finished_at=1_700_000_060.0,
        metrics={"iops": 1234.0},
    )


def test_deploy_with_server_survives_a_pod_restart(emulator, kubeconfig, namespace, capsys):
    common = ["--namespace", namespace, "--kubeconfig", str(kubeconfig)]
    deploy = [
        "deploy",
        *common,
        "--storageclass",
        "standard",
        "--image",
        "fio:emulated",
        "--pvc-size",
        "1Gi",
        "--with-server",
        "--server-image",
        "server:emulated",
    ]
    assert main(deploy) == 0
    out = capsys.readouterr().out
    assert f"{namespace}/standard: 1 workers Ready" in out
    assert f"{namespace}/fioloadgen-server: results server Ready" in out
    assert f"kubectl -n {namespace} port-forward svc/fioloadgen-server 8080:8080" in out
    assert f"kubectl -n {namespace} exec deploy/fioloadgen-server -- cat /data/state/token" in out

    deployments = emulator.objects("deployments", namespace)
    assert [d["metadata"]["name"] for d in deployments] == ["fioloadgen-server"]
    assert deployments[0]["spec"]["strategy"] == {"type": "Recreate"}
    services = {s["metadata"]["name"] for s in emulator.objects("services", namespace)}
    assert {"fioloadgen-server", "fio-standard"} <= services
    claims = {
        p["metadata"]["name"]: p for p in emulator.objects("persistentvolumeclaims", namespace)
    }
    # The server's PVC comes from the first --storageclass when none is given for it.
    assert claims["fioloadgen-server-data"]["spec"]["storageClassName"] == "standard"

    (pod,) = server_pods(emulator, namespace)
    assert ready(pod)
    core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    log = core.read_namespaced_pod_log(pod["metadata"]["name"], namespace)
    assert "fioloadgen results server on http://" in log
    status = get_in_pod(emulator, pod, "/api/v1/status")["data"]
    assert status["version"]

    # A run recorded before the restart, in the store on the PVC.
    volume = emulator.cluster.volume_dir(namespace, "fioloadgen-server-data")
    token = (volume / "state" / "token").read_text()
    store = open_store(str(volume / "history.db"))
    try:
        store.record(run_record("run-before-restart"))
    finally:
        store.close()
    listed = get_in_pod(emulator, pod, "/api/v1/runs")["data"]
    assert [run["run_id"] for run in listed] == ["run-before-restart"]

    assert main(["status", *common]) == 0
    assert "results server: 1/1 Ready" in capsys.readouterr().out

    core.delete_namespaced_pod(pod["metadata"]["name"], namespace)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = [p for p in server_pods(emulator, namespace) if ready(p)]
        if pods and pods[0]["metadata"]["name"] != pod["metadata"]["name"]:
            break
        time.sleep(0.1)
    (again,) = server_pods(emulator, namespace)
    assert again["metadata"]["name"] != pod["metadata"]["name"] and ready(again)
    assert again["spec"]["volumes"] == pod["spec"]["volumes"]
    listed = get_in_pod(emulator, again, "/api/v1/runs")["data"]
    assert [run["run_id"] for run in listed] == ["run-before-restart"]
    # The state (the token) is on the PVC too: clients keep working after the restart.
    assert (volume / "state" / "token").read_text() == token

    assert main(["destroy", *common]) == 0
    assert f"namespace {namespace} deleted" in capsys.readouterr().out
    assert namespace not in {n["metadata"]["name"] for n in emulator.objects("namespaces")}
    for plural in ("pods", "deployments", "services", "persistentvolumeclaims"):
        assert emulator.objects(plural, namespace) == []


def test_server_only_and_a_bad_image_is_named(emulator, kubeconfig, namespace, capsys):
    common = ["--namespace", namespace, "--kubeconfig", str(kubeconfig)]
    emulator.configure(images={"server:broken": "ImagePullBackOff"})
    try:
        code = main(
            [
                "deploy",
                *common,
                "--with-server",
                "--server-storageclass",
                "fast",
                "--server-image",
                "server:broken",
            ]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert "results server did not become ready" in err
        assert "image pull failed (ImagePullBackOff, image server:broken)" in err
        # No workers were asked for: none were made.
        assert emulator.objects("statefulsets", namespace) == []
        assert main(["status", *common]) == 1
        assert "results server: 0/1 Ready (pod fioloadgen-server-" in capsys.readouterr().out
    finally:
        assert main(["destroy", *common]) == 0


def test_a_refused_server_pod_is_named_from_its_replicaset_within_seconds(
    emulator, kubeconfig, namespace, capsys
):
    """A Deployment's pods are refused on its ReplicaSet (not the Deployment itself)."""
    common = ["--namespace", namespace, "--kubeconfig", str(kubeconfig)]
    emulator.configure(forbid_pods='violates PodSecurity "restricted:latest"')
    started = time.monotonic()
    try:
        code = main(["deploy", *common, "--with-server", "--server-image", "server:emulated"])
        assert code == 2
        assert time.monotonic() - started < 10
        err = capsys.readouterr().err
        assert "results server did not become ready: replicaset fioloadgen-server-" in err
        assert "pod creation forbidden" in err and err.count("\n") == 1
    finally:
        assert main(["destroy", *common]) == 0
