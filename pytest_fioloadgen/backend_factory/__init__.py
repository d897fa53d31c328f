"""The built-in backends built from Settings: one place for the plugin, the CLI and the
results server, so ``--fio-backend`` means the same thing everywhere."""

from __future__ import annotations

import os
from pathlib import Path

from ..backends.base import Backend
from ..backends.local import LocalBackend, LocalTarget
from ..backends.sandbox import ENGINE_FILES, Sandbox, choose_sandbox, in_ci
from ..backends.static import StaticBackend, StaticTarget, parse_host
from ..exceptions import ConfigError
from ..settings import Settings, TargetSpec


def target_specs(settings: Settings) -> tuple[TargetSpec, ...]:
    """Local and static targets; one named after the backend when none was given."""
    return settings.targets or (TargetSpec(settings.backend),)


def target_names(settings: Settings) -> list[str]:
    """The targets (report columns) of a session: storage classes on Kubernetes."""
    if settings.backend == "kubernetes":
        # Imported here: the kubernetes client is an optional extra.
        from .kubernetes import storage_classes

        return list(storage_classes(settings))
    return [spec.name for spec in target_specs(settings)]


def sandbox_of(settings: Settings, *, require: bool = False) -> Sandbox:
    """The sandbox --fio-sandbox asks for, for every fio process (servers, clients,
    --parse-only); ``require`` (the results server, which always confines) turns it into
    bwrap. In CI (``CI`` set) auto never falls back to unconfined. An allowed network
    engine's configuration (/etc/ceph for rbd) is readable inside."""
    mode = "bwrap" if require else settings.sandbox
    readable = [path for engine in settings.allow_engines for path in ENGINE_FILES.get(engine, ())]
    where = settings.source_of("sandbox")
    return choose_sandbox(
        mode,
        where="--fio-sandbox (default)" if where == "default" else where,
        strict="CI is set" if in_ci(os.environ) else None,
        readable=tuple(dict.fromkeys(readable)),
    )


def make_backend(settings: Settings, session_id: str, *, require_sandbox: bool = False) -> Backend:
    """The backend ``settings.backend`` names, configured from the settings."""
    if settings.backend == "kubernetes":
        from .kubernetes import kubernetes_backend

        return kubernetes_backend(settings, session_id)
    if settings.kubernetes.block:
        raise ConfigError(
            f"volume mode block (from {settings.source_of('volume_mode')}) needs "
            f"--fio-backend kubernetes: the {settings.backend} backend has no raw devices to "
            "give a worker"
        )
    targets = target_specs(settings)
    sandbox = sandbox_of(settings, require=require_sandbox)
    if settings.backend == "static":
        source = settings.source_of("hosts")
        hosts = [parse_host(spec, source=source) for spec in settings.hosts]
        return StaticBackend(
            hosts,
            [StaticTarget(spec.name, spec.directory) for spec in targets],
            fio_binary=settings.fio_binary,
            sandbox=sandbox,
        )
    return LocalBackend(
        [
            LocalTarget(spec.name, Path(spec.directory) if spec.directory else None)
            for spec in targets
        ],
        session_id=session_id,
        fio_binary=settings.fio_binary,
        keep=settings.keep,
        sandbox=sandbox,
        # On the disk the project lives on, not in a temp directory that may be tmpfs.
        default_dir=settings.rootdir / ".fioloadgen" / "local",
        allow_memory_target=settings.allow_memory_target,
    )
