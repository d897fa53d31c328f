"""``fioloadgen deploy|destroy|unlock`` (and the cluster side of ``status``): fio workers
on Kubernetes, outside pytest.

Options mirror the pytest ones (``--namespace`` is ``--fio-namespace``) and fall back to
the same FIO_* environment variables, resolved by the same code as in the plugin.
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path
from typing import Any

from ..settings import Settings, resolve
from .common import EXIT_CHECK_FAILED, EXIT_OK

#: CLI flag -> option name in settings.OPTIONS.
_SHARED = {
    "namespace": "namespace",
    "storageclass": "storageclass",
    "image": "image",
    "kubeconfig": "kubeconfig",
    "context": "context",
    "pvc_size": "pvc_size",
    "requests": "requests",
    "limits": "limits",
    "ready_timeout": "ready_timeout",
}


def _settings(args: argparse.Namespace) -> Settings:
    cli = {option: getattr(args, flag, None) for flag, option in _SHARED.items()}
    cli["backend"] = "kubernetes"
    return resolve(rootdir=Path.cwd(), cli=cli, env=os.environ, ini={})


def _backend(args: argparse.Namespace) -> Any:
    # Imported on use: the kubernetes client is an optional extra.
    from ..backends.k8s_factory import kubernetes_backend

    return kubernetes_backend(_settings(args), session_id=f"cli-{uuid.uuid4().hex[:12]}")


def _deploy(args: argparse.Namespace) -> int:
    from ..backends.k8s_factory import storage_classes

    settings = _settings(args)
    backend = _backend(args)
    # The environment stays up after this command: like --fio-keep, release the lock.
    backend.keep = True
    env = backend.deploy(storage_classes(settings), args.workers)
    backend.teardown(env)
    for storage_class, count in env.describe().items():
        print(f"{settings.namespace}/{storage_class}: {count} workers Ready")
    return EXIT_OK


def _destroy(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if backend.destroy(force=args.force):
        backend.check_leaks()
        print(f"namespace {backend.namespace} deleted")
    else:
        print(f"namespace {backend.namespace} does not exist: nothing to delete")
    return EXIT_OK


def cluster_status(args: argparse.Namespace) -> int:
    """Workers per storage class and their readiness (``fioloadgen status`` without a
    results server URL)."""
    backend = _backend(args)
    if backend.read_namespace() is None:
        print(f"namespace {backend.namespace} does not exist (not deployed)")
        return EXIT_CHECK_FAILED
    counts = backend.status()
    held = backend.lock_holder()
    lock = f"locked by session {held.get('session')} on {held.get('host')}" if held else "unlocked"
    print(f"namespace {backend.namespace} ({backend.api.info.context}): {lock}")
    for storage_class, (ready, desired) in sorted(counts.items()):
        print(f"  {storage_class}: {ready}/{desired} workers Ready")
    if not counts:
        print("  no workers")
    all_ready = bool(counts) and all(ready == desired for ready, desired in counts.values())
    return EXIT_OK if all_ready else EXIT_CHECK_FAILED


def _unlock(args: argparse.Namespace) -> int:
    backend = _backend(args)
    held = backend.lock_holder()
    if held is None:
        print(f"namespace {backend.namespace} is not locked")
        return EXIT_OK
    existing = backend.read_namespace()
    if existing is not None:
        backend.refuse_foreign(existing, "unlock")
    backend.release_lock()
    print(
        f"removed the lock of session {held.get('session')} on {held.get('host')} "
        f"(pid {held.get('pid')}, since {held.get('since')})"
    )
    return EXIT_OK


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", help="namespace (default: fio) [FIO_NAMESPACE]")
    parser.add_argument("--kubeconfig", help="kubeconfig file [FIO_KUBECONFIG]")
    parser.add_argument("--context", help="kubeconfig context [FIO_CONTEXT]")


def register(commands: Any) -> None:
    deploy = commands.add_parser("deploy", help="deploy fio workers on Kubernetes")
    add_cluster_options(deploy)
    deploy.add_argument("--storageclass", help="storage classes, comma separated")
    deploy.add_argument("--workers", type=int, default=1, help="workers per storage class")
    deploy.add_argument("--image", help="fio worker image")
    deploy.add_argument("--pvc-size", dest="pvc_size", help="PVC size per worker (10Gi)")
    deploy.add_argument("--requests", help="resource requests, e.g. cpu=1,memory=1Gi")
    deploy.add_argument("--limits", help="resource limits, e.g. cpu=2,memory=2Gi")
    deploy.add_argument("--ready-timeout", dest="ready_timeout", help="seconds (300)")
    deploy.set_defaults(handler=_deploy)
    destroy = commands.add_parser(
        "destroy", help="delete the workers' namespace (only one fioloadgen created)"
    )
    add_cluster_options(destroy)
    destroy.add_argument(
        "--force", action="store_true", help="also when another session holds the lock"
    )
    destroy.set_defaults(handler=_destroy)
    unlock = commands.add_parser(
        "unlock", help="clear a deploy lock left by a session that was killed"
    )
    add_cluster_options(unlock)
    unlock.set_defaults(handler=_unlock)
