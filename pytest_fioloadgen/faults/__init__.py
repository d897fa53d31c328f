"""Benchmarks under faults: inject a fault at a known time of a run, undo it on every exit,
and measure the run's phases around it (verdicts/phases.py).

In Python, faults are specs made by the functions below and given to ``fio_run(case,
faults=[...])`` or the ``fio`` marker's ``fault=``; on the command line they are
``--fio-fault 'NAME:key=value,...'`` (spec.py). ``at`` and ``duration`` are seconds after
the measurement starts (the client's start plus the profile's ramp_time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .registry import ALL_BUILTIN
from .spec import FaultSpec, spec_from_pairs


def _spec(
    name: str,
    at: float,
    duration: float | None,
    /,
    *,
    action_fn: Callable[[], Any] | None = None,
    undo_fn: Callable[[], Any] | None = None,
    **params: object,
) -> FaultSpec:
    pairs = [("at", f"{at}s")]
    if duration is not None:
        pairs.append(("for", f"{duration}s"))
    pairs += [(key, str(value)) for key, value in params.items() if value is not None]
    where = f"{name}(...)"
    return spec_from_pairs(
        name, pairs, where, ALL_BUILTIN[name].keys, action=action_fn, undo=undo_fn
    )


def throttle_target(
    *,
    at: float,
    duration: float,
    iops: int | None = None,
    read_iops: int | None = None,
    write_iops: int | None = None,
    bw: str | None = None,
    read_bw: str | None = None,
    write_bw: str | None = None,
) -> FaultSpec:
    """Cap the target's disk for the case's fio processes (IOPS, or bandwidth like 50m)."""
    return _spec(
        "throttle-target", at, duration, iops=iops, read_iops=read_iops,
        write_iops=write_iops, bw=bw, read_bw=read_bw, write_bw=write_bw,
    )  # fmt: skip


def pause_worker(*, at: float, duration: float, worker: int = 1) -> FaultSpec:
    """Freeze worker N's processes (1-based) for ``duration`` seconds."""
    return _spec("pause-worker", at, duration, worker=worker)


def kill_worker(*, at: float, duration: float | None = None, worker: int = 1) -> FaultSpec:
    """SIGKILL worker N; ``duration`` is the window its loss is measured as ``during``."""
    return _spec("kill-worker", at, duration, worker=worker)


def noisy_neighbor(*, profile: str, at: float, duration: float) -> FaultSpec:
    """Run ``profile`` beside the workers on the same target for ``duration`` seconds."""
    return _spec("noisy-neighbor", at, duration, profile=profile)


def command(
    run: str,
    *,
    at: float,
    duration: float | None = None,
    undo: str | None = None,
    timeout: float | None = None,
) -> FaultSpec:
    """Run a command on this machine at ``at`` and its ``undo`` ``duration`` later."""
    seconds = f"{timeout}s" if timeout is not None else None
    return _spec("command", at, duration, run=run, undo=undo, timeout=seconds)


def delete_pod(
    *,
    at: float,
    duration: float | None = None,
    name: str | None = None,
    selector: str | None = None,
    namespace: str | None = None,
    workers: str | None = None,
    timeout: float | None = None,
) -> FaultSpec:
    """Delete a pod (``name``) or pods (label ``selector``) in ``namespace`` (the run's by
    default); the undo, ``duration`` later, waits up to ``timeout`` seconds for their
    replacements to be Ready. ``workers="allow"`` lets it take one of the run's workers."""
    seconds = f"{timeout}s" if timeout is not None else None
    return _spec(
        "delete-pod", at, duration, name=name, selector=selector, namespace=namespace,
        workers=workers, timeout=seconds,
    )  # fmt: skip


def drain_node(
    *,
    at: float,
    duration: float,
    node: str | None = None,
    selector: str | None = None,
    timeout: float | None = None,
) -> FaultSpec:
    """Cordon ``node`` (or the nodes a label ``selector`` picks) and evict its pods through
    the Eviction API, retrying PodDisruptionBudget refusals up to ``timeout`` seconds; the
    undo, ``duration`` later, uncordons."""
    seconds = f"{timeout}s" if timeout is not None else None
    return _spec("drain-node", at, duration, node=node, selector=selector, timeout=seconds)


def call(
    action: Callable[[], Any],
    *,
    at: float,
    duration: float | None = None,
    undo: Callable[[], Any] | None = None,
) -> FaultSpec:
    """Call ``action()`` at ``at`` and ``undo()`` ``duration`` later (Python only)."""
    return _spec("call", at, duration, action_fn=action, undo_fn=undo)


__all__ = [
    "FaultSpec",
    "call",
    "command",
    "delete_pod",
    "drain_node",
    "kill_worker",
    "noisy_neighbor",
    "pause_worker",
    "throttle_target",
]
