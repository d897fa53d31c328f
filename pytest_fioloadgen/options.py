"""How one setting is declared: once, on its dataclass field.

A field of ``Settings`` (or of the kubernetes backend's ``KubernetesSettings``) is
declared with ``option(default, help, ...)``: the field gives the setting its name, type
and default, the option its help, metavar and parser. ``options_of(cls)`` reads them back
as OptionSpecs: the pytest plugin derives its command-line options and ini keys from
them, ``settings.resolve`` parses every source with them, and the help text shows the
field's own default, so nothing about an option is written twice.

The small parsers every option table needs live here too (pytest-free, no imports of
the package beyond its exceptions): a value's ``where`` names the option and its source
("--fio-workers", "FIO_WORKERS", "ini fio_workers") in every error.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from .exceptions import ConfigError

T = TypeVar("T")

#: Parses one option's value: ``(value, where) -> parsed``. The value is the text of a
#: single-valued option (a Path relative to the rootdir for a path option), the list of
#: texts of a repeatable one.
Parser = Callable[[Any, str], Any]

_SPEC = "fioloadgen.option"


def as_given(value: Any, where: str) -> Any:
    """The value unparsed (a free-form text, or a path option's Path)."""
    return value


@dataclass(frozen=True)
class OptionSpec:
    """One setting: its option name, help, how to parse it, where it goes and its default.

    ``field`` is the attribute of the settings object that holds the value (``targets``
    for ``--fio-target``); ``default`` is that field's default, shown in the help unless
    ``shown_default`` says in words what an unset option means ("the shipped profiles").
    """

    name: str
    help: str
    parse: Parser = as_given
    metavar: str = "VALUE"
    repeatable: bool = False
    flag: bool = False
    choices: tuple[str, ...] | None = None
    #: What separates a repeatable option's values in the environment and ini files
    #: (a fault spec has commas of its own: faults are separated by ';' or lines).
    separator: str = ","
    #: The value is a path, relative to the rootdir (expanded, then parsed).
    path: bool = False
    shown_default: str | None = None
    field: str = ""
    default: Any = None

    @property
    def cli(self) -> str:
        return "--fio-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "fio_" + self.name

    @property
    def env(self) -> str:
        return "FIO_" + self.name.upper()

    @property
    def full_help(self) -> str:
        """The help with the default, taken from the field (flags have none to show)."""
        shown = self.shown_default
        if shown is None and not self.flag:
            shown = show_default(self.default)
        return f"{self.help} (default: {shown})" if shown else self.help

    def convert(self, values: list[str], where: str, rootdir: Path) -> Any:
        """The field's value from raw values (the last one wins unless repeatable)."""
        if self.repeatable:
            return self.parse(values, where)
        if self.path:
            return self.parse(resolve_path(values[-1], rootdir), where)
        return self.parse(values[-1], where)


def show_default(value: Any) -> str:
    """A default as a user would type it: on/off, a comma list, the value itself."""
    if value is None or value == () or value == {}:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    return str(value)


def option(
    default: T,
    help: str,
    metavar: str = "VALUE",
    *,
    parse: Parser = as_given,
    name: str | None = None,
    repeatable: bool = False,
    flag: bool = False,
    choices: tuple[str, ...] | None = None,
    separator: str = ",",
    path: bool = False,
    shown_default: str | None = None,
) -> T:
    """A settings field that is an option (see the module doc); ``name`` when the option
    is not named like its field (``target`` fills ``targets``)."""
    spec = OptionSpec(
        name=name or "",
        help=help,
        parse=parse,
        metavar=metavar,
        repeatable=repeatable,
        flag=flag,
        choices=choices,
        separator=separator,
        path=path,
        shown_default=shown_default,
        default=default,
    )
    metadata = {_SPEC: spec}
    if isinstance(default, dict):
        # A mapping default is built fresh for every settings object (dataclass rule).
        made: Any = dataclasses.field(
            default_factory=functools.partial(dict, default), metadata=metadata
        )
    else:
        made = dataclasses.field(default=default, metadata=metadata)
    return cast(T, made)


def options_of(cls: type) -> tuple[OptionSpec, ...]:
    """The OptionSpecs of a settings dataclass's option fields, in field order."""
    specs = []
    for item in dataclasses.fields(cls):
        spec = item.metadata.get(_SPEC)
        if isinstance(spec, OptionSpec):
            specs.append(dataclasses.replace(spec, name=spec.name or item.name, field=item.name))
    return tuple(specs)


def resolve_path(text: str, rootdir: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else rootdir / path


def resolve_options(
    options: tuple[OptionSpec, ...],
    layers: Mapping[str, Mapping[str, Any]],
    *,
    rootdir: Path,
    ini_source: str = "ini",
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each option's value from the first layer that sets it (``cli``, ``env``, ``ini``,
    ``suite``, in the mapping's order), keyed by field, and where each came from."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in options:
        for layer, mapping in layers.items():
            raw = raw_values(spec, mapping.get(spec.env if layer == "env" else spec.name))
            if raw is None:
                continue
            where = {
                "cli": spec.cli,
                "env": spec.env,
                "ini": f"{ini_source} {spec.ini}",
                "suite": f"suite default {spec.name}",
            }[layer]
            values[spec.field] = spec.convert(raw, where, rootdir)
            sources[spec.field] = where
            break
    return values, sources


def raw_values(spec: OptionSpec, raw: Any) -> list[str] | None:
    """Normalise a raw value from any source to a list of strings; None when unset."""
    if raw is None or raw == "" or raw == []:
        return None
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    if isinstance(raw, list | tuple):
        values = [str(item) for item in raw]
        if not spec.repeatable:
            # A list for a single-valued option (e.g. suite workers=[1, 2, 4]) is a comma list.
            values = [",".join(values)]
    else:
        values = [str(raw)]
    if spec.repeatable:
        # From the environment and ini files a repeatable option is a comma list.
        values = [
            part.strip()
            for value in values
            for line in value.splitlines()
            for part in line.split(spec.separator)
            if part.strip()
        ]
    return values or None


# -- the values most options take -------------------------------------------------------


def split_list(text: str | None) -> list[str]:
    """A comma list, its parts stripped, empty parts dropped (None: no parts)."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_choice(
    text: str, where: str, choices: tuple[str, ...], *, ignore_case: bool = False
) -> str:
    """One of ``choices``; ``ignore_case`` for values users type in any case (Block)."""
    value = text.strip().lower() if ignore_case else text.strip()
    if value not in choices:
        raise ConfigError(f"{where}: {text!r} is not one of {', '.join(choices)}")
    return value


def parse_bool(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{where}: {text!r} is not a boolean (use true or false)")


def _number(text: str, kind: Callable[[str], T], fallback: T) -> T:
    """``text`` as a number, or ``fallback`` (a value every caller refuses) when it is none."""
    try:
        return kind(text)
    except ValueError:
        return fallback


def positive_int(text: str, where: str) -> int:
    value = _number(text, int, 0)
    if value < 1:
        raise ConfigError(f"{where}: {text!r} is not a positive integer")
    return value


def non_negative_int(text: str, where: str) -> int:
    value = _number(text, int, -1)
    if value < 0:
        raise ConfigError(f"{where}: {text!r} is not a non-negative integer")
    return value


def positive_float(text: str, where: str) -> float:
    value = _number(text, float, 0.0)
    if not value > 0:
        raise ConfigError(f"{where}: {text!r} is not a positive number")
    return value
