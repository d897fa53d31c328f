"""One run: the fio client as a batch/v1 Job in the cluster, watched until it finishes.

A Job rather than exec into a long-lived manager pod because: exec needs a streaming
(SPDY/WebSocket) connection held open for the whole run, which proxies and idle timeouts
cut; a Job's log outlives a dropped client connection; it needs no extra RBAC for
pods/exec and no pod that sits idle for the session; and its exit status is in the pod
status rather than parsed from a stream. The host list holds the workers' stable DNS names
through the headless Service, so fio resolves them inside the cluster at the moment it
runs: a restarted pod with a new IP is found, never a stale address captured at deploy.

While the client runs, the run's worker pods are followed on the same watch: a worker
deleted, evicted (a node drain) or OOM-killed mid-run fails the run at once with the pod,
its node and the reason, instead of leaving fio to hang on a dead connection until the
run's timeout. The client's log is fio's output followed by a framed section carrying
fio's time-series logs (see logframe).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...exceptions import BackendError, FioRunError, ResultError
from ...fio import timeseries
from ...fio.results import RunResult, split_output
from ...fio.runner import (
    DEFAULT_SLACK_S,
    FioInvocation,
    ProgressCallback,
    hosts_of,
    with_timeline,
    with_timeseries,
)
from ...fio.runner import check_invocation as check_fio_invocation
from ...fio.timeline import TimelineInputs, build_timeline, hist_logging
from ..base import Worker
from . import logframe, manifests
from .api import KubeApi, KubeApiError
from .readiness import event_causes, events_by_object, pod_cause
from .settings import KubernetesSettings
from .watching import SYNC, TICK, follow

#: Time for the client pod to be scheduled and started, on top of fio's own runtime.
CLIENT_START_S = 120.0
#: How often a run's wait looks at events for a refused client pod.
EVENT_CHECK_S = 3.0
#: One watch request while a run is followed (progress is reported between them).
RUN_WATCH_CHUNK_S = 1.0


#: Compressed bytes of one histogram-log row (4 KiB random I/O, measured with fio 3.33 and
#: gzip) by log_hist_coarseness 0..6; 5 and 6 extrapolated.
HIST_ROW_BYTES = (367, 247, 167, 98, 64, 45, 32)
#: The share of the pod log's section limit a timeline may plan to fill.
HIST_BUDGET_SHARE = 0.75


def framed_histogram_logging(
    workers: int, expected_runtime_s: float, interval_ms: int
) -> tuple[int, int]:
    """(log_hist_msec, log_hist_coarseness) whose logs fit the pod log's section: finer
    bins first (up to coarseness 2, percentiles within 3 %), then twice the interval (60
    points) with coarseness 2 or 3 (within 6.3 %), then 4x the interval and coarser bins.
    256 workers of a 60 s two-direction run get coarseness 3 at 2x the interval. One job
    per worker is assumed: with more jobs the section may still be skipped (the run then
    says so, and keeps its averaged series)."""
    budget = logframe.LIMIT_BYTES * HIST_BUDGET_SHARE
    plans = [(1, 0), (1, 1), (1, 2), (2, 2), (2, 3)]
    plans += [(4, c) for c in range(3, len(HIST_ROW_BYTES))]
    for multiple, coarseness in plans:
        rows = workers * 2 * max(1.0, expected_runtime_s * 1000.0 / (interval_ms * multiple))
        if rows * HIST_ROW_BYTES[coarseness] <= budget:
            return interval_ms * multiple, coarseness
    return interval_ms * 4, len(HIST_ROW_BYTES) - 1


def _unpacked(section: str, directory: Path, notes: list[str]) -> bool:
    try:
        logframe.unpack(section, directory)
    except ValueError as err:
        notes.append(f"logs not readable: {err}")  # the result stands without them
        return False
    return True


def pod_name_of(worker: Worker) -> str:
    """A worker's pod: the first label of its stable DNS name."""
    return worker.address.host.split(".")[0]


@dataclass
class WorkerWatch:
    """The run's worker pods as first seen, to tell a restart or a deletion mid-run."""

    api: KubeApi
    namespace: str
    pods: set[str]
    restarts: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, str] = field(default_factory=dict)

    started: bool = False

    def missing(self, objects: dict[str, Any]) -> tuple[str, str] | None:
        """(pod, message) for a worker pod that is not there; the first call also notes
        each pod's restart count and node, against which later changes are judged."""
        for name in sorted(self.pods):
            pod = objects.get(name)
            if pod is None:
                node = self.nodes.get(name)
                where = f" on node {node}" if node else ""
                return (
                    name,
                    f"worker pod {self.namespace}/{name}{where} is gone (not in the cluster)",
                )
            if not self.started:
                self.restarts[name] = _restarts(pod)
                self.nodes[name] = str(pod.spec.node_name or "?")
        self.started = True
        return None

    def fault(self, kind: str, pod: Any) -> str | None:
        """Why this worker can no longer take part in the run, or None."""
        name = str(pod.metadata.name)
        if name not in self.pods:
            return None
        node = str(pod.spec.node_name or self.nodes.get(name, "?"))
        where = f"worker pod {self.namespace}/{name} on node {node}"
        if kind == "DELETED" or pod.metadata.deletion_timestamp:
            return f"{where} was {self._removal(pod, node)} during the run"
        status = pod.status
        if status is not None and status.phase == "Failed":
            reason = " ".join(part for part in (status.reason, status.message) if part)
            if status.reason == "Evicted":
                return f"{where} was evicted by the kubelet during the run: {status.message}"
            return f"{where} failed during the run: {reason or 'no reason given'}"
        terminated = _terminated(pod, current=True)
        if terminated is None and _restarts(pod) <= self.restarts.get(name, 0):
            return None
        terminated = terminated or _terminated(pod, current=False)
        if terminated is None:
            return f"{where} restarted its container during the run"
        reason = str(terminated.reason or "terminated")
        what = "OOM-killed" if reason == "OOMKilled" else f"terminated ({reason})"
        return (
            f"{where} was {what} during the run (container {terminated.container}, exit "
            f"code {terminated.exit_code}{_limit_of(pod)})"
        )

    def _removal(self, pod: Any, node: str) -> str:
        disruption = next(
            (
                condition
                for condition in (pod.status.conditions if pod.status else None) or []
                if condition.type == "DisruptionTarget" and condition.status == "True"
            ),
            None,
        )
        drained = self._node_cordoned(node)
        if drained:
            return f"evicted: node {node} is being drained (cordoned, unschedulable)"
        if disruption is not None:
            detail = f": {disruption.message}" if disruption.message else ""
            return f"evicted ({disruption.reason}{detail})"
        return "deleted"

    def _node_cordoned(self, node: str) -> bool:
        if node == "?":
            return False
        try:
            found = self.api.call(f"read node {node}", self.api.core.read_node, node)
        except KubeApiError:
            return False  # no RBAC for nodes: the pod is still named, the drain is not
        return bool(found.spec is not None and found.spec.unschedulable)


@dataclass(frozen=True)
class _Terminated:
    container: str
    reason: str | None
    exit_code: int


def _restarts(pod: Any) -> int:
    statuses = pod.status.container_statuses if pod.status is not None else None
    return sum(int(c.restart_count or 0) for c in statuses or [])


def _terminated(pod: Any, *, current: bool) -> _Terminated | None:
    """The container's termination now (``current``) or the one before its restart."""
    statuses = pod.status.container_statuses if pod.status is not None else None
    for container in statuses or []:
        state = container.state if current else container.last_state
        terminated = state.terminated if state is not None else None
        if terminated is not None:
            return _Terminated(
                str(container.name), terminated.reason, int(terminated.exit_code or 0)
            )
    return None


def _limit_of(pod: Any) -> str:
    for container in pod.spec.containers or []:
        limits = container.resources.limits if container.resources else None
        if limits and limits.get("memory"):
            return f", memory limit {limits['memory']}"
    return ""


def _finished(pod: Any) -> bool:
    return pod.status is not None and pod.status.phase in ("Succeeded", "Failed")


def _exit_code(pod: Any) -> int:
    for container in pod.status.container_statuses or []:
        terminated = container.state.terminated if container.state else None
        if terminated is not None:
            return int(terminated.exit_code)
    return 0 if pod.status.phase == "Succeeded" else 1


def outside_document(log: str) -> str:
    """The log without fio's JSON document: what fio said on stderr, merged in the log."""
    try:
        _document, before = split_output(log)
    except ResultError:
        return log
    try:
        _value, end = json.JSONDecoder().raw_decode(log, len(before))
    except ValueError:
        return before
    return before + log[end:]


class ClientJob:
    """Runs fio's client for one run in ``spec.namespace`` and returns its result."""

    def __init__(self, api: KubeApi, spec: KubernetesSettings) -> None:
        self.api = api
        self.spec = spec
        self.namespace = spec.namespace

    def run(
        self,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: ProgressCallback | None = None,
        timeline: bool = False,
        on_start: Callable[[float], None] | None = None,
        lost_ok: frozenset[str] = frozenset(),
    ) -> RunResult:
        if not workers:
            raise BackendError("no workers to run on")
        name = f"fio-run-{uuid.uuid4().hex[:10]}"
        hosts = [worker.address.hostfile_line() for worker in workers]
        timeout_s = expected_runtime_s + DEFAULT_SLACK_S
        interval_ms = timeseries.log_interval_ms(expected_runtime_s)
        extra, hist_interval_ms = "", interval_ms
        if timeline:
            hist_interval_ms, coarseness = framed_histogram_logging(
                len(workers), expected_runtime_s, interval_ms
            )
            extra = hist_logging(hist_interval_ms, coarseness)
        started = time.monotonic()
        client_start_ms = time.time() * 1000.0
        created: list[tuple[str, Any]] = []
        api = self.api
        try:
            api.call(
                f"create configmap {self.namespace}/{name}",
                api.core.create_namespaced_config_map,
                self.namespace,
                manifests.run_configmap(
                    self.spec, name, timeseries.with_logging(job_text, interval_ms, extra), hosts
                ),
            )
            created.append(("configmap", api.core.delete_namespaced_config_map))
            api.call(
                f"create job {self.namespace}/{name}",
                api.batch.create_namespaced_job,
                self.namespace,
                manifests.run_job(self.spec, name, int(timeout_s + CLIENT_START_S)),
            )
            created.append(("job", api.batch.delete_namespaced_job))
            # A worker a fault takes out on purpose (delete-pod workers=allow) is not a
            # lost run: fio's client carries on with the others.
            watched = {pod_name_of(w) for w in workers if w.address.name not in lost_ok}
            watch = WorkerWatch(api, self.namespace, watched)
            pod = self._wait(name, watch, timeout_s, started, on_progress, on_start)
            client_end_ms = time.time() * 1000.0
            log = self._read_log(str(pod.metadata.name))
            exit_code = _exit_code(pod)
        finally:
            for kind, delete in reversed(created):
                # Background propagation: a Job deleted with the API's default (orphan)
                # would leave its pod behind.
                with contextlib.suppress(KubeApiError):
                    api.call(
                        f"delete {kind} {self.namespace}/{name}",
                        delete,
                        name,
                        self.namespace,
                        propagation_policy="Background",
                    )
        pod_log = logframe.split_log(log)
        output = pod_log.output
        invocation = FioInvocation(
            argv=tuple(manifests.client_command()),
            returncode=exit_code,
            stdout=output,
            stderr=outside_document(output),
            duration_s=time.monotonic() - started,
        )
        result = check_fio_invocation(invocation, [worker.address for worker in workers], lost_ok)
        addresses = [worker.address for worker in workers]
        with tempfile.TemporaryDirectory(prefix="fioloadgen-k8s-logs-") as tmp:
            notes = list(pod_log.notes)
            series = None
            if pod_log.averaged is not None and _unpacked(pod_log.averaged, Path(tmp), notes):
                series = timeseries.collect(
                    Path(tmp),
                    [(a.host, a.name) for a in addresses],
                    interval_ms,
                    client_start_ms=client_start_ms,
                )
            result = with_timeseries(result, series)
            if pod_log.histograms is not None and _unpacked(pod_log.histograms, Path(tmp), notes):
                inputs = TimelineInputs(
                    interval_ms=hist_interval_ms,
                    client_span_ms=(client_start_ms, client_end_ms),
                    workers=hosts_of(addresses),
                )
                result = with_timeline(result, build_timeline(Path(tmp), result.raw, inputs))
        if notes:
            raw = dict(result.raw)
            ours = dict(raw.get(timeseries.RAW_KEY) or {})
            raw[timeseries.RAW_KEY] = {**ours, "timeseries_note": "; ".join(notes)}
            result = replace(result, raw=raw)
        return result

    def _wait(
        self,
        name: str,
        watch: WorkerWatch,
        timeout_s: float,
        started: float,
        on_progress: ProgressCallback | None,
        on_start: Callable[[float], None] | None = None,
    ) -> Any:
        """The client pod once it has finished (Succeeded or Failed); a worker lost
        mid-run, a refused or broken client pod, or the deadline raise instead.
        ``on_start`` is told when the client pod is first seen running (fio's start)."""
        deadline = started + timeout_s + CLIENT_START_S
        next_event_check = 0.0
        seen_client = False
        for change in follow(
            self.api,
            f"pods in {self.namespace}",
            self.api.core.list_namespaced_pod,
            deadline=deadline,
            chunk_s=RUN_WATCH_CHUNK_S,
            namespace=self.namespace,
            label_selector=manifests.OWNED_SELECTOR,
        ):
            if change.kind == SYNC:
                gone = watch.missing(change.objects)
                if gone is not None:
                    raise FioRunError(gone[1], worker=gone[0])
                changed = list(change.objects.values())
            elif change.kind == TICK:
                changed = []
                if on_progress is not None:
                    on_progress(time.monotonic() - started)
            else:
                changed = [change.obj]
            for pod in changed:
                labels = pod.metadata.labels or {}
                if labels.get("job-name") == name:
                    seen_client = True
                    running = pod.status is not None and pod.status.phase in (
                        "Running",
                        "Succeeded",
                    )
                    if on_start is not None and running:
                        on_start(time.time())
                        on_start = None
                    if _finished(pod) and change.kind != "DELETED":
                        return pod
                    cause = pod_cause(pod)
                    if cause is not None and cause.fatal:
                        raise BackendError(f"fio client: {cause.message}")
                    continue
                fault = watch.fault(change.kind, pod)
                if fault is not None:
                    raise FioRunError(fault, worker=str(pod.metadata.name))
            if not seen_client and time.monotonic() >= next_event_check:
                # A pod the Job controller may not create (quota, admission) shows only
                # as an event: do not wait the whole run's timeout for it.
                next_event_check = time.monotonic() + EVENT_CHECK_S
                events, _latest = events_by_object(self.api, self.namespace)
                refused = event_causes(events, [name])
                if refused:
                    raise BackendError(f"fio client: {refused[0].message}")
        raise BackendError(
            f"fio client job {self.namespace}/{name} did not finish within "
            f"{timeout_s + CLIENT_START_S:.0f} s{self._job_problem(name)}"
        )

    def _job_problem(self, name: str) -> str:
        _events, latest = events_by_object(self.api, self.namespace)
        return f": {latest[name]}" if name in latest else ""

    def _read_log(self, pod_name: str) -> str:
        # Raw bytes: the client would otherwise "deserialize" a log that looks like JSON
        # (fio's output does) into a Python repr.
        response = self.api.call(
            f"read log of pod {self.namespace}/{pod_name}",
            self.api.core.read_namespaced_pod_log,
            pod_name,
            self.namespace,
            _preload_content=False,
        )
        return bytes(response.data).decode("utf-8", errors="replace")
