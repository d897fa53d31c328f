"""The backend the server runs jobs on, built from the same Settings as the plugin's.

This mirrors the plugin's built-in ``pytest_fioloadgen_make_backend`` (which lives in the
pytest glue the server must not import): local fio servers per target, existing hosts
(static), or Kubernetes when that backend is installed.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from pytest_fioloadgen.backends.base import Backend
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.static import StaticBackend, StaticTarget, parse_host
from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.settings import Settings, TargetSpec


def target_specs(settings: Settings) -> tuple[TargetSpec, ...]:
    return settings.targets or (TargetSpec(settings.backend),)


def make_backend(settings: Settings, session_id: str) -> Backend:
    targets = target_specs(settings)
    if settings.backend == "static":
        source = settings.source_of("hosts")
        hosts = [parse_host(spec, source=source) for spec in settings.hosts]
        return StaticBackend(
            hosts,
            [StaticTarget(spec.name, spec.directory) for spec in targets],
            fio_binary=settings.fio_binary,
        )
    if settings.backend == "kubernetes":
        return _kubernetes(settings, session_id)
    return LocalBackend(
        [
            LocalTarget(spec.name, Path(spec.directory) if spec.directory else None)
            for spec in targets
        ],
        session_id=session_id,
        fio_binary=settings.fio_binary,
        keep=settings.keep,
    )


def _kubernetes(settings: Settings, session_id: str) -> Backend:
    # Imported lazily like the plugin does: the kubernetes client is an optional extra.
    try:
        module: Any = importlib.import_module("pytest_fioloadgen.backends.kubernetes")
    except ImportError as err:
        raise ConfigError(f"the kubernetes backend is not available here ({err})") from err
    factory = getattr(module, "make_backend", None)
    if factory is None:
        raise ConfigError("the kubernetes backend offers no make_backend(settings, session_id)")
    backend: Backend = factory(settings, session_id)
    return backend
