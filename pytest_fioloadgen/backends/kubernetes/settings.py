"""The kubernetes backend's settings: one frozen object, each field an option.

``Settings.kubernetes`` holds one KubernetesSettings, resolved with every other option
(``--fio-namespace``, ``FIO_NAMESPACE``, ini ``fio_namespace``...; see options.option),
and the backend factory hands it to KubernetesBackend whole: the backend connects and
renders its manifests (manifests.py) from it, so a new pod setting is one field here and
its use where the pods are rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ...options import option, parse_bool, positive_int
from .options import (
    ACCESS_MODES,
    VOLUME_MODES,
    Spread,
    check_dns_label,
    check_dns_subdomain,
    check_quantity,
    parse_existing_pvcs,
    parse_id,
    parse_mode,
    parse_node_selector,
    parse_resources,
    parse_spread,
    parse_storage_classes,
    parse_tolerations,
)
from .patching import PodPatch, load_pod_patch

DEFAULT_IMAGE = "ghcr.io/pytest-fioloadgen/fio-worker:3.33"


@dataclass(frozen=True)
class KubernetesSettings:
    """Where the kubernetes workers run, how their pods and volumes look, and how the
    backend reaches the cluster. Targets are storage classes."""

    namespace: str = option(
        "fio",
        "namespace of the kubernetes workers",
        "NS",
        parse=lambda text, where: check_dns_label(text, f"{where}: namespace"),
    )
    storageclasses: tuple[str, ...] = option(
        (),
        "storage classes to test, comma separated (kubernetes targets)",
        "SC,...",
        name="storageclass",
        parse=parse_storage_classes,
    )
    image: str = option(DEFAULT_IMAGE, "fio worker image (kubernetes)", "IMAGE")
    kubeconfig: Path | None = option(
        None,
        "kubeconfig file",
        "PATH",
        path=True,
        shown_default="KUBECONFIG, ~/.kube/config, in-cluster",
    )
    context: str | None = option(
        None, "kubeconfig context", "NAME", shown_default="the current context"
    )
    pvc_size: str = option(
        "10Gi",
        "PVC size of every kubernetes worker",
        "QUANTITY",
        parse=lambda text, where: check_quantity(text, f"{where}: PVC size"),
    )
    #: Kubernetes resources, e.g. {"cpu": "1", "memory": "1Gi"}; empty means none set.
    requests: Mapping[str, str] = option(
        {}, "worker resource requests, e.g. cpu=1,memory=1Gi", "RES=QTY,...", parse=parse_resources
    )
    limits: Mapping[str, str] = option(
        {}, "worker resource limits, e.g. cpu=2,memory=2Gi", "RES=QTY,...", parse=parse_resources
    )
    #: Seconds to wait for the workers to be Ready.
    ready_timeout: float = option(
        300, "seconds to wait for kubernetes workers to be Ready", "S", parse=positive_int
    )
    # -- volume shapes, scheduling and security of the worker pods -----------------------
    #: "filesystem" (a directory per worker) or "block" (a raw device per worker).
    volume_mode: str = option(
        "filesystem",
        "worker volumes: filesystem (a directory each) or block (the raw device each; "
        "kubernetes only)",
        "filesystem|block",
        choices=VOLUME_MODES,
        parse=lambda text, where: parse_mode(text, where, VOLUME_MODES),
    )
    #: "rwo" (a claim per worker) or "rwx" (one shared claim, a directory per worker).
    access_mode: str = option(
        "rwo",
        "rwo: a claim per worker; rwx: one ReadWriteMany claim per storage class, a "
        "directory per worker",
        "rwo|rwx",
        choices=ACCESS_MODES,
        parse=lambda text, where: parse_mode(text, where, ACCESS_MODES),
    )
    #: Claims to use instead of new ones: names or patterns (resolved at deploy).
    existing_pvcs: tuple[str, ...] = option(
        (),
        "use these claims (names or patterns like bench-*) instead of creating them",
        "NAME[,NAME]",
        name="existing_pvc",
        parse=parse_existing_pvcs,
    )
    existing_namespace: bool = option(
        False,
        "deploy into --fio-namespace that you created; only our objects in it are deleted",
        flag=True,
        parse=parse_bool,
    )
    node_selector: Mapping[str, str] = option(
        {},
        "worker and client pods only on nodes with these labels",
        "L=V,...",
        parse=parse_node_selector,
    )
    tolerations: tuple[Mapping[str, str], ...] = option(
        (),
        "tolerate these taints (Exists without a value, every effect without one); repeatable",
        "KEY[=VALUE][:EFFECT]",
        repeatable=True,
        parse=parse_tolerations,
    )
    spread: Spread = option(
        Spread(),
        "topology spread of the workers over nodes or KEY: hard (DoNotSchedule), soft "
        "(ScheduleAnyway) or none",
        "hard|soft|none[:KEY]",
        parse=parse_spread,
    )
    priority_class: str | None = option(
        None,
        "priorityClassName of worker and client pods",
        "NAME",
        parse=lambda text, where: check_dns_subdomain(text, f"{where}: priority class"),
    )
    fs_group: int | None = option(
        None, "fsGroup of the worker pods (volume group ownership)", "GID", parse=parse_id
    )
    run_as_user: int | None = option(
        None,
        "runAsUser of the worker pods",
        "UID",
        parse=parse_id,
        shown_default="the image's, or OpenShift's",
    )
    pod_patch: PodPatch | None = option(
        None,
        "JSON Patch (RFC 6902 list) or merge patch (RFC 7386 object) file applied to the "
        "worker pod template",
        "FILE",
        path=True,
        parse=load_pod_patch,
    )

    @property
    def block(self) -> bool:
        return self.volume_mode == "block"

    @property
    def shared(self) -> bool:
        return self.access_mode == "rwx"
