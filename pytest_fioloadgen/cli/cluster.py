"""``fioloadgen deploy|destroy|unlock`` (and the cluster side of ``status``): fio workers
on Kubernetes, outside pytest.

Options mirror the pytest ones without the ``fio-`` prefix (``--namespace`` is
``--fio-namespace``, ``--volume-mode`` is ``--fio-volume-mode``) and fall back to the same
FIO_* environment variables, resolved by the same code as in the plugin.
``deploy --dry-run [-o yaml|json]`` prints every object deploy would create, as kubectl's
client dry run does, without a cluster.

Other packages add to ``deploy`` and ``status`` (the results server's ``--with-server``
lives in fioloadgen_server) through ``add_deploy_extension``, from the
``fioloadgen.commands`` entry point: this package knows nothing of what they deploy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ..settings import KUBERNETES_OPTIONS, OPTIONS_BY_NAME, Settings, resolve
from .common import EXIT_CHECK_FAILED, EXIT_OK

#: The options of every cluster command; deploy takes every other kubernetes option too.
_CLUSTER_OPTIONS = ("namespace", "kubeconfig", "context", "existing_namespace")
OUTPUTS = ("yaml", "json")


@dataclass(frozen=True)
class DeployExtension:
    """What another package adds to ``deploy`` and ``status``.

    ``wanted(args)``: whether this deploy includes it; ``deploy(args, settings, backend)``
    runs after the workers (``workers_deployed`` tells whether there were any);
    ``objects(args, settings)`` are its manifests for ``--dry-run``; ``status(args,
    backend)`` is a line and whether it is healthy, or None when it is not deployed.
    """

    name: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    wanted: Callable[[argparse.Namespace], bool]
    deploy: Callable[[argparse.Namespace, Settings, Any], None]
    objects: Callable[[argparse.Namespace, Settings], list[dict[str, Any]]]
    status: Callable[[argparse.Namespace, Any], tuple[str, bool] | None]


def _extensions(args: argparse.Namespace) -> list[DeployExtension]:
    return list(getattr(args, "deploy_extensions", None) or [])


def add_deploy_extension(commands: Any, extension: DeployExtension) -> None:
    """Add ``extension`` to the ``deploy`` and ``status`` commands of ``commands``."""
    for command in ("deploy", "status"):
        parser = commands.choices[command]
        current = list(parser.get_default("deploy_extensions") or [])
        parser.set_defaults(deploy_extensions=[*current, extension])
    extension.add_arguments(commands.choices["deploy"])


def _own_flags(text: str) -> str:
    """Messages name the flag as typed here: ``--volume-mode``, not ``--fio-volume-mode``."""
    return text.replace("--fio-", "--")


def _settings(args: argparse.Namespace) -> Settings:
    # Each flag's dest is its option's name (see _add_setting).
    cli = {option.name: getattr(args, option.name, None) for option in KUBERNETES_OPTIONS}
    cli["backend"] = "kubernetes"
    try:
        settings = resolve(rootdir=Path.cwd(), cli=cli, env=os.environ, ini={})
    except ConfigError as err:
        raise ConfigError(_own_flags(str(err))) from err
    sources = {name: _own_flags(source) for name, source in settings.sources.items()}
    return dataclasses.replace(settings, sources=sources)


def _backend(args: argparse.Namespace, settings: Settings | None = None) -> Any:
    # Imported on use: the kubernetes client is an optional extra.
    from ..backend_factory.kubernetes import kubernetes_backend

    return kubernetes_backend(
        settings or _settings(args), session_id=f"cli-{uuid.uuid4().hex[:12]}"
    )


def _workers_wanted(args: argparse.Namespace, settings: Settings) -> bool:
    # Only an extension (the results server): fine without storage classes for workers.
    others = [ext for ext in _extensions(args) if ext.wanted(args)]
    return bool(settings.kubernetes.storageclasses) or not others


def _deploy(args: argparse.Namespace) -> int:
    from ..backend_factory.kubernetes import storage_classes

    settings = _settings(args)
    if args.dry_run:
        return _dry_run(args, settings)
    if args.output:
        raise ConfigError("-o/--output goes with --dry-run (deploy prints status lines)")
    backend = _backend(args, settings)
    workers = _workers_wanted(args, settings)
    try:
        if workers:
            # The environment stays up after this command: like --fio-keep, release the lock.
            backend.keep = True
            env = backend.deploy(storage_classes(settings), args.workers)
            backend.teardown(env)
            for storage_class, count in env.describe().items():
                print(f"{settings.kubernetes.namespace}/{storage_class}: {count} workers Ready")
        for extension in _extensions(args):
            if extension.wanted(args):
                extension.deploy(args, settings, backend)
    finally:
        backend.close()
    return EXIT_OK


def _dry_run(args: argparse.Namespace, settings: Settings) -> int:
    """Every object deploy would create, rendered here: no cluster, no client."""
    from ..backend_factory.kubernetes import dry_run_claims, storage_classes

    objects: list[dict[str, Any]] = []
    if _workers_wanted(args, settings):
        backend = _backend(args, settings)
        objects += backend.rendered(
            storage_classes(settings), args.workers, dry_run_claims(settings)
        )
    for extension in _extensions(args):
        if extension.wanted(args):
            objects += extension.objects(args, settings)
    print(render_objects(objects, args.output or "yaml"), end="")
    return EXIT_OK


def render_objects(objects: list[dict[str, Any]], output: str) -> str:
    """kubectl's conventions: ``-o json`` one List, ``-o yaml`` documents split by ---."""
    if output == "json":
        document = {"apiVersion": "v1", "kind": "List", "items": objects}
        return json.dumps(document, indent=2) + "\n"
    try:
        import yaml
    except ImportError as err:
        raise ConfigError(
            "-o yaml needs PyYAML: pip install 'pytest-fioloadgen[kubernetes]' (or use -o json)"
        ) from err
    return "".join(
        "---\n" + yaml.safe_dump(obj, sort_keys=False, default_flow_style=False) for obj in objects
    )


def _destroy(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if backend.destroy(force=args.force):
        backend.check_leaks()
        what = "our objects in namespace" if backend.existing_namespace else "namespace"
        print(f"{what} {backend.namespace} deleted")
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
    healthy = all(ready == desired for ready, desired in counts.values())
    deployed = bool(counts)
    for extension in _extensions(args):
        line = extension.status(args, backend)
        if line is not None:
            print(f"  {line[0]}")
            deployed = True
            healthy = healthy and line[1]
    return EXIT_OK if deployed and healthy else EXIT_CHECK_FAILED


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
    for name in _CLUSTER_OPTIONS:
        _add_setting(parser, name)


def _add_setting(parser: argparse.ArgumentParser, name: str) -> None:
    """A flag from the settings table: the pytest option without ``fio-``."""
    option = OPTIONS_BY_NAME[name]
    flag = "--" + name.replace("_", "-")
    help_text = f"{option.full_help} [{option.env}]"
    if option.flag:
        parser.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
        return
    parser.add_argument(
        flag,
        dest=name,
        action="append" if option.repeatable else "store",
        metavar=option.metavar,
        choices=option.choices,
        help=help_text,
    )


def register(commands: Any) -> None:
    deploy = commands.add_parser("deploy", help="deploy fio workers on Kubernetes")
    add_cluster_options(deploy)
    deploy.add_argument("--workers", type=int, default=1, help="workers per storage class")
    for option in KUBERNETES_OPTIONS:
        if option.name not in _CLUSTER_OPTIONS:
            _add_setting(deploy, option.name)
    deploy.add_argument(
        "--dry-run",
        action="store_true",
        help="print every object deploy would create, without a cluster",
    )
    deploy.add_argument(
        "-o", "--output", choices=OUTPUTS, help="with --dry-run: yaml (default) or json"
    )
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
