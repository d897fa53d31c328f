"""Volume shapes, scheduling and admission against the emulator: real HTTP, real fio in
pods, a real loop device behind a raw block claim."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.kubernetes.manifests import DEVICE_PATH
from pytest_fioloadgen.backends.kubernetes.options import Spread
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.exceptions import BackendError, FioRunError
from pytest_fioloadgen.fio.timeline import timeline_of
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.verdicts.thresholds import Thresholds

pytestmark = pytest.mark.slow

JOB = "[global]\nioengine=psync\nsize=2m\nruntime=1\ntime_based\n[rr]\nrw=randrw\nbs=4k\n"


def loop_stat(device: str) -> tuple[int, int]:
    """(sectors read, sectors written) of a block device, from the kernel."""
    fields = Path(f"/sys/block/{Path(device).name}/stat").read_text().split()
    return int(fields[2]), int(fields[6])


def session_on(backend, target: str, workers: int) -> BenchmarkSession:
    return BenchmarkSession(
        backend=backend,
        targets=[target],
        max_workers=workers,
        store=None,
        thresholds=Thresholds.empty(),
    )


def test_block_workers_run_on_their_loop_device(emulator, make_backend, namespace):
    backend = make_backend(volume_mode="block")
    session = session_on(backend, "standard", 2)
    try:
        env = session.environment()
        claims = emulator.objects("persistentvolumeclaims", namespace)
        assert sorted(c["spec"]["volumeMode"] for c in claims) == ["Block", "Block"]
        devices = [emulator.cluster.device_of(namespace, c["metadata"]["name"]) for c in claims]
        assert all(d and d.startswith("/dev/loop") for d in devices)
        before = [loop_stat(d) for d in devices]
        assert all(w.device == DEVICE_PATH for w in env.workers["standard"])
        profile = parse_profile(JOB, name="rw-block")
        outcome = session.run(Case(profile, 2, "standard"))
        # The job ran on the device the worker names, and only there.
        assert f"filename={DEVICE_PATH}" in outcome.profile_as_run.render()
        assert "directory" not in outcome.profile_as_run.render()
        after = [loop_stat(d) for d in devices]
        for (read0, written0), (read1, written1) in zip(before, after, strict=True):
            assert read1 > read0 and written1 > written0, "fio did not touch the loop device"
        series = outcome.result.raw["fioloadgen"]["timeseries"]
        assert len(series["workers"]) == 2
        assert all(points["read_iops"] for points in series["workers"].values())
        # The timeline came back in its own framed section, exact against json+, with
        # each pod's clock offset estimated (pods are not this machine's processes).
        timeline = timeline_of(outcome.result.raw)
        assert timeline is not None and len(timeline.workers) == 2
        for direction in timeline.directions:
            latency = getattr(outcome.result, direction).latency
            assert sum(timeline.merged(direction)["ios"]) == latency.samples
        assert all("uncertainty_ms" in clock for clock in timeline.document["hosts"].values())
        # The volume's shape is part of what the history key compares.
        assert session.fingerprint()["targets"]["standard"]["volume_mode"] == "block"
    finally:
        session.close()
    # The loop devices went with the namespace (the bridge stays for the module).
    assert [x for x in emulator.runtime.leftovers() if x.startswith("/dev/loop")] == []


def test_rwx_workers_share_one_claim_in_their_own_directories(emulator, make_backend, namespace):
    backend = make_backend(access_mode="rwx")
    env = backend.deploy(["standard"], 3)
    try:
        (claim,) = emulator.objects("persistentvolumeclaims", namespace)
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        result = backend.run_job(
            env, JOB, backend.resolve(env, "standard", 3), expected_runtime_s=1
        )
        assert len(result.workers) == 3
        volume = emulator.cluster.volume_dir(namespace, claim["metadata"]["name"])
        directories = sorted(p.name for p in volume.iterdir())
        assert directories == ["fio-standard-0", "fio-standard-1", "fio-standard-2"]
        for directory in directories:
            assert [p.name for p in (volume / directory).iterdir()] == ["rr.0.0"]
    finally:
        backend.teardown(env)


def test_existing_claims_in_a_borrowed_namespace(emulator, make_backend, namespace, core):
    core.create_namespace({"metadata": {"name": namespace}})
    for name in ("bench-a", "bench-b", "other"):
        core.create_namespaced_persistent_volume_claim(
            namespace,
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": "fast",
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
    with pytest.raises(BackendError, match="--fio-existing-namespace"):
        make_backend(existing_pvcs=("bench-*",)).deploy(["fast"], 2)
    backend = make_backend(existing_pvcs=("bench-*",), existing_namespace=True)
    with pytest.raises(BackendError, match=r"has 2 existing claims .*needs 3 workers"):
        backend.deploy(["fast"], 3)
    env = backend.deploy(["fast"], 2)
    sets = sorted(s["metadata"]["name"] for s in emulator.objects("statefulsets", namespace))
    assert sets == ["fio-fast-c0", "fio-fast-c1"]
    result = backend.run_job(env, JOB, backend.resolve(env, "fast", 2), expected_runtime_s=1)
    assert len(result.workers) == 2
    assert backend.fingerprint(env)["targets"]["fast"]["existing_pvcs"] == ["bench-a", "bench-b"]
    backend.teardown(env)
    # Ours are gone; the user's namespace and claims are untouched.
    assert emulator.objects("statefulsets", namespace) == []
    assert emulator.objects("pods", namespace) == []
    left = sorted(
        p["metadata"]["name"] for p in emulator.objects("persistentvolumeclaims", namespace)
    )
    assert left == ["bench-a", "bench-b", "other"]
    core.delete_namespace(namespace)


def test_hard_spread_tolerations_and_node_selector(emulator, make_backend, namespace, core):
    backend = make_backend(spread=Spread("hard"))
    env = backend.deploy(["standard"], 3)
    nodes = {p["spec"]["nodeName"] for p in emulator.objects("pods", namespace)}
    assert len(nodes) == 3, "hard spread over 3 nodes puts one worker on each"
    backend.teardown(env)

    with pytest.raises(
        BackendError,
        match=r"Unschedulable: 0/3 nodes are available: 3 node\(s\) didn't match Pod's node "
        r"affinity/selector",
    ):
        make_backend(node_selector={"disk": "nvme"}, ready_timeout_s=2).deploy(["standard"], 1)

    taint = {"key": "dedicated", "value": "storage", "effect": "NoSchedule"}
    for node in ("emulated-node-1", "emulated-node-2", "emulated-node-3"):
        core.patch_node(node, {"spec": {"taints": [taint]}})
    try:
        with pytest.raises(BackendError, match=r"3 node\(s\) had untolerated taint"):
            make_backend(ready_timeout_s=2).deploy(["standard"], 1)
        tolerant = make_backend(
            tolerations=({"key": "dedicated", "operator": "Equal", "value": "storage"},)
        )
        tolerant.teardown(tolerant.deploy(["standard"], 1))
    finally:
        for node in ("emulated-node-1", "emulated-node-2", "emulated-node-3"):
            core.patch_node(node, {"spec": {"taints": None}})


def test_fs_group_makes_a_root_owned_volume_writable(emulator, make_backend, namespace):
    """The process really runs as runAsUser: on a root-owned volume fio gets EACCES, and
    fsGroup (the kubelet makes the volume group-writable by it) is the fix."""
    backend = make_backend(run_as_user=1001)
    env = backend.deploy(["standard"], 1)
    try:
        with pytest.raises(FioRunError, match=r"reported fio error 13 \(Permission denied\)"):
            backend.run_job(env, JOB, backend.resolve(env, "standard", 1), expected_runtime_s=1)
    finally:
        backend.teardown(env)
    backend = make_backend(run_as_user=1001, fs_group=2000)
    env = backend.deploy(["standard"], 1)
    try:
        result = backend.run_job(
            env, JOB, backend.resolve(env, "standard", 1), expected_runtime_s=1
        )
        assert result.metrics["iops"] > 0
        volume = emulator.cluster.volume_dir(namespace, "data-fio-standard-0")
        written = (volume / "rr.0.0").stat()
        assert (written.st_uid, written.st_gid) == (1001, 2000)
    finally:
        backend.teardown(env)


def test_missing_priority_class_is_named_within_seconds(emulator, make_backend, namespace):
    started = time.monotonic()
    with pytest.raises(
        BackendError, match=r"pod creation forbidden: .*no PriorityClass with name bench was found"
    ):
        make_backend(priority_class="bench", ready_timeout_s=60).deploy(["standard"], 1)
    assert time.monotonic() - started < 10


def test_openshift_restricted_scc_admits_the_default_workers(emulator, make_backend, namespace):
    emulator.configure(openshift=True)
    backend = make_backend()
    env = backend.deploy(["standard"], 1)
    try:
        (pod,) = emulator.objects("pods", namespace)
        assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
        # No fixed UID in our manifests: the SCC assigned one from the namespace's range.
        assert pod["spec"]["securityContext"]["runAsUser"] == 1000680000
        result = backend.run_job(
            env, JOB, backend.resolve(env, "standard", 1), expected_runtime_s=1
        )
        assert result.metrics["iops"] > 0
        # fio really ran as that arbitrary UID (group 0) and wrote the volume through the
        # fsGroup the SCC assigned; the client (an arbitrary UID too) returned its logs.
        volume = emulator.cluster.volume_dir(namespace, "data-fio-standard-0")
        written = (volume / "rr.0.0").stat()
        assert (written.st_uid, written.st_gid) == (1000680000, 1000680000)
        assert result.raw["fioloadgen"]["timeseries"]["workers"]
    finally:
        backend.teardown(env)
    started = time.monotonic()
    with pytest.raises(
        BackendError,
        match=r"unable to validate against any security context constraint: .*runAsUser: "
        r"Invalid value: 1001: must be in the ranges: \[1000680000, 1000689999\]",
    ):
        make_backend(run_as_user=1001, ready_timeout_s=60).deploy(["standard"], 1)
    assert time.monotonic() - started < 10


def test_unknown_fields_are_refused_like_a_strict_api_server(emulator, make_backend, namespace):
    """The emulator, sent an unknown field over HTTP (as kubectl or any client may)."""
    import requests

    make_backend().ensure_namespace()
    body = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "bogus"},
        "spec": {
            "serviceName": "bogus",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "fio", "image": "x", "cpuPinning": True}]},
            },
        },
    }
    url = f"{emulator.url}/apis/apps/v1/namespaces/{namespace}/statefulsets"
    answer = requests.post(url, json=body, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        'StatefulSet in version "v1" cannot be handled as a StatefulSet: strict decoding '
        'error: unknown field "spec.template.spec.containers[0].cpuPinning"'
    )
    del body["spec"]["template"]["spec"]["containers"][0]["cpuPinning"]
    body["spec"]["replicas"] = "two"
    answer = requests.post(url, json=body, timeout=10)
    assert answer.status_code == 422
    assert answer.json()["message"].startswith('StatefulSet "bogus" is invalid: spec.replicas:')


def test_a_patch_the_client_cannot_send_is_one_line(make_backend, tmp_path, namespace):
    from pytest_fioloadgen.backends.kubernetes.patching import load_pod_patch

    patch = tmp_path / "patch.json"
    patch.write_text('[{"op": "add", "path": "/spec/containers/0/cpuPinning", "value": true}]')
    backend = make_backend(pod_patch=load_pod_patch(patch, "--fio-pod-patch"))
    with pytest.raises(BackendError) as caught:
        backend.deploy(["standard"], 1)
    assert str(caught.value) == (
        f"create statefulset {namespace}/fio-standard: the object does not match the "
        "Kubernetes API schema (spec.template.spec.containers.0.cpuPinning: Extra inputs are "
        "not permitted)"
    )
