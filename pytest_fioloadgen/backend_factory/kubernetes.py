"""Build the kubernetes backend from resolved Settings (shared by the plugin and the CLI).

Combinations of options that cannot work are refused here, naming each option and where
it came from, before anything talks to a cluster; the backend then gets the settings'
KubernetesSettings whole.
"""

from __future__ import annotations

from ..backends.kubernetes.backend import KubernetesBackend
from ..backends.kubernetes.manifests import statefulset
from ..backends.kubernetes.options import is_pattern
from ..backends.kubernetes.settings import KubernetesSettings
from ..exceptions import ConfigError
from ..settings import Settings


def storage_classes(settings: Settings) -> tuple[str, ...]:
    """The targets of a kubernetes session, or a ConfigError saying how to give them."""
    if not settings.kubernetes.storageclasses:
        raise ConfigError(
            "the kubernetes backend needs storage classes: --fio-storageclass SC[,SC] in "
            "pytest, --storageclass with fioloadgen deploy, or FIO_STORAGECLASS"
        )
    return settings.kubernetes.storageclasses


def _option(settings: Settings, field: str, shown: str) -> str:
    return f"{shown} (from {settings.source_of(field)})"


def kubernetes_settings(settings: Settings) -> KubernetesSettings:
    """The kubernetes settings, refused when options contradict each other (each named
    with its source)."""
    kubernetes = settings.kubernetes
    if kubernetes.block and kubernetes.shared:
        raise ConfigError(
            f"{_option(settings, 'volume_mode', 'volume mode block')} with "
            f"{_option(settings, 'access_mode', 'access mode rwx')}: every worker would "
            "write the one shared device; use rwo (a device per worker)"
        )
    if kubernetes.run_as_user == 0:
        raise ConfigError(
            f"{_option(settings, 'run_as_user', 'run-as-user 0')}: worker pods run as "
            "non-root (runAsNonRoot, restricted Pod Security); give a non-zero UID or none"
        )
    return kubernetes


def kubernetes_backend(settings: Settings, session_id: str) -> KubernetesBackend:
    kubernetes = kubernetes_settings(settings)
    # Render a worker template once now: a pod patch that does not apply is a usage
    # error at the start, not a deploy failure later.
    for storage_class in kubernetes.storageclasses[:1]:
        statefulset(kubernetes, storage_class, 1)
    return KubernetesBackend(kubernetes, session_id=session_id, keep=settings.keep)


def dry_run_claims(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Existing claims per target without a cluster: explicit names of one target."""
    claims = settings.kubernetes.existing_pvcs
    if not claims:
        return {}
    where = settings.source_of("existing_pvcs")
    patterns = [name for name in claims if is_pattern(name)]
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
    return {targets[0]: claims}
