"""One frozen Settings object, resolved once: CLI > FIO_* environment > ini > suite > default.

Every option is declared once, as a field of Settings (the kubernetes backend's as a field
of KubernetesSettings, which Settings holds whole): its type, default, help and parser
together (options.option). OPTIONS is read from those fields; the pytest plugin derives
its command-line options and ini keys from it and the CLI reuses the parsers, so a name
can never mean different things in different places. Errors name the value and where it
came from (``--fio-workers``, ``FIO_WORKERS`` or ``ini fio_workers``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backends import BACKEND_NAMES
from .backends.kubernetes.settings import KubernetesSettings
from .backends.sandbox import SANDBOX_MODES
from .exceptions import ConfigError
from .numbers import human_bytes
from .options import (
    OptionSpec,
    non_negative_int,
    option,
    options_of,
    parse_bool,
    parse_choice,
    positive_float,
    positive_int,
    resolve_options,
    split_list,
)
from .profiles.caps import DEFAULT_CAPS, parse_caps
from .profiles.model import OVERRIDABLE_OPTIONS
from .profiles.policy import allowed_engines
from .store.base import BASELINE_NAME

# fio size syntax: a number with an optional k/m/g/t/p suffix (optionally 'i'/'b').
_SIZE = re.compile(r"^\d+(\.\d+)?([kmgtp]i?b?)?$|^\d+%$", re.IGNORECASE)
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
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


def parse_baseline(text: str, where: str) -> str:
    """auto, none, or the name of a pinned baseline."""
    value = text.strip()
    if value in ("auto", "none") or BASELINE_NAME.match(value):
        return value
    raise ConfigError(f"{where}: {text!r} is not auto, none or a baseline name")


def parse_names(text: str, where: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """A comma list of names, each one of ``known`` (in the order given, no repeats)."""
    names = tuple(dict.fromkeys(split_list(text)))
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
    counts = sorted({positive_int(part, where) for part in parts})
    return tuple(counts)


def parse_size(text: str, where: str) -> str:
    if not _SIZE.match(text.strip()):
        raise ConfigError(f"{where}: {text!r} is not a fio size (like 64m, 1g, 512k)")
    return text.strip()


def parse_backend(text: str, where: str) -> str:
    if text not in BACKEND_NAMES:
        raise ConfigError(
            f"{where}: unknown backend {text!r} (choose from {', '.join(BACKEND_NAMES)})"
        )
    return text


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
        for part in split_list(value):
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
    names = tuple(dict.fromkeys(part for value in values for part in split_list(value)))
    for name in names:
        if not _VARIABLE_NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not an environment variable name")
    return names


def _caps_help() -> str:
    """--fio-caps's help: each cap with its default (profiles.caps.DEFAULT_CAPS)."""
    caps = DEFAULT_CAPS
    memory = human_bytes(caps.memory) if caps.memory else "none"
    time = f"{caps.time_s:g} s" if caps.time_s else "none"
    margin = caps.disk_margin.describe() if caps.disk_margin else "none"
    return (
        f"raise (or lift with none) what one profile may take: numjobs (default "
        f"{caps.numjobs or 'none'}), memory (I/O buffers per worker, {memory}), time "
        f"(startdelay+ramp_time+runtime, {time}), disk_margin (free space a local target "
        f"keeps, {margin}); repeatable; also [caps] in the thresholds file"
    )


@dataclass(frozen=True)
class Settings:
    """Everything the plugin needs, resolved once per session: every field but
    ``rootdir``, ``kubernetes`` and ``sources`` is an option (see the module doc)."""

    rootdir: Path
    backend: str = option(
        "local", "where fio workers run", "NAME", choices=BACKEND_NAMES, parse=parse_backend
    )
    workers: tuple[int, ...] = option(
        (1,), "worker counts to run every case with, e.g. 1,2,4", "N,N", parse=parse_workers
    )
    profiles: str | None = option(
        None,
        "profiles to run: names or globs, comma separated",
        "NAME[,GLOB]",
        parse=lambda text, where: text or None,
        shown_default="all",
    )
    profiles_dir: Path | None = option(
        None,
        "directory of fio job files",
        "PATH",
        path=True,
        shown_default="the shipped profiles",
    )
    runtime: int | None = option(
        None, "override every profile's runtime, in seconds", "SECONDS", parse=positive_int
    )
    size: str | None = option(
        None, "override every profile's file size (fio syntax: 64m, 1g)", "SIZE", parse=parse_size
    )
    repeat: int = option(1, "run every case N times", "N", parse=positive_int)
    sweep: tuple[SweepAxis, ...] = option(
        (),
        "add a fio-option axis to the matrix, e.g. iodepth=1,4,16 or bs=4k,64k; repeatable "
        "(each point is a case with its own id and history)",
        "OPTION=V,V",
        repeatable=True,
        parse=lambda values, where: parse_sweep(values, where, OVERRIDABLE_OPTIONS),
    )
    targets: tuple[TargetSpec, ...] = option(
        (),
        "storage target [NAME=]DIR; repeat for several",
        "[NAME=]DIR",
        name="target",
        repeatable=True,
        parse=parse_targets,
        shown_default="on local, .fioloadgen/local in the rootdir",
    )
    allow_memory_target: bool = option(
        False,
        "run on a target that cannot measure a device (tmpfs, ramfs, an overlay on them, or "
        "a file system refusing O_DIRECT); recorded in every run and shown with its figures",
        flag=True,
        parse=parse_bool,
    )
    lint_strict: bool = option(
        False,
        "profile lint warnings are errors (for CI; see fioloadgen profile check)",
        flag=True,
        parse=parse_bool,
    )
    hosts: tuple[str, ...] = option(
        (),
        "existing fio servers for the static backend",
        "HOST[:PORT],...",
        parse=lambda text, where: tuple(split_list(text)),
    )
    store: str | None = option(
        None,
        "history store URI: path.db, sqlite:///path, or 'none'",
        "URI",
        shown_default=".fioloadgen/history.db",
    )
    thresholds: Path | None = option(
        None,
        "thresholds file",
        "PATH",
        path=True,
        shown_default="benchmarks/thresholds.toml when present",
    )
    labels: Mapping[str, str] = option(
        {},
        "label every run KEY=VALUE; repeatable",
        "KEY=VALUE",
        name="label",
        repeatable=True,
        parse=parse_labels,
    )
    keep: bool = option(
        False,
        "leave the environment (local: worker directories and data) in place",
        flag=True,
        parse=parse_bool,
    )
    json: Path | None = option(
        None, "write the session's results as JSON to PATH", "PATH", path=True
    )
    fio_binary: str = option("fio", "the fio executable", "PATH", name="binary")
    # -- regression gating against history ---------------------------------------------
    baseline: str = option(
        "auto",
        "compare with: auto (recent history of the same key), a pinned baseline NAME, or none",
        "NAME|auto|none",
        parse=parse_baseline,
    )
    baseline_window: int = option(
        20, "auto baseline: how many recent runs of the key", "N", parse=positive_int
    )
    baseline_labels: Mapping[str, str] = option(
        {},
        "auto baseline: only runs carrying KEY=VALUE; repeatable",
        "KEY=VALUE",
        name="baseline_label",
        repeatable=True,
        parse=parse_labels,
    )
    #: None: decided by the repeat count (see confirm_runs).
    confirm: int | None = option(
        None,
        "re-run a suspected regression up to K times before failing",
        "K",
        parse=non_negative_int,
        shown_default="1 when --fio-repeat is 1, else 0",
    )
    remeasure_skew: int = option(
        1,
        "measure a run again, up to K times, when its workers did not measure one window "
        "together (TL001 window skew and nothing else made it unstable); every run recorded",
        "K",
        parse=non_negative_int,
    )
    until_stable: int = option(
        0,
        "re-run a case whose repeats vary more than max_cv up to K more times, until "
        "they agree; needs --fio-repeat 2 or more",
        "K",
        parse=non_negative_int,
    )
    max_cv: float | None = option(
        None,
        "with --fio-repeat: the largest CV (percent) of every gated metric over a case's "
        "repeats before it is unstable",
        "PCT",
        parse=positive_float,
        shown_default="per metric family, or [gating] max_cv",
    )
    prefill: bool = option(
        False,
        "write each read profile's data set once before it runs",
        flag=True,
        parse=parse_bool,
    )
    read_ceiling: float | None = option(
        None,
        "read bandwidth (MiB/s) above which a buffered read is flagged as a likely cache hit",
        "MIB_S",
        parse=positive_float,
        shown_default="the session's sequential-read figure",
    )
    read_probe: bool = option(
        True,
        "before the first buffered read on a target and worker count, measure its "
        "direct-I/O sequential read bandwidth with a one-second probe: the ceiling above "
        "which a buffered read is flagged cache? (direct reads never are)",
        "on|off",
        parse=parse_bool,
    )
    #: --fio-fault specs as given (parsed by planning, which knows the registered faults).
    faults: tuple[str, ...] = option(
        (),
        "inject a fault into every case, NAME:key=value,... e.g. "
        "'throttle-target:iops=200,at=3s,for=3s' or 'pause-worker:worker=2,at=10s,for=3s'"
        " (at: seconds after the measurement starts); repeatable; in FIO_FAULT and ini "
        "fio_fault several are separated by ';' or lines; a marker's fault= replaces these",
        "SPEC",
        name="fault",
        repeatable=True,
        separator=";",
        parse=lambda values, where: tuple(values),
    )
    # Off by default: calibrated on this project's recorded runs it raises no false alarms
    # but detects no slow path there (the README's table says why).
    distribution_gate: bool = option(
        False,
        "gate on the whole latency distribution too: a slow path on a few per cent of the "
        "I/Os or a shift of every quantile, judged against the key's run-to-run variation",
        "on|off",
        parse=parse_bool,
    )
    timeline: bool = option(
        True,
        "keep every run's timeline: fio's histogram logs merged exactly across workers per "
        "interval (IOPS, p50/p90/p99/p99.9/max over time), checked for window skew, "
        "stragglers, imbalance and stalls",
        "on|off",
        parse=parse_bool,
    )
    bmf: Path | None = option(
        None, "write the session's results as Bencher Metric Format JSON to PATH", "PATH", path=True
    )
    # -- the session summary (like pytest-benchmark's --benchmark-columns/sort/group-by) ----
    columns: tuple[str, ...] = option(
        DEFAULT_SUMMARY_COLUMNS,
        f"summary columns, comma separated, from {','.join(SUMMARY_COLUMNS)}",
        "COL,...",
        parse=lambda text, where: parse_names(text, where, SUMMARY_COLUMNS),
    )
    sort: str = option(
        "name",
        f"sort the summary by one of {','.join(SUMMARY_SORTS)}",
        "COL",
        parse=lambda text, where: parse_choice(text, where, SUMMARY_SORTS),
    )
    group_by: tuple[str, ...] = option(
        (),
        f"one summary table per {'/'.join(SUMMARY_GROUPS)} (comma separated for combinations)",
        "KEY,...",
        parse=lambda text, where: parse_names(text, where, SUMMARY_GROUPS),
    )
    # -- confinement ---------------------------------------------------------------------
    sandbox: str = option(
        "auto",
        "confine the local fio servers and every fio client in a bubblewrap sandbox: auto "
        "(when bwrap can start, else say so once), bwrap (required) or none",
        "MODE",
        choices=SANDBOX_MODES,
        parse=lambda text, where: parse_choice(text, where, SANDBOX_MODES),
    )
    allow_engines: tuple[str, ...] = option(
        (),
        "ioengines you trust profiles to use beyond file I/O, e.g. rbd,nfs (network storage "
        "the profile names; never settable through the results server's API)",
        "ENGINE,...",
        parse=lambda text, where: allowed_engines(split_list(text), where),
    )
    #: Environment variables profiles may name as ${VAR} (--fio-env).
    env_vars: tuple[str, ...] = option(
        (),
        "an environment variable profiles may name as ${VAR}; repeatable (any other ${VAR} "
        "is refused; stored profiles keep ${VAR}, never its value)",
        "VAR",
        name="env",
        repeatable=True,
        parse=parse_variable_names,
    )
    #: Resource caps set by --fio-caps (key -> value, None: lifted); see profiles/caps.py.
    caps: Mapping[str, Any] = option(
        {}, _caps_help(), "KEY=VALUE,...", repeatable=True, parse=parse_caps
    )
    github_benchmark: Path | None = option(
        None,
        "write github-action-benchmark customBiggerIsBetter/customSmallerIsBetter JSON "
        "files into DIR",
        "DIR",
        path=True,
    )
    #: The kubernetes backend's options (--fio-namespace, --fio-storageclass, ...).
    kubernetes: KubernetesSettings = field(default_factory=KubernetesSettings)
    #: Where each value came from, by field, for messages ("--fio-workers", "FIO_WORKERS").
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
        """Where the value of a field (``workers``, ``volume_mode``...) came from."""
        return self.sources.get(name, "default")


#: The kubernetes backend's options, in Settings.kubernetes.
KUBERNETES_OPTIONS: tuple[OptionSpec, ...] = options_of(KubernetesSettings)
#: Every option, in the order of --help.
OPTIONS: tuple[OptionSpec, ...] = options_of(Settings) + KUBERNETES_OPTIONS
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}


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
    layers = {"cli": cli, "env": env, "ini": ini, "suite": suite or {}}
    values, sources = resolve_options(
        options_of(Settings), layers, rootdir=rootdir, ini_source=ini_source
    )
    kubernetes, kubernetes_sources = resolve_options(
        KUBERNETES_OPTIONS, layers, rootdir=rootdir, ini_source=ini_source
    )
    return Settings(
        rootdir=rootdir,
        kubernetes=KubernetesSettings(**kubernetes),
        sources={**sources, **kubernetes_sources},
        **values,
    )
