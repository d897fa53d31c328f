"""``fioloadgen deploy|destroy|unlock`` (and the cluster side of ``status``): fio workers
on Kubernetes, outside pytest.

Options mirror the pytest ones (``--namespace`` is ``--fio-namespace``) and fall back to
the same FIO_* environment variables, resolved by the same code as in the plugin.
``deploy --with-server`` also runs the results server in the namespace (alone when no
storage class is given).
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
    # Only the server: fine without storage classes for workers.
    if not (args.with_server and not settings.storageclasses):
        # The environment stays up after this command: like --fio-keep, release the lock.
        backend.keep = True
        env = backend.deploy(storage_classes(settings), args.workers)
        backend.teardown(env)
        for storage_class, count in env.describe().items():
            print(f"{settings.namespace}/{storage_class}: {count} workers Ready")
    if args.with_server:
        _deploy_server(args, settings, backend)
    return EXIT_OK


def _deploy_server(args: argparse.Namespace, settings: Settings, backend: Any) -> None:
    from ..backends import k8s_manifests as manifests

    storage_class = args.server_storageclass or (
        settings.storageclasses[0] if settings.storageclasses else None
    )
    spec = manifests.ServerSpec(
        namespace=settings.namespace,
        image=args.server_image or manifests.DEFAULT_SERVER_IMAGE,
        storage_class=storage_class,
        pvc_size=args.server_pvc_size,
    )
    try:
        backend.deploy_server(spec)
    finally:
        backend.close()
    ns = settings.namespace
    print(f"{ns}/{manifests.SERVER_NAME}: results server Ready")
    print(
        f"  reach it:  kubectl -n {ns} port-forward svc/{manifests.SERVER_NAME} "
        f"{manifests.SERVER_PORT}:{manifests.SERVER_PORT}  (then http://127.0.0.1:"
        f"{manifests.SERVER_PORT}/)"
    )
    print(
        f"  its token (for writes, FIO_API_TOKEN):  kubectl -n {ns} exec "
        f"deploy/{manifests.SERVER_NAME} -- cat {manifests.SERVER_STATE_DIR}/token"
    )


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
    server = backend.server_status()
    held = backend.lock_holder()
    lock = f"locked by session {held.get('session')} on {held.get('host')}" if held else "unlocked"
    print(f"namespace {backend.namespace} ({backend.api.info.context}): {lock}")
    for storage_class, (ready, desired) in sorted(counts.items()):
        print(f"  {storage_class}: {ready}/{desired} workers Ready")
    if not counts:
        print("  no workers")
    if server is not None:
        ready, desired, why = server
        print(f"  results server: {ready}/{desired} Ready" + (f" ({why})" if why else ""))
    all_ready = (bool(counts) or server is not None) and all(
        ready == desired for ready, desired in counts.values()
    )
    if server is not None:
        all_ready = all_ready and server[0] >= server[1]
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
    deploy.add_argument(
        "--with-server",
        action="store_true",
        help="also run the results server in the namespace (its history on a PVC); "
        "without --storageclass only the server",
    )
    deploy.add_argument("--server-image", help="results server image")
    deploy.add_argument(
        "--server-storageclass",
        help="storage class of the server's PVC (default: the first --storageclass, else "
        "the cluster's default)",
    )
    deploy.add_argument("--server-pvc-size", default="1Gi", help="size of the server's PVC (1Gi)")
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
