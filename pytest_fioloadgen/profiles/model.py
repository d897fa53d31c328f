"""fio job profiles: read job files the way fio does, override, render, hash.

A profile is a parsed fio job file. Parsing follows fio's own ini parser (init.c
``__parse_jobs_ini``) so that what we check is what fio will run:

* a line whose first non-blank character is ``;`` or ``#`` is a comment, and fio also cuts
  every line at its first ``;`` and then at its first ``#`` (trailing comments; neither
  character can appear in a value);
* a section is global when its name *starts with* ``global`` (``strncmp(name, "global", 6)``);
* ``include FILE`` is only accepted inside a section, pulls the file's options into that
  section, and the included file may not open sections of its own;
* ``${VAR}`` is replaced by the environment variable, an undefined one by the empty string,
  but only for the variables the user named (``--fio-env VAR``): any other reference is
  refused, so no environment variable reaches a profile, a record or a worker unless the
  user said so. fio's keywords (``$ncpus``, ``$pagesize``, ``$mb_memory``) are left for fio
  (the policy refuses the ones fio would evaluate with ``sh`` and ``bc``).

The harness never hands fio the original file: it renders the parsed profile (includes
inlined, variables substituted, comments dropped), so the text that runs on every worker is
exactly the text that was checked. What is stored and hashed keeps each ``${VAR}`` as it
was written (``stored_text``): a variable's value never reaches a record.

A profile file must be a regular file inside its directory (a symbolic link out of it is
refused, as ``include`` is), of at most MAX_PROFILE_BYTES; errors quote at most a short,
escaped excerpt of it (``excerpt``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..exceptions import ProfileError
from .fio_options import canonical
from .fio_values import substituted, time_s

__all__ = [
    "INLINE_SOURCE",
    "MAX_PROFILE_BYTES",
    "OVERRIDABLE_OPTIONS",
    "Option",
    "Profile",
    "Section",
    "allowed_variables",
    "discover_profiles",
    "excerpt",
    "load_profile",
    "parse_profile",
    "read_profile_text",
    "scrubbed",
    "select_profiles",
    "shipped_profiles_dir",
    "shown",
]

INLINE_SOURCE = "<inline>"
#: Job files are text of a few KB: a larger file is a mistake (or not a job file at all).
MAX_PROFILE_BYTES = 1024 * 1024
#: How much of a profile's text an error message quotes.
EXCERPT_CHARS = 40

# The order is also the order overrides are applied in, so the same overrides always
# render (and hash) the same whatever order the caller passed them in.
OVERRIDABLE_OPTIONS = (
    "runtime",
    "size",
    "bs",
    "iodepth",
    "numjobs",
    "rw",
    "rwmixread",
    "ioengine",
    "direct",
    # The latency-SLA search (sla.py) steps it; a sweep axis too.
    "rate_iops",
)

# Everything an override replaces, in every section: a job's own `blocksize=` or `bssplit=`
# would otherwise silently win over the `bs=` the user asked for.
_OVERRIDE_FAMILIES: dict[str, frozenset[str]] = {
    "runtime": frozenset({"runtime", "timeout"}),
    "size": frozenset({"size"}),
    "bs": frozenset({"bs", "blocksize", "bsrange", "blocksize_range", "bssplit"}),
    "iodepth": frozenset({"iodepth"}),
    "numjobs": frozenset({"numjobs"}),
    "rw": frozenset({"rw", "readwrite"}),
    "rwmixread": frozenset({"rwmixread", "rwmixwrite"}),
    "ioengine": frozenset({"ioengine"}),
    "direct": frozenset({"direct", "buffered"}),
    "rate_iops": frozenset({"rate_iops"}),
}

#: Options that say which files a job uses; a raw-block job uses the device instead.
_FILE_NAMING_OPTIONS = frozenset(
    {"filename", "filename_format", "directory", "opendir", "nrfiles", "unique_filename"}
)

_READ_ONLY_RW = frozenset({"read", "randread"})
_WRITE_ONLY_RW = frozenset({"write", "randwrite", "trim", "randtrim", "trimwrite"})
# Options that would make a prefill stop early, skip data or write something else.
_NOT_FOR_LAYOUT = frozenset(
    {"time_based", "runtime", "ramp_time", "startdelay", "iodepth", "thinktime"}
    | {"rate", "rate_iops", "rate_min", "rate_iops_min", "rate_process", "rwmixread"}
)
_NOT_FOR_PREFILL = frozenset(
    {
        "time_based",
        "runtime",
        "ramp_time",
        "startdelay",
        "rate",
        "rate_iops",
        "rate_min",
        "rate_iops_min",
        "rate_process",
        "rwmixread",
        "rwmixwrite",
        "number_ios",
        "io_size",
        "loops",
        "thinktime",
        "thinktime_blocks",
        "thinktime_spin",
        "verify",
        "do_verify",
        "percentage_random",
        "random_distribution",
        "zonemode",
        "zonesize",
        "zonerange",
        "zoneskip",
        "bsrange",
        "bssplit",
        "offset_increment",
    }
)

# fio reads these characters as the start of a comment wherever they appear on a line.
_UNREPRESENTABLE = (";", "#", "\n", "\r")

# fio substitutes ``${NAME}`` with at least one character of name, up to the first '}'.
_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short quotation of profile text for a one-line message: at most ``limit``
    characters, control characters and terminal escapes escaped (``repr``), and ``...``
    when cut. A profile can be any file; an error must never print it raw."""
    quoted = repr(text[:limit])
    return f"{quoted}..." if len(text) > limit else quoted


def shown(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Profile text as a message shows it: as written when it is short, printable and
    unquoted, else as an excerpt."""
    if len(text) <= limit and text.isprintable() and not any(q in text for q in "'\"\\"):
        return text
    return excerpt(text, limit)


def allowed_variables(names: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a profile may name with ``${VAR}``: the ones the user allowed, with
    their values from ``environ`` (an unset one is the empty string, as fio makes it)."""
    return {name: environ.get(name, "") for name in names}


#: Where fio's json+ output echoes a job's option values.
_ECHO_KEYS = frozenset({"global options", "job options", "desc"})


def scrubbed(value: Any, variables: Sequence[tuple[str, str]]) -> Any:
    """``value`` with every allowed variable's value put back as ``${VAR}``: a string or
    a sequence of strings (an error, notes) throughout; a raw fio document where fio
    echoes the job's options (``global options``, ``job options``, ``desc``)."""
    pairs = sorted(((name, text) for name, text in variables if text), key=lambda p: -len(p[1]))
    if not pairs:
        return value

    def text_of(text: str) -> str:
        for name, secret in pairs:
            text = text.replace(secret, f"${{{name}}}")
        return text

    def walk(node: Any, echoed: bool) -> Any:
        if isinstance(node, str):
            return text_of(node) if echoed else node
        if isinstance(node, Mapping):
            return {key: walk(item, echoed or key in _ECHO_KEYS) for key, item in node.items()}
        if isinstance(node, list | tuple):
            return type(node)(walk(item, echoed) for item in node)
        return node

    if isinstance(value, str):
        return text_of(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return type(value)(text_of(item) for item in value)
    return walk(value, False)


def _canonical(key: str) -> str:
    # fio's aliases (`timeout` for runtime, `iomem` for mem): without them `timeout=10`
    # would escape a runtime override.
    return canonical(key)


@dataclass(frozen=True, repr=False)
class Option:
    """One ``key=value`` or bare ``key`` line of a job file.

    ``line`` (1-based) and ``origin`` (the included file it came from, None for the profile's
    own file) say where it was written; they are provenance, not content, so two options
    with the same key and value are equal wherever they were written. Options the harness
    adds carry line 0.
    """

    key: str
    value: str | None
    line: int = field(compare=False)
    origin: str | None = field(default=None, compare=False)
    #: The line as written when a ``${VAR}`` was substituted in it (what is stored).
    template: str | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        # As written: a variable's value must not reach a log or an assertion message.
        return f"Option({self.stored()!r}, line={self.line}, origin={self.origin!r})"

    def render(self) -> str:
        """The line fio gets (variables substituted)."""
        return self.key if self.value is None else f"{self.key}={self.value}"

    def stored(self) -> str:
        """The line as stored and shown: ``${VAR}`` as written, never its value."""
        return self.template if self.template is not None else self.render()

    @property
    def shown(self) -> str:
        """The line for a message: as written (``${VAR}``, not its value), cut short and
        escaped when it needs to be (see shown)."""
        return shown(self.stored())

    @property
    def where(self) -> str:
        if self.line == 0:
            return "(set by the harness)"
        if self.origin is not None:
            return f"line {self.line} of included '{self.origin}'"
        return f"line {self.line}"


@dataclass(frozen=True)
class Section:
    """A ``[name]`` section and its options, in file order."""

    name: str
    options: tuple[Option, ...]
    line: int = field(compare=False)

    @property
    def is_global(self) -> bool:
        # fio compares only the first six characters: [global-x] is a global section too.
        return self.name.startswith("global")

    def get(self, key: str) -> str | None:
        """Value of the last ``key`` (or an alias of it), like fio; None if absent or bare."""
        wanted = _canonical(key)
        for option in reversed(self.options):
            if _canonical(option.key) == wanted:
                return option.value
        return None

    def has(self, key: str) -> bool:
        """Whether ``key`` (or an alias of it) is set, bare options included."""
        wanted = _canonical(key)
        return any(_canonical(option.key) == wanted for option in self.options)

    def render(self, *, stored: bool = False) -> str:
        lines = (option.stored() if stored else option.render() for option in self.options)
        return "\n".join([f"[{self.name}]", *lines])


@dataclass(frozen=True)
class Profile:
    """A parsed fio job file."""

    name: str
    source: str
    description: str
    sections: tuple[Section, ...]
    notes: tuple[str, ...] = ()
    #: The allowed variables the profile names, with their values: what the harness
    #: scrubs from everything it stores (never shown, never compared).
    variables: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def label(self) -> str:
        """How errors name the profile: its file name, or its name when it has no file."""
        return self.name if self.source == INLINE_SOURCE else Path(self.source).name

    def render(self) -> str:
        """Canonical job file text as fio gets it: sections and options in order, comments
        dropped, variables substituted."""
        if not self.sections:
            return ""
        return "\n\n".join(section.render() for section in self.sections) + "\n"

    def stored_text(self) -> str:
        """The canonical text as stored with a run: like render(), but every ``${VAR}``
        kept as written, so no variable's value reaches a record."""
        if not self.sections:
            return ""
        return "\n\n".join(section.render(stored=True) for section in self.sections) + "\n"

    @property
    def content_hash(self) -> str:
        """The hash of the stored text: a record's hash can be checked against its text,
        and it carries nothing of a variable's value (two values of one ``${VAR}`` share a
        history; measure those as overrides or sweeps)."""
        return hashlib.sha256(self.stored_text().encode("utf-8")).hexdigest()

    def jobs(self) -> tuple[Section, ...]:
        return tuple(section for section in self.sections if not section.is_global)

    def options(self) -> tuple[Option, ...]:
        """Every option of every section, in file order."""
        return tuple(option for section in self.sections for option in section.options)

    def with_overrides(self, **overrides: str | int | None) -> Profile:
        """Apply ``runtime``, ``size``, ``bs``, ``iodepth``, ``numjobs``, ``rw``,
        ``rwmixread`` or ``ioengine`` to every job.

        The value goes into the first section, a ``[global]`` one (created at the top when
        the profile does not start with one, since a later global section would miss the
        jobs before it), and the same option is removed from every other section, so no job
        keeps its own value. None values are ignored; everything else is left as it was.
        """
        unknown = sorted(set(overrides) - set(OVERRIDABLE_OPTIONS))
        if unknown:
            raise ProfileError(
                f"profile '{self.label}': cannot override {', '.join(unknown)}"
                f" (allowed: {', '.join(OVERRIDABLE_OPTIONS)})"
            )
        profile = self
        for key in OVERRIDABLE_OPTIONS:
            value = overrides.get(key)
            if value is None:
                continue
            text = _override_text(self.label, key, value)
            profile = profile._with_global_option(
                key, text, _OVERRIDE_FAMILIES[key], f"{key}={text} (override)"
            )
        return profile

    def without_directory(self) -> Profile:
        """Drop every ``directory=`` option: the backend decides where each worker writes."""
        notes = list(self.notes)
        sections = []
        for section in self.sections:
            kept = []
            for option in section.options:
                if _canonical(option.key) == "directory":
                    where = option.where if option.line == 0 else f"({option.where})"
                    notes.append(
                        f"{option.render()} {where} removed: the backend sets each worker's"
                        " directory"
                    )
                else:
                    kept.append(option)
            sections.append(replace(section, options=tuple(kept)))
        if len(notes) == len(self.notes):
            return self
        return replace(self, sections=tuple(sections), notes=tuple(notes))

    def with_directory(self, path: str) -> Profile:
        """Run every job in ``path``: any ``directory=`` is replaced by one in ``[global]``.

        fio resolves a few paths against the fio server's working directory rather than
        ``directory=`` (write_iolog, opendir, a mem=mmap:FILE file, verify state and verify
        dumps). When the job's directory is not the server's working directory (the static
        backend's targets), those are rebased onto ``path`` and the verify files, which
        cannot be moved, are turned off, so nothing lands in the server's cwd.
        """
        if not path or any(char in path for char in _UNREPRESENTABLE):
            raise ProfileError(
                f"profile '{self.label}': directory {path!r} cannot be written in a fio job"
                " file (empty, or contains ';', '#' or a line break)"
            )
        # fio splits directory= on ':' (several directories); a literal colon is escaped.
        escaped = path.replace(":", "\\:")
        profile = self.without_directory()._rebased(path.rstrip("/"))
        return profile._with_global_option(
            "directory",
            escaped,
            frozenset({"directory"}),
            f"directory={escaped} (set by the harness)",
        )

    def _rebased(self, base: str) -> Profile:
        notes = list(self.notes)
        sections = []
        for section in self.sections:
            kept = []
            for option in section.options:
                rebased = _rebased_option(option, base)
                if rebased is not option:
                    notes.append(
                        f"{option.render()} ({option.where}) became {rebased.render()}: fio"
                        " resolves it against the server's working directory, not the target"
                    )
                kept.append(rebased)
            sections.append(replace(section, options=tuple(kept)))
        profile = replace(self, sections=tuple(sections), notes=tuple(notes))
        verifies = any(
            (options.get("verify") or "0").strip() not in ("0", "none")
            for _section, options in profile.effective_job_options()
        )
        if verifies:
            for key in ("verify_state_save", "verify_dump"):
                profile = profile._with_global_option(
                    key,
                    "0",
                    frozenset({key}),
                    f"{key}=0 (set by the harness: fio writes it into the server's working"
                    " directory, outside the target)",
                )
        return profile

    def with_device(self, path: str) -> Profile:
        """Run every job on the block device ``path`` (a raw-block worker's one volume):
        every option that names files (filename, filename_format, directory, opendir,
        nrfiles) is replaced by ``filename=path`` in ``[global]``."""
        if not path.startswith("/dev/") or any(char in path for char in (*_UNREPRESENTABLE, ":")):
            raise ProfileError(
                f"profile '{self.label}': device {path!r} is not a /dev path a fio job file can"
                " name"
            )
        notes = list(self.notes)
        sections = []
        for section in self.sections:
            kept = []
            for option in section.options:
                if _canonical(option.key) in _FILE_NAMING_OPTIONS:
                    notes.append(
                        f"{option.render()} ({option.where}) removed: the job runs on the"
                        f" worker's block device {path}"
                    )
                else:
                    kept.append(option)
            sections.append(replace(section, options=tuple(kept)))
        profile = replace(self, sections=tuple(sections), notes=tuple(notes))
        return profile._with_global_option(
            "filename", path, frozenset({"filename"}), f"filename={path} (set by the harness)"
        )

    def effective_job_options(self) -> list[tuple[Section, dict[str, str | None]]]:
        """Each job with the options fio applies to it (global sections above it, then its
        own), keyed by canonical option name."""
        inherited: dict[str, str | None] = {}
        jobs: list[tuple[Section, dict[str, str | None]]] = []
        for section in self.sections:
            if section.is_global:
                inherited.update((_canonical(o.key), o.value) for o in section.options)
                continue
            effective = dict(inherited)
            effective.update((_canonical(o.key), o.value) for o in section.options)
            jobs.append((section, effective))
        return jobs

    @property
    def is_read_only(self) -> bool:
        """Whether every job only reads (fio's default rw is a sequential read)."""
        return all(
            (options.get("rw") or "read").split(":")[0] in _READ_ONLY_RW
            for _section, options in self.effective_job_options()
        )

    @property
    def reads(self) -> bool:
        """Whether any job reads (a plain or mixed read; fio's default rw is a read)."""
        return any(
            (options.get("rw") or "read").split(":")[0] not in _WRITE_ONLY_RW
            for _section, options in self.effective_job_options()
        )

    @property
    def reads_buffered(self) -> bool:
        """Whether any job reads through the page cache: fio reads buffered unless
        ``direct`` is set or its inverse ``buffered`` cleared, the one given last winning
        (globals first, then the job's own lines)."""
        direct, rw = False, "read"  # fio's defaults
        for section in self.sections:
            job_direct = _direct_after(section.options, direct)
            job_rw = section.get("rw") or rw
            if section.is_global:
                direct, rw = job_direct, job_rw
            elif job_rw.split(":")[0] not in _WRITE_ONLY_RW and not job_direct:
                return True
        return False

    @property
    def is_sequential_read(self) -> bool:
        """Whether every job is a plain sequential read: the session's read ceiling."""
        return all(
            (options.get("rw") or "read").split(":")[0] in ("read",)
            for _section, options in self.effective_job_options()
        )

    def as_prefill(self) -> Profile:
        """A job that writes each read job's files once, completely, in 1 MiB blocks.

        fio names files after the job (``jobname.jobnum.filenum``), so keeping the sections
        and the options that shape the files (size, nrfiles, filename, numjobs...) makes the
        later read profile find exactly these files. Everything that would stop the write
        early or change what is written is dropped.
        """
        sections = []
        for section in self.sections:
            kept = tuple(o for o in section.options if _canonical(o.key) not in _NOT_FOR_PREFILL)
            sections.append(replace(section, options=kept))
        prefill = replace(self, name=f"{self.name}-prefill", sections=tuple(sections), notes=())
        return prefill.with_overrides(rw="write", bs="1m")

    def phases(self) -> list[list[dict[str, str | None]]]:
        """The jobs' effective options (keyword-substituted values, canonical keys) grouped
        by the phases fio runs them in: jobs run at the same time except across a
        ``stonewall`` (or ``wait_for``), which starts a new phase."""
        phases: list[list[dict[str, str | None]]] = []
        for _section, options in self.effective_job_options():
            effective = {
                key: None if value is None else substituted(value) for key, value in options.items()
            }
            if not phases or _is_set(effective, "stonewall") or "wait_for" in effective:
                phases.append([effective])
            else:
                phases[-1].append(effective)
        return phases

    def as_layout(self) -> Profile:
        """The profile with ``create_only=1`` on every job: fio lays out the files the
        jobs would use (writing what reads need) and runs no I/O. Options that shape no
        file (timing, rates, queue depth) are dropped, so every sweep point of a profile
        shares one layout."""
        sections = []
        for section in self.sections:
            kept = tuple(o for o in section.options if _canonical(o.key) not in _NOT_FOR_LAYOUT)
            if not section.is_global:
                kept = (*kept, Option("create_only", "1", 0))
            sections.append(replace(section, options=kept))
        return replace(self, name=f"{self.name}-layout", sections=tuple(sections), notes=())

    @property
    def ramp_time_s(self) -> float:
        """The longest ``ramp_time`` of its jobs (seconds): fio measures nothing before."""
        ramps = [
            _time_of(options, "ramp_time")
            for phase in self.phases()
            for options in phase
            if "ramp_time" in options
        ]
        return max(ramps, default=0.0)

    @property
    def expected_runtime_s(self) -> float:
        """Seconds the profile should take, or 0.0 when that is unknown.

        The sum over the phases (see phases) of the longest ``startdelay + ramp_time +
        runtime`` in each. A job without a runtime runs until its size is done, which we
        cannot know: 0.0 then.
        """
        total = 0.0
        for phase in self.phases():
            durations = [_job_duration_s(options) for options in phase]
            if any(duration is None for duration in durations):
                return 0.0
            total += max(duration for duration in durations if duration is not None)
        return total

    @property
    def time_bound_s(self) -> float:
        """The time the profile asks fio for at least: over the phases, the longest
        ``startdelay + ramp_time + runtime`` (each counted when set), summed. What the
        time cap bounds (a size-bound job counts its delay and ramp)."""
        total = 0.0
        for phase in self.phases():
            total += max(
                sum(_time_of(options, key) for key in ("startdelay", "ramp_time", "runtime"))
                for options in phase
            )
        return total

    def _with_global_option(
        self, key: str, value: str, family: frozenset[str], note: str
    ) -> Profile:
        sections = list(self.sections)
        if not sections or not sections[0].is_global:
            sections.insert(0, Section("global", (), line=0))
        rebuilt = []
        for index, section in enumerate(sections):
            kept: list[Option] = []
            position: int | None = None
            for option in section.options:
                if option.key in family:
                    if position is None:
                        position = len(kept)
                    continue
                kept.append(option)
            if index == 0:
                # Take the place of the value it replaces, so the order stays recognisable.
                kept.insert(len(kept) if position is None else position, Option(key, value, 0))
            rebuilt.append(replace(section, options=tuple(kept)))
        return replace(self, sections=tuple(rebuilt), notes=(*self.notes, note))


#: Options whose relative paths fio resolves against its working directory (not directory=).
_SERVER_RELATIVE = frozenset({"write_iolog", "opendir"})


def _rebased_option(option: Option, base: str) -> Option:
    """The option with a path relative to the server's cwd rebased onto ``base`` (its
    stored form too: a ``${VAR}`` stays a reference)."""
    value = _rebased_value(_canonical(option.key), option.value, base)
    if value is None:
        return option
    template = option.template
    if template is not None:
        key, _sep, written = template.partition("=")
        template = f"{key}={_rebased_value(_canonical(option.key), written, base) or written}"
    return replace(option, value=value, template=template)


def _rebased_value(key: str, value: str | None, base: str) -> str | None:
    """``value`` rebased onto ``base``, None when it needs no rebasing."""
    if value is None:
        return None
    if key in _SERVER_RELATIVE and value.strip() and not value.strip().startswith("/"):
        return f"{base}/{value.strip()}"
    if key == "mem" and ":" in value:
        kind, _sep, path = value.partition(":")
        if path.strip() and not path.strip().startswith("/"):
            return f"{kind}:{base}/{path.strip()}"
    return None


def _override_text(label: str, key: str, value: str | int) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProfileError(f"profile '{label}': override {key}={value!r} must be a string or int")
    text = str(value).strip()
    if not text or any(char in text for char in _UNREPRESENTABLE):
        raise ProfileError(
            f"profile '{label}': override {key}={value!r} cannot be written in a fio job file"
            " (empty, or contains ';', '#' or a line break)"
        )
    return text


def _is_set(options: Mapping[str, str | None], key: str) -> bool:
    if key not in options:
        return False
    value = options[key]
    return value is None or value.strip() not in ("0", "false")


def _direct_after(options: Sequence[Option], direct: bool) -> bool:
    """Whether I/O is direct after ``options``, starting from ``direct``."""
    for option in options:
        key = _canonical(option.key)
        if key in ("direct", "buffered"):
            value = option.value
            truthy = value is None or value.strip().lower() not in ("0", "false")
            direct = truthy if key == "direct" else not truthy
    return direct


def _time_of(options: Mapping[str, str | None], key: str) -> float:
    """Seconds of a time option of a job, 0 when unset or unreadable (fio refuses those)."""
    text = options.get(key)
    if text is None:
        return 0.0
    return max(0.0, time_s(text, ranged=key == "startdelay") or 0.0)


def _job_duration_s(options: Mapping[str, str | None]) -> float | None:
    runtime_text = options.get("runtime")
    if runtime_text is None:
        return None
    runtime = time_s(runtime_text)
    # runtime=0 means "no limit" to fio.
    if runtime is None or runtime <= 0:
        return None
    return _time_of(options, "startdelay") + _time_of(options, "ramp_time") + runtime


# --------------------------------------------------------------------------------------
# Parsing


def _content(raw: str) -> str | None:
    """The meaningful part of a line as fio sees it, None for blank lines and comments."""
    text = raw.lstrip()
    if not text or text[0] in ";#":
        return None
    text = text.split(";", 1)[0].split("#", 1)[0].rstrip()
    return text or None


def _description(lines: Sequence[str]) -> str:
    """The leading comment block (up to the first blank or non-comment line), one line."""
    collected: list[str] = []
    for raw in lines:
        text = raw.strip()
        if not text:
            if collected:
                break
            continue
        if text[0] not in ";#":
            break
        words = text.lstrip(";#").strip()
        if words:
            collected.append(words)
    return " ".join(collected)


class _Parser:
    def __init__(
        self, label: str, include_root: Path | None, env: Mapping[str, str], own_file: Path | None
    ) -> None:
        self.label = label
        self.include_root = include_root
        self.env = env
        self.own_file = own_file
        #: The allowed variables the profile named, with their values.
        self.used: dict[str, str] = {}

    def error(self, where: str, message: str) -> ProfileError:
        return ProfileError(f"profile '{self.label}' {where}: {message}")

    def parse(self, lines: Sequence[str]) -> tuple[Section, ...]:
        sections: list[tuple[str, int, list[Option]]] = []
        stack = () if self.own_file is None else (self.own_file,)
        for number, raw in enumerate(lines, start=1):
            content = _content(raw)
            if content is None:
                continue
            where = f"line {number}"
            if content.startswith("["):
                sections.append((self.section_name(content, where), number, []))
                continue
            if not sections:
                raise self.error(
                    where,
                    f"{excerpt(content)} comes before any [section] (fio refuses options"
                    " outside a job section)",
                )
            options = sections[-1][2]
            if content.startswith("include"):
                options.extend(self.include(content, where, self.include_root, stack))
            else:
                options.append(self.option(content, number, None, where))
        return tuple(Section(name, tuple(options), line) for name, line, options in sections)

    def section_name(self, content: str, where: str) -> str:
        if len(content) < 3 or not content.endswith("]"):
            raise self.error(
                where, f"malformed section header {excerpt(content)} (expected [name])"
            )
        return content[1:-1]

    def option(self, content: str, number: int, origin: str | None, where: str) -> Option:
        named: list[str] = []

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.env:
                raise self.error(where, _not_allowed(name))
            named.append(name)
            return self.env[name]

        # fio substitutes over the whole line before splitting it at '='.
        text = _ENV_REFERENCE.sub(value_of, content)
        key, equals, value = text.partition("=")
        key = key.strip()
        if not key:
            raise self.error(where, f"option {excerpt(content)} has no name")
        template = None
        if named:
            written_key, _sep, written_value = content.partition("=")
            template = (
                f"{written_key.strip()}={written_value.strip()}" if equals else written_key.strip()
            )
            self.used.update((name, self.env[name]) for name in named)
        option = Option(key, value.strip() if equals else None, number, origin, template)
        if any(char in option.render() for char in _UNREPRESENTABLE):
            # Only a variable can bring these in (fio already cut the line at ';' and '#'),
            # and the rendered job file would be read differently from what was checked.
            raise self.error(
                where,
                f"option {option.shown}: an environment variable put ';', '#' or a line break"
                " into it",
            )
        return option

    def include(
        self, content: str, where: str, base: Path | None, stack: tuple[Path, ...]
    ) -> list[Option]:
        # fio takes everything after "include" and one separator as the file name.
        if len(content) < len("include ") or not content[len("include")].isspace():
            raise self.error(
                where, f"malformed include line {excerpt(content)} (expected: include FILE)"
            )
        written = content[len("include") + 1 :].strip()
        target = shown(written)
        if self.include_root is None or base is None:
            raise self.error(
                where, f"include {target} is not possible: the profile has no directory"
            )
        resolved = (base / written).resolve()
        if not resolved.is_relative_to(self.include_root):
            raise self.error(
                where, f"include {target} leaves the profile directory {self.include_root}"
            )
        if resolved in stack:
            chain = " -> ".join(self.relative(path) for path in (*stack, resolved))
            raise self.error(where, f"include {target} is an include cycle ({chain})")
        text = read_profile_text(
            resolved, self.include_root, label=f"profile '{self.label}' {where}: include {target}"
        )
        origin = self.relative(resolved)
        options: list[Option] = []
        for number, raw in enumerate(text.split("\n"), start=1):
            content_line = _content(raw)
            if content_line is None:
                continue
            inner = f"line {number} of included '{origin}'"
            if content_line.startswith("["):
                raise self.error(
                    inner, "an included file may not open sections (fio refuses them too)"
                )
            if content_line.startswith("include"):
                options.extend(
                    self.include(content_line, inner, resolved.parent, (*stack, resolved))
                )
            else:
                options.append(self.option(content_line, number, origin, inner))
        return options

    def relative(self, path: Path) -> str:
        if self.include_root is not None and path.is_relative_to(self.include_root):
            return path.relative_to(self.include_root).as_posix()
        return path.name


def _not_allowed(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name) is None:
        return f"${{...}} names {excerpt(name)}, which is not an environment variable's name"
    return (
        f"${{{name}}} names an environment variable you did not allow: if the profile may"
        f" read it, allow it with --fio-env {name} (ini fio_env, env FIO_ENV); its value is"
        " never stored"
    )


def parse_profile(
    text: str,
    *,
    name: str,
    source: str = INLINE_SOURCE,
    include_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Profile:
    """Parse job file text. ``include`` lines resolve against ``include_dir`` and may not
    leave it. ``env``: the variables ``${VAR}`` may name, with their values (see
    allowed_variables); None allows none. A reference to any other variable is refused."""
    label = name if source == INLINE_SOURCE else Path(source).name
    own_file = None if source == INLINE_SOURCE else Path(source).resolve()
    include_root = None if include_dir is None else Path(include_dir).resolve()
    parser = _Parser(label, include_root, {} if env is None else env, own_file)
    lines = text.split("\n")
    sections = parser.parse(lines)
    description = _description(lines)
    if not description:
        # As written: a ${VAR}'s value is no description to show or store.
        description = next(
            (
                o.stored().partition("=")[2].strip()
                for s in sections
                for o in s.options
                if o.key == "description" and o.value
            ),
            "",
        )
    return Profile(
        name=name,
        source=source,
        description=description,
        sections=sections,
        variables=tuple(sorted(parser.used.items())),
    )


def read_profile_text(
    path: Path | str, root: Path | None = None, *, label: str | None = None
) -> str:
    """The text of a job file that must be a regular file inside ``root`` (default: its
    own directory) once symbolic links are followed, of at most MAX_PROFILE_BYTES of
    UTF-8. ProfileError (starting with ``label``, naming the file, quoting none of it)
    otherwise."""
    path = Path(path)
    label = label or f"profile '{path.name}'"
    directory = Path(root if root is not None else path.parent)
    try:
        resolved = path.resolve(strict=True)
        inside = directory.resolve()
    except FileNotFoundError as err:
        raise ProfileError(f"{label}: no such file {path}") from err
    except (OSError, RuntimeError) as err:
        raise ProfileError(f"{label}: cannot resolve {path}: {err}") from err
    if not resolved.is_relative_to(inside):
        raise ProfileError(
            f"{label}: {path} is a symbolic link to {resolved}, outside the profiles directory"
            f" {inside}; profiles are regular files inside it"
        )
    try:
        mode = os.stat(resolved).st_mode
        if stat.S_ISDIR(mode):
            raise ProfileError(f"{label}: {path} is a directory")
        if not stat.S_ISREG(mode):
            raise ProfileError(
                f"{label}: {path} is not a regular file (a device, FIFO or socket); profiles"
                " are regular files"
            )
        with resolved.open("rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
    except OSError as err:
        raise ProfileError(f"{label}: cannot read {path}: {err.strerror or err}") from err
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"{label}: {path} is larger than {MAX_PROFILE_BYTES // 1024} KiB: not a job file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProfileError(
            f"{label}: {path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset"
            f" {err.start})"
        ) from err


def load_profile(
    path: Path | str, *, env: Mapping[str, str] | None = None, root: Path | None = None
) -> Profile:
    """Read (see read_profile_text: a regular file inside ``root``, default its own
    directory) and parse a job file; includes may only reach files under its directory."""
    path = Path(path)
    text = read_profile_text(path, root)
    return parse_profile(text, name=path.stem, source=str(path), include_dir=path.parent, env=env)


def discover_profiles(directory: Path) -> dict[str, Path]:
    """The ``*.fio`` files of ``directory`` (not recursive), by stem, sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ProfileError(f"profiles directory {directory} does not exist")
    found = {path.stem: path for path in directory.glob("*.fio") if path.is_file()}
    return dict(sorted(found.items()))


def shipped_profiles_dir() -> Path:
    """The profiles shipped with the project: the installed package, else the checkout."""
    try:
        installed = resources.files("pytest_fioloadgen.shipped_profiles")
    except ModuleNotFoundError:
        installed = None
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "profiles"


def select_profiles(
    directory: Path, spec: str | None, *, env: Mapping[str, str] | None = None
) -> list[Profile]:
    """Load the profiles ``spec`` names: comma-separated names or globs over the file stems
    (a ``.fio`` suffix is tolerated); None or empty selects them all. ``env``: see
    parse_profile."""
    available = discover_profiles(directory)
    tokens = [token.strip() for token in (spec or "").split(",") if token.strip()]
    if not tokens:
        return [load_profile(path, env=env, root=directory) for path in available.values()]
    chosen: set[str] = set()
    for token in tokens:
        pattern = token.removesuffix(".fio")
        if any(char in pattern for char in "*?["):
            matches = [stem for stem in available if fnmatch.fnmatchcase(stem, pattern)]
        else:
            matches = [pattern] if pattern in available else []
        if not matches:
            raise ProfileError(
                f"profile selection {token!r} matches no profile in {directory}"
                f" (available: {', '.join(available) or 'none'})"
            )
        chosen.update(matches)
    return [load_profile(available[stem], env=env, root=directory) for stem in sorted(chosen)]
