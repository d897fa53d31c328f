"""One frozen Settings object, resolved once: CLI > FIO_* environment > ini > suite > default.

Every option is declared once in OPTIONS; the pytest plugin derives its command-line
options and ini keys from that table and the CLI reuses the parsers, so a name can never
mean different things in different places. Errors name the value and where it came from
(``--fio-workers``, ``FIO_WORKERS`` or ``ini fio_workers``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import BACKEND_NAMES
from .backends.kubernetes import options as k8s
from .backends.kubernetes.options import check_dns_label, check_dns_subdomain, check_quantity
from .backends.kubernetes.patching import PodPatch, load_pod_patch
from .backends.sandbox import SANDBOX_MODES
from .exceptions import ConfigError
from .profiles.caps import parse_caps
from .profiles.model import OVERRIDABLE_OPTIONS
from .profiles.policy import allowed_engines

# fio size syntax: a number with an optional k/m/g/t/p suffix (optionally 'i'/'b').
_SIZE = re.compile(r"^\d+(\.\d+)?([kmgtp]i?b?)?$|^\d+%$", re.IGNORECASE)
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_BASELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

#: Columns of the session summary (--fio-columns), in their default order: the case is
#: always shown. "iops" is the median of the repeats with their min-max range.
SUMMARY_COLUMNS = (
    "test",
    "profile",
    "target",
    "workers",
    "runs",
    "baseline",
    "iops",
    "delta",
    "cv",
    "bw",
    "read_mean",
    "read_p99",
    "write_mean",
    "write_p99",
    "verdict",
)
DEFAULT_SUMMARY_COLUMNS = (
    "test",
    "runs",
    "baseline",
    "iops",
    "delta",
    "bw",
    "read_p99",
    "write_p99",
    "verdict",
)
#: --fio-sort keys: the run order (name), a column, or the verdict's severity.
SUMMARY_SORTS = (
    "name",
    "iops",
    "delta",
    "cv",
    "bw",
    "read_p99",
    "write_p99",
    "verdict",
    "workers",
    "profile",
    "target",
    "test",
)
#: --fio-group-by keys: one table per distinct value (or combination).
SUMMARY_GROUPS = ("profile", "target", "workers", "test")


@dataclass(frozen=True)
class TargetSpec:
    """A storage target: a name (a report column) and a directory, when one was given."""

    name: str
    directory: str | None = None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _positive_int(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{where}: {text!r} is not a positive integer")
    return value


def _non_negative_int(text: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{where}: {text!r} is not a non-negative integer")
    return value


def _positive_float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ConfigError(f"{where}: {text!r} is not a positive number")
    return value


def parse_baseline(text: str, where: str) -> str:
    """auto, none, or the name of a pinned baseline."""
    value = text.strip()
    if value in ("auto", "none") or _BASELINE_NAME.match(value):
        return value
    raise ConfigError(f"{where}: {text!r} is not auto, none or a baseline name")


def parse_names(text: str, where: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A comma list of names, each one of ``known`` (in the order given, no repeats)."""
    names = tuple(dict.fromkeys(_split(text)))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(
            f"{where}: {', '.join(unknown) or repr(text)} not among {', '.join(known)}"
        )
    return names


def parse_workers(text: str, where: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",")]
    if any(not part for part in parts):
        raise ConfigError(f"{where}: empty worker count in {text!r} (use e.g. 1,2,4)")
    counts = sorted({_positive_int(part, where) for part in parts})
    return tuple(counts)


def parse_size(text: str, where: str) -> str:
    if not _SIZE.match(text.strip()):
        raise ConfigError(f"{where}: {text!r} is not a fio size (like 64m, 1g, 512k)")
    return text.strip()


def parse_choice(text: str, where: str, choices: tuple[str, ...]) -> str:
    value = text.strip()
    if value not in choices:
        raise ConfigError(f"{where}: {text!r} is not one of {', '.join(choices)}")
    return value


def parse_backend(text: str, where: str) -> str:
    if text not in BACKEND_NAMES:
        raise ConfigError(
            f"{where}: unknown backend {text!r} (choose from {', '.join(BACKEND_NAMES)})"
        )
    return text


def parse_bool(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{where}: {text!r} is not a boolean (use true or false)")


def parse_labels(values: list[str], where: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, label = value.partition("=")
        key = key.strip()
        if not sep or not _LABEL_KEY.match(key):
            raise ConfigError(f"{where}: label {value!r} is not KEY=VALUE")
        labels[key] = label.strip()
    return labels


def parse_targets(values: list[str], where: str) -> tuple[TargetSpec, ...]:
    """``DIR`` or ``NAME=DIR``; the name defaults to the directory's last component."""
    specs: list[TargetSpec] = []
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep:
            directory = value
            name = Path(value.rstrip("/")).name or "root"
        name = name.strip()
        if not _TARGET_NAME.match(name):
            raise ConfigError(
                f"{where}: target name {name!r} (from {value!r}) must be letters, digits, "
                "'.', '_' or '-'"
            )
        if any(spec.name == name for spec in specs):
            raise ConfigError(f"{where}: two targets are named {name!r}; name them NAME=DIR")
        specs.append(TargetSpec(name, directory.strip() or None))
    return tuple(specs)


#: One sweep axis: a profile option and the values the matrix runs it at.
SweepAxis = tuple[str, tuple[str, ...]]


def parse_sweep(values: list[str], where: str, allowed: tuple[str, ...]) -> tuple[SweepAxis, ...]:
    """``iodepth=1,4,16`` (repeatable) -> (("iodepth", ("1", "4", "16")),). A comma list
    from the environment or an ini file arrives split: a part without ``=`` continues the
    axis before it, so ``FIO_SWEEP=iodepth=1,4,16,bs=4k,64k`` means two axes."""
    axes: dict[str, list[str]] = {}
    current: str | None = None
    for value in values:
        for part in _split(value):
            option, sep, first = part.partition("=")
            option = option.strip()
            if sep:
                if option not in allowed:
                    raise ConfigError(
                        f"{where}: cannot sweep {option!r} (sweepable: {', '.join(allowed)})"
                    )
                if option in axes:
                    raise ConfigError(f"{where}: {option} is swept twice")
                current = option
                axes[current] = []
                part = first
            if current is None:
                raise ConfigError(
                    f"{where}: {value!r} is not OPTION=VALUE,VALUE (like iodepth=1,8)"
                )
            if not part.strip():
                raise ConfigError(f"{where}: empty value in the {current} sweep")
            if part.strip() in axes[current]:
                raise ConfigError(f"{where}: {current}={part.strip()} is listed twice")
            axes[current].append(part.strip())
    return tuple((option, tuple(points)) for option, points in axes.items())


def parse_variable_names(values: list[str], where: str) -> tuple[str, ...]:
    """Environment variable names (``--fio-env VAR``, repeatable or a comma list)."""
    names = tuple(dict.fromkeys(part for value in values for part in _split(value)))
    for name in names:
        if not _VARIABLE_NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not an environment variable name")
    return names


def parse_storage_classes(text: str, where: str) -> tuple[str, ...]:
    names = _split(text)
    for name in names:
        check_dns_subdomain(name, f"{where}: storage class")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: a storage class is listed twice in {text!r}")
    return tuple(names)


def parse_resources(text: str, where: str) -> dict[str, str]:
    """``cpu=1,memory=1Gi`` -> {"cpu": "1", "memory": "1Gi"} (Kubernetes quantities)."""
    resources: dict[str, str] = {}
    for part in _split(text):
        name, sep, quantity = part.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{where}: {part!r} is not RESOURCE=QUANTITY (like cpu=1)")
        resources[name.strip()] = check_quantity(quantity.strip(), f"{where}: {name.strip()}")
    return resources


@dataclass(frozen=True)
class OptionSpec:
    """One setting: its name, help, how to parse one raw value, and whether it repeats."""

    name: str
    help: str
    metavar: str = "VALUE"
    repeatable: bool = False
    flag: bool = False
    choices: tuple[str, ...] | None = None
    #: What separates a repeatable option's values in the environment and ini files
    #: (a fault spec has commas of its own: faults are separated by ';' or lines).
    separator: str = ","

    @property
    def cli(self) -> str:
        return "--fio-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "fio_" + self.name

    @property
    def env(self) -> str:
        return "FIO_" + self.name.upper()


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("backend", "where fio workers run (default: local)", "NAME", choices=BACKEND_NAMES),
    OptionSpec("workers", "worker counts to run every case with, e.g. 1,2,4 (default: 1)", "N,N"),
    OptionSpec(
        "profiles", "profiles to run: names or globs, comma separated (default: all)", "NAME[,GLOB]"
    ),
    OptionSpec(
        "profiles_dir", "directory of fio job files (default: the shipped profiles)", "PATH"
    ),
    OptionSpec("runtime", "override every profile's runtime, in seconds", "SECONDS"),
    OptionSpec("size", "override every profile's file size (fio syntax: 64m, 1g)", "SIZE"),
    OptionSpec("repeat", "run every case N times (default: 1)", "N"),
    OptionSpec(
        "sweep",
        "add a fio-option axis to the matrix, e.g. iodepth=1,4,16 or bs=4k,64k; repeatable "
        "(each point is a case with its own id and history)",
        "OPTION=V,V",
        repeatable=True,
    ),
    OptionSpec(
        "target",
        "storage target [NAME=]DIR; repeat for several (local: default .fioloadgen/local "
        "in the rootdir)",
        "[NAME=]DIR",
        repeatable=True,
    ),
    OptionSpec(
        "allow_memory_target",
        "run on a target that cannot measure a device (tmpfs, ramfs, an overlay on them, or "
        "a file system refusing O_DIRECT); recorded in every run and shown with its figures",
        flag=True,
    ),
    OptionSpec(
        "lint_strict",
        "profile lint warnings are errors (for CI; see fioloadgen profile check)",
        flag=True,
    ),
    OptionSpec("hosts", "existing fio servers for the static backend", "HOST[:PORT],..."),
    OptionSpec(
        "store",
        "history store URI: path.db, sqlite:///path, or 'none' (default: .fioloadgen/history.db)",
        "URI",
    ),
    OptionSpec(
        "thresholds", "thresholds file (default: benchmarks/thresholds.toml when present)", "PATH"
    ),
    OptionSpec("label", "label every run KEY=VALUE; repeatable", "KEY=VALUE", repeatable=True),
    OptionSpec(
        "keep", "leave the environment (local: worker directories and data) in place", flag=True
    ),
    OptionSpec("json", "write the session's results as JSON to PATH", "PATH"),
    OptionSpec("binary", "the fio executable (default: fio)", "PATH"),
    # Regression gating against history.
    OptionSpec(
        "baseline",
        "compare with: auto (recent history of the same key), a pinned baseline NAME, "
        "or none (default: auto)",
        "NAME|auto|none",
    ),
    OptionSpec(
        "baseline_window", "auto baseline: how many recent runs of the key (default: 20)", "N"
    ),
    OptionSpec(
        "baseline_label",
        "auto baseline: only runs carrying KEY=VALUE; repeatable",
        "KEY=VALUE",
        repeatable=True,
    ),
    OptionSpec(
        "confirm",
        "re-run a suspected regression up to K times before failing (default: 1 when "
        "--fio-repeat is 1, else 0)",
        "K",
    ),
    OptionSpec(
        "until_stable",
        "re-run a case whose repeats vary more than max_cv up to K more times, until "
        "they agree (default: 0; needs --fio-repeat 2 or more)",
        "K",
    ),
    OptionSpec(
        "max_cv",
        "with --fio-repeat: the largest CV (percent) of every gated metric over a case's "
        "repeats before it is unstable (default: per metric family, or [gating] max_cv)",
        "PCT",
    ),
    OptionSpec("prefill", "write each read profile's data set once before it runs", flag=True),
    OptionSpec(
        "read_ceiling",
        "read bandwidth (MiB/s) above which a buffered read is flagged as a likely cache "
        "hit (default: the session's sequential-read figure)",
        "MIB_S",
    ),
    OptionSpec(
        "read_probe",
        "before the first buffered read on a target and worker count, measure its "
        "direct-I/O sequential read bandwidth with a one-second probe: the ceiling above "
        "which a buffered read is flagged cache? (direct reads never are; default: on)",
        "on|off",
    ),
    OptionSpec(
        "fault",
        "inject a fault into every case, NAME:key=value,... e.g. "
        "'throttle-target:iops=200,at=3s,for=3s' or 'pause-worker:worker=2,at=10s,for=3s'"
        " (at: seconds after the measurement starts); repeatable; in FIO_FAULT and ini "
        "fio_fault several are separated by ';' or lines; a marker's fault= replaces these",
        "SPEC",
        repeatable=True,
        separator=";",
    ),
    OptionSpec(
        "distribution_gate",
        "gate on the whole latency distribution too: a slow path on a few per cent of the "
        "I/Os or a shift of every quantile, judged against the key's run-to-run variation "
        "(default: on)",
        "on|off",
    ),
    OptionSpec(
        "timeline",
        "keep every run's timeline: fio's histogram logs merged exactly across workers per "
        "interval (IOPS, p50/p90/p99/p99.9/max over time), checked for window skew, "
        "stragglers, imbalance and stalls (default: on)",
        "on|off",
    ),
    OptionSpec("bmf", "write the session's results as Bencher Metric Format JSON to PATH", "PATH"),
    # -- the session summary (like pytest-benchmark's --benchmark-columns/sort/group-by) ----
    OptionSpec(
        "columns",
        f"summary columns, comma separated, from {','.join(SUMMARY_COLUMNS)} "
        f"(default: {','.join(DEFAULT_SUMMARY_COLUMNS)})",
        "COL,...",
    ),
    OptionSpec(
        "sort", f"sort the summary by one of {','.join(SUMMARY_SORTS)} (default: name)", "COL"
    ),
    OptionSpec(
        "group_by",
        f"one summary table per {'/'.join(SUMMARY_GROUPS)} (comma separated for combinations)",
        "KEY,...",
    ),
    # -- confinement ---------------------------------------------------------------------
    OptionSpec(
        "sandbox",
        "confine the local fio servers and every fio client in a bubblewrap sandbox: auto "
        "(when bwrap can start, else say so once), bwrap (required) or none (default: auto)",
        "MODE",
        choices=SANDBOX_MODES,
    ),
    OptionSpec(
        "allow_engines",
        "ioengines you trust profiles to use beyond file I/O, e.g. rbd,nfs (network storage "
        "the profile names; never settable through the results server's API)",
        "ENGINE,...",
    ),
    OptionSpec(
        "env",
        "an environment variable profiles may name as ${VAR}; repeatable (any other ${VAR} "
        "is refused; stored profiles keep ${VAR}, never its value)",
        "VAR",
        repeatable=True,
    ),
    OptionSpec(
        "caps",
        "raise (or lift with none) what one profile may take: numjobs (default 64), memory "
        "(I/O buffers per worker, 1g), time (startdelay+ramp_time+runtime, 1h), disk_margin "
        "(free space a local target keeps, 10 percent); repeatable; also [caps] in the "
        "thresholds file",
        "KEY=VALUE,...",
        repeatable=True,
    ),
    OptionSpec(
        "github_benchmark",
        "write github-action-benchmark customBiggerIsBetter/customSmallerIsBetter JSON "
        "files into DIR",
        "DIR",
    ),
    # -- kubernetes backend: workers are pods, targets are storage classes -------------
    OptionSpec("namespace", "namespace of the kubernetes workers (default: fio)", "NS"),
    OptionSpec(
        "storageclass", "storage classes to test, comma separated (kubernetes targets)", "SC,..."
    ),
    OptionSpec("image", "fio worker image (kubernetes; default: the project's image)", "IMAGE"),
    OptionSpec(
        "kubeconfig", "kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)", "PATH"
    ),
    OptionSpec("context", "kubeconfig context (default: the current context)", "NAME"),
    OptionSpec("pvc_size", "PVC size of every kubernetes worker (default: 10Gi)", "QUANTITY"),
    OptionSpec("requests", "worker resource requests, e.g. cpu=1,memory=1Gi", "RES=QTY,..."),
    OptionSpec("limits", "worker resource limits, e.g. cpu=2,memory=2Gi", "RES=QTY,..."),
    OptionSpec(
        "ready_timeout", "seconds to wait for kubernetes workers to be Ready (default: 300)", "S"
    ),
    # -- kubernetes: volume shapes, scheduling and security of the worker pods -----------
    OptionSpec(
        "volume_mode",
        "worker volumes: filesystem (a directory each) or block (the raw device each; "
        "kubernetes only) (default: filesystem)",
        "filesystem|block",
        choices=k8s.VOLUME_MODES,
    ),
    OptionSpec(
        "access_mode",
        "rwo: a claim per worker; rwx: one ReadWriteMany claim per storage class, a "
        "directory per worker (default: rwo)",
        "rwo|rwx",
        choices=k8s.ACCESS_MODES,
    ),
    OptionSpec(
        "existing_pvc",
        "use these claims (names or patterns like bench-*) instead of creating them",
        "NAME[,NAME]",
    ),
    OptionSpec(
        "existing_namespace",
        "deploy into --fio-namespace that you created; only our objects in it are deleted",
        flag=True,
    ),
    OptionSpec(
        "node_selector", "worker and client pods only on nodes with these labels", "L=V,..."
    ),
    OptionSpec(
        "tolerations",
        "tolerate these taints (Exists without a value, every effect without one); repeatable",
        "KEY[=VALUE][:EFFECT]",
        repeatable=True,
    ),
    OptionSpec(
        "spread",
        "topology spread of the workers over nodes or KEY: hard (DoNotSchedule), soft "
        "(ScheduleAnyway) or none (default: soft)",
        "hard|soft|none[:KEY]",
    ),
    OptionSpec("priority_class", "priorityClassName of worker and client pods", "NAME"),
    OptionSpec("fs_group", "fsGroup of the worker pods (volume group ownership)", "GID"),
    OptionSpec(
        "run_as_user", "runAsUser of the worker pods (default: the image's, or OpenShift's)", "UID"
    ),
    OptionSpec(
        "pod_patch",
        "JSON Patch (RFC 6902 list) or merge patch (RFC 7386 object) file applied to the "
        "worker pod template",
        "FILE",
    ),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class Settings:
    """Everything the plugin needs, resolved once per session."""

    rootdir: Path
    backend: str = "local"
    workers: tuple[int, ...] = (1,)
    profiles: str | None = None
    profiles_dir: Path | None = None
    runtime: int | None = None
    size: str | None = None
    repeat: int = 1
    sweep: tuple[SweepAxis, ...] = ()
    targets: tuple[TargetSpec, ...] = ()
    allow_memory_target: bool = False
    lint_strict: bool = False
    hosts: tuple[str, ...] = ()
    store: str | None = None
    thresholds: Path | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    keep: bool = False
    json: Path | None = None
    fio_binary: str = "fio"
    baseline: str = "auto"
    baseline_window: int = 20
    baseline_labels: Mapping[str, str] = field(default_factory=dict)
    #: None: decided by the repeat count (see confirm_runs).
    confirm: int | None = None
    until_stable: int = 0
    max_cv: float | None = None
    prefill: bool = False
    read_ceiling: float | None = None
    read_probe: bool = True
    timeline: bool = True
    distribution_gate: bool = True
    #: --fio-fault specs as given (parsed by planning, which knows the registered faults).
    faults: tuple[str, ...] = ()
    bmf: Path | None = None
    columns: tuple[str, ...] = DEFAULT_SUMMARY_COLUMNS
    sort: str = "name"
    group_by: tuple[str, ...] = ()
    github_benchmark: Path | None = None
    sandbox: str = "auto"
    allow_engines: tuple[str, ...] = ()
    #: Environment variables profiles may name as ${VAR} (--fio-env).
    env_vars: tuple[str, ...] = ()
    #: Resource caps set by --fio-caps (key -> value, None: lifted); see profiles/caps.py.
    caps: Mapping[str, Any] = field(default_factory=dict)
    namespace: str = "fio"
    storageclasses: tuple[str, ...] = ()
    image: str | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    pvc_size: str = "10Gi"
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)
    ready_timeout: int = 300
    volume_mode: str = "filesystem"
    access_mode: str = "rwo"
    existing_pvcs: tuple[str, ...] = ()
    existing_namespace: bool = False
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, str], ...] = ()
    spread: k8s.Spread = field(default_factory=k8s.Spread)
    priority_class: str | None = None
    fs_group: int | None = None
    run_as_user: int | None = None
    pod_patch: PodPatch | None = None
    #: Where each value came from, for messages ("--fio-workers", "FIO_WORKERS", ...).
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_workers(self) -> int:
        return max(self.workers)

    @property
    def confirm_runs(self) -> int:
        """Confirmation re-runs of a suspected regression. By default one when every case
        runs once: a single run cannot tell an outlier from a regression (measured A/A
        false positives 3.25% without it, 0% with it; benchmarks/gate_quality.py)."""
        if self.confirm is not None:
            return self.confirm
        return 1 if self.repeat == 1 else 0

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "default")


def _path(text: str, rootdir: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else rootdir / path


Converter = Callable[[list[str], str, Path], Any]

_CONVERTERS: dict[str, Converter] = {
    "backend": lambda v, w, r: parse_backend(v[-1], w),
    "workers": lambda v, w, r: parse_workers(v[-1], w),
    "profiles": lambda v, w, r: v[-1] or None,
    "profiles_dir": lambda v, w, r: _path(v[-1], r),
    "runtime": lambda v, w, r: _positive_int(v[-1], w),
    "size": lambda v, w, r: parse_size(v[-1], w),
    "repeat": lambda v, w, r: _positive_int(v[-1], w),
    "sweep": lambda v, w, r: parse_sweep(v, w, OVERRIDABLE_OPTIONS),
    "target": lambda v, w, r: parse_targets(v, w),
    "allow_memory_target": lambda v, w, r: parse_bool(v[-1], w),
    "lint_strict": lambda v, w, r: parse_bool(v[-1], w),
    "hosts": lambda v, w, r: tuple(part for value in v for part in _split(value)),
    "store": lambda v, w, r: v[-1],
    "thresholds": lambda v, w, r: _path(v[-1], r),
    "label": lambda v, w, r: parse_labels(v, w),
    "keep": lambda v, w, r: parse_bool(v[-1], w),
    "json": lambda v, w, r: _path(v[-1], r),
    "binary": lambda v, w, r: v[-1],
    "baseline": lambda v, w, r: parse_baseline(v[-1], w),
    "baseline_window": lambda v, w, r: _positive_int(v[-1], w),
    "baseline_label": lambda v, w, r: parse_labels(v, w),
    "confirm": lambda v, w, r: _non_negative_int(v[-1], w),
    "until_stable": lambda v, w, r: _non_negative_int(v[-1], w),
    "max_cv": lambda v, w, r: _positive_float(v[-1], w),
    "prefill": lambda v, w, r: parse_bool(v[-1], w),
    "read_ceiling": lambda v, w, r: _positive_float(v[-1], w),
    "read_probe": lambda v, w, r: parse_bool(v[-1], w),
    "timeline": lambda v, w, r: parse_bool(v[-1], w),
    "distribution_gate": lambda v, w, r: parse_bool(v[-1], w),
    "fault": lambda v, w, r: tuple(v),
    "bmf": lambda v, w, r: _path(v[-1], r),
    "columns": lambda v, w, r: parse_names(v[-1], w, SUMMARY_COLUMNS),
    "sort": lambda v, w, r: parse_choice(v[-1], w, SUMMARY_SORTS),
    "group_by": lambda v, w, r: parse_names(v[-1], w, SUMMARY_GROUPS),
    "sandbox": lambda v, w, r: parse_choice(v[-1], w, SANDBOX_MODES),
    "allow_engines": lambda v, w, r: allowed_engines(_split(v[-1]), w),
    "env": lambda v, w, r: parse_variable_names(v, w),
    "caps": lambda v, w, r: parse_caps(v, w),
    "github_benchmark": lambda v, w, r: _path(v[-1], r),
    "namespace": lambda v, w, r: check_dns_label(v[-1], f"{w}: namespace"),
    "storageclass": lambda v, w, r: parse_storage_classes(v[-1], w),
    "image": lambda v, w, r: v[-1],
    "kubeconfig": lambda v, w, r: _path(v[-1], r),
    "context": lambda v, w, r: v[-1],
    "pvc_size": lambda v, w, r: check_quantity(v[-1], f"{w}: PVC size"),
    "requests": lambda v, w, r: parse_resources(v[-1], w),
    "limits": lambda v, w, r: parse_resources(v[-1], w),
    "ready_timeout": lambda v, w, r: _positive_int(v[-1], w),
    "volume_mode": lambda v, w, r: k8s.parse_choice(v[-1], w, k8s.VOLUME_MODES),
    "access_mode": lambda v, w, r: k8s.parse_choice(v[-1], w, k8s.ACCESS_MODES),
    "existing_pvc": lambda v, w, r: k8s.parse_existing_pvcs(v[-1], w),
    "existing_namespace": lambda v, w, r: parse_bool(v[-1], w),
    "node_selector": lambda v, w, r: k8s.parse_node_selector(v[-1], w),
    "tolerations": lambda v, w, r: k8s.parse_tolerations(v, w),
    "spread": lambda v, w, r: k8s.parse_spread(v[-1], w),
    "priority_class": lambda v, w, r: check_dns_subdomain(v[-1], f"{w}: priority class"),
    "fs_group": lambda v, w, r: k8s.parse_id(v[-1], w),
    "run_as_user": lambda v, w, r: k8s.parse_id(v[-1], w),
    "pod_patch": lambda v, w, r: load_pod_patch(_path(v[-1], r), w),
}
# Settings field names where they differ from the option name (plural for lists).
_FIELD = {
    "target": "targets",
    "label": "labels",
    "binary": "fio_binary",
    "baseline_label": "baseline_labels",
    "storageclass": "storageclasses",
    "fault": "faults",
    "existing_pvc": "existing_pvcs",
    "env": "env_vars",
}


def _raw_values(option: OptionSpec, raw: Any) -> list[str] | None:
    """Normalise a raw value from any source to a list of strings; None when unset."""
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    if isinstance(raw, list | tuple):
        values = [str(item) for item in raw]
        if not option.repeatable:
            # A list for a single-valued option (e.g. suite workers=[1, 2, 4]) is a comma list.
            values = [",".join(values)]
    else:
        values = [str(raw)]
    if option.repeatable:
        # From the environment and ini files a repeatable option is a comma list.
        values = [
            part.strip()
            for value in values
            for line in value.splitlines()
            for part in line.split(option.separator)
            if part.strip()
        ]
    return values or None


def resolve(
    *,
    rootdir: Path,
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, Any],
    suite: Mapping[str, Any] | None = None,
    ini_source: str = "ini",
) -> Settings:
    """Resolve every option once. ``cli``/``ini``/``suite`` are keyed by option name."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers = (
        ("cli", cli),
        ("env", env),
        ("ini", ini),
        ("suite", suite or {}),
    )
    for option in OPTIONS:
        for layer, mapping in layers:
            key = option.env if layer == "env" else option.name
            raw = _raw_values(option, mapping.get(key))
            if raw is None:
                continue
            where = {
                "cli": option.cli,
                "env": option.env,
                "ini": f"{ini_source} {option.ini}",
                "suite": f"suite default {option.name}",
            }[layer]
            values[_FIELD.get(option.name, option.name)] = _CONVERTERS[option.name](
                raw, where, rootdir
            )
            sources[_FIELD.get(option.name, option.name)] = where
            break
    return Settings(rootdir=rootdir, sources=sources, **values)
