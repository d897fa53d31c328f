"""Build the kubernetes backend from resolved Settings (shared by the plugin and the CLI).

Combinations of options that cannot work are refused here, naming each option and where
it came from, before anything talks to a cluster.
"""

from __future__ import annotations

from ..backends.kubernetes.backend import KubernetesBackend
from ..backends.kubernetes.manifests import DEFAULT_IMAGE, WorkerSpec, statefulset
from ..backends.kubernetes.options import is_pattern
from ..exceptions import ConfigError
from ..settings import Settings


def storage_classes(settings: Settings) -> tuple[str, ...]:
    """The targets of a kubernetes session, or a ConfigError saying how to give them."""
    if not settings.storageclasses:
        raise ConfigError(
            "the kubernetes backend needs storage classes: --fio-storageclass SC[,SC] in "
            "pytest, --storageclass with fioloadgen deploy, or FIO_STORAGECLASS"
        )
    return settings.storageclasses


def _option(settings: Settings, field: str, shown: str) -> str:
    return f"{shown} (from {settings.source_of(field)})"


def check_combination(settings: Settings) -> None:
    """Options that contradict each other, named with their sources."""
    if settings.volume_mode == "block" and settings.access_mode == "rwx":
        raise ConfigError(
            f"{_option(settings, 'volume_mode', 'volume mode block')} with "
            f"{_option(settings, 'access_mode', 'access mode rwx')}: every worker would "
            "write the one shared device; use rwo (a device per worker)"
        )
    if settings.run_as_user == 0:
        raise ConfigError(
            f"{_option(settings, 'run_as_user', 'run-as-user 0')}: worker pods run as "
            "non-root (runAsNonRoot, restricted Pod Security); give a non-zero UID or none"
        )


def worker_spec(settings: Settings) -> WorkerSpec:
    check_combination(settings)
    return WorkerSpec(
        namespace=settings.namespace,
        image=settings.image or DEFAULT_IMAGE,
        pvc_size=settings.pvc_size,
        requests=dict(settings.requests),
        limits=dict(settings.limits),
        volume_mode=settings.volume_mode,
        access_mode=settings.access_mode,
        existing_pvcs=settings.existing_pvcs,
        node_selector=dict(settings.node_selector),
        tolerations=tuple(settings.tolerations),
        spread=settings.spread,
        priority_class=settings.priority_class,
        fs_group=settings.fs_group,
        run_as_user=settings.run_as_user,
        pod_patch=settings.pod_patch,
    )


def kubernetes_backend(settings: Settings, session_id: str) -> KubernetesBackend:
    spec = worker_spec(settings)
    # Render a worker template once now: a pod patch that does not apply is a usage
    # error at the start, not a deploy failure later.
    for storage_class in settings.storageclasses[:1]:
        statefulset(spec, storage_class, 1)
    return KubernetesBackend(
        spec,
        session_id=session_id,
        kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None,
        context=settings.context,
        keep=settings.keep,
        ready_timeout_s=float(settings.ready_timeout),
        existing_namespace=settings.existing_namespace,
    )


def dry_run_claims(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Existing claims per target without a cluster: explicit names of one target."""
    if not settings.existing_pvcs:
        return {}
    where = settings.source_of("existing_pvcs")
    patterns = [name for name in settings.existing_pvcs if is_pattern(name)]
    if patterns:
        raise ConfigError(
            f"{where}: {patterns[0]!r} is a pattern; without a cluster only claim names can "
            "be rendered"
        )
    targets = storage_classes(settings)
    if len(targets) != 1:
        raise ConfigError(
            f"{where}: without a cluster the claims' storage class is not known; give one "
            "storage class"
        )
    return {targets[0]: settings.existing_pvcs}
