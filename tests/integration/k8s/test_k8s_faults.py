"""Workers lost mid-run against the emulator: deleted, OOM-killed, evicted by a node
drain. Each fails the run within seconds naming pod, node and reason; the next run
re-resolves its workers (the StatefulSet has replaced the pod)."""

from __future__ import annotations

import threading
import time

import pytest

from pytest_fioloadgen.exceptions import FioRunError

pytestmark = pytest.mark.slow

SHORT = "[global]\nioengine=psync\nsize=2m\nruntime=1\ntime_based\n[rr]\nrw=randread\nbs=4k\n"
LONG = SHORT.replace("runtime=1", "runtime=60")
#: A fault must be named this soon after it happens (not at the run's timeout).
BOUND_S = 8.0


def run_in_background(backend, env, workers):
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = backend.run_job(env, LONG, workers, expected_runtime_s=60)
        except Exception as err:
            outcome["error"] = err
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def wait_client_running(emulator, namespace):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pod in emulator.objects("pods", namespace):
            if pod["metadata"]["name"].startswith("fio-run-") and (
                pod.get("status", {}).get("phase") == "Running"
            ):
                time.sleep(1.0)  # fio connected and running on the workers
                return
        time.sleep(0.1)
    raise AssertionError("the fio client never ran")


def node_of(emulator, namespace, pod_name):
    (pod,) = [p for p in emulator.objects("pods", namespace) if p["metadata"]["name"] == pod_name]
    return pod["spec"]["nodeName"]


def test_lost_workers_are_named_and_the_next_run_reresolves(
    emulator, make_backend, namespace, core
):
    backend = make_backend()
    env = backend.deploy(["standard"], 2)
    victim = "fio-standard-1"

    def fault_run(inject, expected):
        workers = backend.resolve(env, "standard", 2)
        thread, outcome = run_in_background(backend, env, workers)
        wait_client_running(emulator, namespace)
        node = node_of(emulator, namespace, victim)
        injected = time.monotonic()
        inject()
        thread.join(BOUND_S + 5)
        assert "error" in outcome, "the run did not fail when its worker was lost"
        message = str(outcome["error"])
        assert isinstance(outcome["error"], FioRunError)
        assert message.startswith(f"worker pod {namespace}/{victim} on node {node} was ")
        assert expected.format(node=node) in message, message
        assert outcome["at"] - injected < BOUND_S
        # The run's Job and ConfigMap are gone, as after any run.
        assert emulator.objects("jobs", namespace) == []
        # The next run finds the replaced (or restarted) worker.
        result = backend.run_job(
            env, SHORT, backend.resolve(env, "standard", 2), expected_runtime_s=1
        )
        assert len(result.workers) == 2
        return node

    fault_run(lambda: core.delete_namespaced_pod(victim, namespace), "deleted during the run")
    fault_run(
        lambda: emulator.control("oom", {"namespace": namespace, "pod": victim}),
        "OOM-killed during the run (container fio, exit code 137",
    )
    drained = []

    def drain():
        node = node_of(emulator, namespace, victim)
        drained.append(node)
        core.patch_node(node, {"spec": {"unschedulable": True}})
        core.create_namespaced_pod_eviction(
            victim,
            namespace,
            {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}},
        )

    try:
        fault_run(drain, "was evicted: node {node} is being drained (cordoned, unschedulable)")
        assert node_of(emulator, namespace, victim) != drained[0], "rescheduled elsewhere"
    finally:
        for node in drained:
            core.patch_node(node, {"spec": {"unschedulable": None}})
    backend.teardown(env)
