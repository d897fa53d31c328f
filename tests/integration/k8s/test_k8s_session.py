"""The kubernetes backend through pytest, the CLI, kubectl and the standalone emulator."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kubernetes import client, config

from pytest_fioloadgen.cli import main

pytestmark = pytest.mark.slow

SHORT = "[global]\nioengine=psync\nsize=2m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
LONG = SHORT.replace("runtime=1", "runtime=60")
ROOT = Path(__file__).resolve().parents[3]


def restore_sigint() -> None:
    """Runs in the child before exec: CI may start us with SIGINT ignored (a background
    job of a non-interactive shell), an ignored signal stays ignored across exec, and
    Python then never turns Ctrl-C into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def namespaces(emulator) -> set[str]:
    return {obj["metadata"]["name"] for obj in emulator.objects("namespaces")}


def k8s_args(kubeconfig, namespace, *extra):
    return [
        "--fio-backend",
        "kubernetes",
        # With `=`: a spaced path outside the project would choose pytest's rootdir.
        f"--fio-kubeconfig={kubeconfig}",
        "--fio-namespace",
        namespace,
        "--fio-image",
        "fio:emulated",
        "--fio-pvc-size",
        "1Gi",
        *extra,
    ]


def test_pytest_session_records_cluster_facts(pytester, emulator, kubeconfig, namespace):
    pytester.makeini("[pytest]\n")
    (pytester.mkdir("profiles") / "short.fio").write_text(SHORT)
    pytester.makepyfile(test_k8s="def test_short(fio_case, fio_run):\n    fio_run(fio_case)\n")
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        *k8s_args(
            kubeconfig,
            namespace,
            "--fio-storageclass",
            "standard,fast",
            "--fio-workers",
            "1,2",
            "--fio-profiles-dir",
            "profiles",
            "--fio-store",
            "none",
            "--fio-json",
            "out.json",
        ),
    )
    result.assert_outcomes(passed=4)
    document = json.loads((pytester.path / "out.json").read_text())
    fingerprint = document["fingerprint"]
    assert fingerprint["backend"] == "kubernetes"
    assert fingerprint["cluster"]["id"]
    assert fingerprint["kubernetes"]["version"].startswith("v1.")
    assert fingerprint["targets"]["fast"]["parameters"] == {"tier": "fast"}
    assert namespace not in namespaces(emulator)


def test_missing_storage_class_option_is_a_usage_error(pytester, kubeconfig, namespace):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_k8s="def test_x(fio_case):\n    pass\n")
    result = pytester.runpytest(*k8s_args(kubeconfig, namespace))
    # Found when the settings are read, before anything is collected: one usage line.
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *needs storage classes: --fio-storageclass*"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_mid_run_tears_the_namespace_down(
    tmp_path, emulator, kubeconfig, namespace, signum
):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "long.fio").write_text(LONG)
    (tmp_path / "test_long.py").write_text(
        "def test_long(fio_case, fio_run):\n    fio_run(fio_case)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "test_long.py",
            *k8s_args(
                kubeconfig,
                namespace,
                "--fio-storageclass",
                "standard",
                "--fio-workers",
                "2",
                "--fio-profiles-dir",
                "profiles",
                "--fio-store",
                "none",
            ),
        ],
        cwd=tmp_path,
        preexec_fn=restore_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = [
                pod
                for pod in emulator.objects("pods", namespace)
                if pod["metadata"]["name"].startswith("fio-run-")
                and pod.get("status", {}).get("phase") == "Running"
            ]
            if running:
                break
            time.sleep(0.1)
        assert running, "the fio client job never started"
        time.sleep(1)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert namespace not in namespaces(emulator), output
    assert emulator.objects("pods", namespace) == []
    assert emulator.objects("jobs", namespace) == []


def test_cli_deploy_status_unlock_destroy(emulator, kubeconfig, namespace, capsys):
    common = ["--namespace", namespace, "--kubeconfig", str(kubeconfig)]
    assert main(["status", *common]) == 1
    assert "does not exist" in capsys.readouterr().out
    assert (
        main(
            [
                "deploy",
                *common,
                "--storageclass",
                "standard,fast",
                "--workers",
                "2",
                "--image",
                "fio:emulated",
                "--pvc-size",
                "1Gi",
            ]
        )
        == 0
    )
    assert f"{namespace}/fast: 2 workers Ready" in capsys.readouterr().out
    assert main(["status", *common]) == 0
    out = capsys.readouterr().out
    assert "unlocked" in out and "fast: 2/2 workers Ready" in out
    # A lock left behind by a killed session, and the documented way to clear it.
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    api.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "fioloadgen-lock",
                "labels": {"app.kubernetes.io/managed-by": "pytest-fioloadgen"},
            },
            "data": {"session": "dead", "host": "gone", "pid": "1", "since": "then"},
        },
    )
    assert main(["destroy", *common]) == 2
    assert "in use by session dead" in capsys.readouterr().err
    assert main(["unlock", *common]) == 0
    assert "removed the lock of session dead" in capsys.readouterr().out
    assert main(["destroy", *common]) == 0
    assert f"namespace {namespace} deleted" in capsys.readouterr().out
    assert namespace not in namespaces(emulator)


def test_cli_deploy_takes_the_shape_options(emulator, kubeconfig, namespace, capsys):
    common = ["--namespace", namespace, "--kubeconfig", str(kubeconfig)]
    deploy = ["deploy", *common, "--storageclass", "standard", "--image", "fio:emulated"]
    shape = ["--access-mode", "rwx", "--workers", "2", "--spread", "hard", "--pvc-size", "1Gi"]
    selector = ["--node-selector", "kubernetes.io/os=linux", "--ready-timeout", "2"]
    assert main([*deploy, *shape, *selector]) == 2
    # No node has that label: named at the ready timeout, one line, the CLI's own flags.
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "didn't match Pod's node affinity/selector" in err
    # deploy keeps what it made for inspection, as --fio-keep does: clear it first.
    assert main(["destroy", *common]) == 0
    assert main([*deploy, *shape, "--ready-timeout", "30"]) == 0
    assert f"{namespace}/standard: 2 workers Ready" in capsys.readouterr().out
    (claim,) = emulator.objects("persistentvolumeclaims", namespace)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert main(["destroy", *common]) == 0


def test_cli_destroy_refuses_a_foreign_namespace(emulator, kubeconfig, capsys):
    api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
    api.create_namespace({"metadata": {"name": "someone-elses"}})
    try:
        assert (
            main(["destroy", "--namespace", "someone-elses", "--kubeconfig", str(kubeconfig)]) == 2
        )
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "refusing to delete namespace 'someone-elses'" in err
        assert "someone-elses" in namespaces(emulator)
    finally:
        api.delete_namespace("someone-elses")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_sees_the_workers(emulator, kubeconfig, make_backend, namespace):
    backend = make_backend()
    env = backend.deploy(["standard"], 2)
    env_vars = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def kubectl(*args):
        completed = subprocess.run(
            ["kubectl", *args],
            env=env_vars,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    pods = json.loads(kubectl("-n", namespace, "get", "pods", "-o", "json"))
    assert sorted(p["metadata"]["name"] for p in pods["items"]) == [
        "fio-standard-0",
        "fio-standard-1",
    ]
    listing = kubectl(
        "-n",
        namespace,
        "get",
        "statefulsets,services,pvc",
        "-l",
        "app.kubernetes.io/managed-by=pytest-fioloadgen",
    )
    assert "fio-standard" in listing and "data-fio-standard-1" in listing
    log_probe = kubectl("get", "storageclasses", "-o", "name")
    assert "storageclass.storage.k8s.io/fast" in log_probe
    backend.teardown(env)
    missing = subprocess.run(
        ["kubectl", "get", "namespace", namespace],
        env=env_vars,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_standalone_emulator_starts_and_cleans_up(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.k8s_emulator",
            "--kubeconfig",
            str(kubeconfig),
            "--ready-delay",
            "0.1",
        ],
        cwd=ROOT,
        preexec_fn=restore_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert "emulator listening on http://127.0.0.1:" in first
        assert f"export KUBECONFIG={kubeconfig}" in process.stdout.readline()
        api = client.StorageV1Api(config.new_client_from_config(str(kubeconfig)))
        assert {sc.metadata.name for sc in api.list_storage_class().items} >= {"standard", "fast"}
        assert (
            main(
                [
                    "deploy",
                    "--kubeconfig",
                    str(kubeconfig),
                    "--storageclass",
                    "standard",
                    "--image",
                    "fio:emulated",
                ]
            )
            == 0
        )
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "stopping" in rest
    if "network namespaces" in first:
        prefix = first.split("network namespaces ")[1].split("-*")[0]
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert prefix not in netns and prefix not in links
