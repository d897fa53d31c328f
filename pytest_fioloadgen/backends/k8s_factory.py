"""Build the kubernetes backend from resolved Settings (shared by the plugin and the CLI)."""

from __future__ import annotations

from ..exceptions import ConfigError
from ..settings import Settings
from .k8s_manifests import DEFAULT_IMAGE, WorkerSpec
from .kubernetes import KubernetesBackend


def storage_classes(settings: Settings) -> tuple[str, ...]:
    """The targets of a kubernetes session, or a ConfigError saying how to give them."""
    if not settings.storageclasses:
        raise ConfigError(
            "the kubernetes backend needs storage classes: --fio-storageclass SC[,SC] in "
            "pytest, --storageclass with fioloadgen deploy, or FIO_STORAGECLASS"
        )
    return settings.storageclasses


def worker_spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec(
        namespace=settings.namespace,
        image=settings.image or DEFAULT_IMAGE,
        pvc_size=settings.pvc_size,
        requests=dict(settings.requests),
        limits=dict(settings.limits),
    )


def kubernetes_backend(settings: Settings, session_id: str) -> KubernetesBackend:
    return KubernetesBackend(
        worker_spec(settings),
        session_id=session_id,
        kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
        context=settings.context,
        keep=settings.keep,
        ready_timeout_s=float(settings.ready_timeout),
    )
