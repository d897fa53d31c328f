"""Parsing the kubernetes backend's option values: names, quantities, volume, scheduling
and security shapes. Pure functions (no client); ``where`` names the option and its source
("--fio-tolerations", "FIO_TOLERATIONS", "ini fio_tolerations") in every error."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...exceptions import ConfigError
from ...options import parse_choice, split_list

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P|m)?$")
# A label key: an optional DNS-subdomain prefix and a name of up to 63 characters.
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_GLOB = re.compile(r"[*?\[]")

VOLUME_MODES = ("filesystem", "block")
ACCESS_MODES = ("rwo", "rwx")
SPREADS = ("hard", "soft", "none")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
DEFAULT_TOPOLOGY_KEY = "kubernetes.io/hostname"
MAX_ID = 2**31 - 1


def check_dns_label(value: str, what: str, *, max_length: int = 63) -> str:
    """A Kubernetes name component, or a ConfigError naming it."""
    if len(value) > max_length or not _DNS_LABEL.match(value):
        raise ConfigError(
            f"{what} {value!r} is not a valid Kubernetes name (lower-case letters, digits "
            f"and '-', at most {max_length} characters)"
        )
    return value


def check_dns_subdomain(value: str, what: str) -> str:
    """A name that may contain dots (storage classes), or a ConfigError naming it."""
    if len(value) > 253 or not all(_DNS_LABEL.match(part) for part in value.split(".")):
        raise ConfigError(
            f"{what} {value!r} is not a valid Kubernetes name (lower-case letters, digits, "
            "'-' and '.')"
        )
    return value


def check_quantity(value: str, what: str) -> str:
    if not _QUANTITY.match(value):
        raise ConfigError(f"{what} {value!r} is not a Kubernetes quantity (like 10Gi, 500m)")
    return value


def check_label_key(key: str, where: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if (slash and not prefix) or not _LABEL_NAME.match(name):
        raise ConfigError(f"{where}: {key!r} is not a Kubernetes label key")
    if prefix:
        check_dns_subdomain(prefix, f"{where}: label key prefix")
    return key


def parse_mode(text: str, where: str, modes: tuple[str, ...]) -> str:
    """A volume, access or spread mode, in any case (``Block`` is ``block``)."""
    return parse_choice(text, where, modes, ignore_case=True)


def parse_storage_classes(text: str, where: str) -> tuple[str, ...]:
    names = split_list(text)
    for name in names:
        check_dns_subdomain(name, f"{where}: storage class")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: a storage class is listed twice in {text!r}")
    return tuple(names)


def parse_resources(text: str, where: str) -> dict[str, str]:
    """``cpu=1,memory=1Gi`` -> {"cpu": "1", "memory": "1Gi"} (Kubernetes quantities)."""
    resources: dict[str, str] = {}
    for part in split_list(text):
        name, sep, quantity = part.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{where}: {part!r} is not RESOURCE=QUANTITY (like cpu=1)")
        resources[name.strip()] = check_quantity(quantity.strip(), f"{where}: {name.strip()}")
    return resources


def parse_node_selector(text: str, where: str) -> dict[str, str]:
    """``disk=ssd,zone=a`` -> {"disk": "ssd", "zone": "a"}."""
    selector: dict[str, str] = {}
    for part in split_list(text):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"{where}: {part!r} is not LABEL=VALUE (like disk=ssd)")
        key, value = key.strip(), value.strip()
        check_label_key(key, where)
        if not _LABEL_VALUE.match(value):
            raise ConfigError(f"{where}: {value!r} (for {key}) is not a Kubernetes label value")
        selector[key] = value
    return selector


def parse_tolerations(values: list[str], where: str) -> tuple[dict[str, str], ...]:
    """``KEY[=VALUE][:EFFECT]`` each (comma separated or repeated): Equal with a value,
    Exists without one; no effect tolerates every effect of the taint."""
    tolerations: list[dict[str, str]] = []
    for value in values:
        for part in split_list(value):
            body, colon, effect = part.partition(":")
            key, equals, taint_value = body.partition("=")
            key = key.strip()
            if not key:
                raise ConfigError(f"{where}: {part!r} is not KEY[=VALUE][:EFFECT]")
            check_label_key(key, where)
            toleration = {"key": key, "operator": "Equal" if equals else "Exists"}
            if equals:
                if not _LABEL_VALUE.match(taint_value.strip()):
                    raise ConfigError(f"{where}: {taint_value!r} is not a taint value")
                toleration["value"] = taint_value.strip()
            if colon:
                if effect.strip() not in EFFECTS:
                    raise ConfigError(
                        f"{where}: effect {effect!r} in {part!r} is not one of {', '.join(EFFECTS)}"
                    )
                toleration["effect"] = effect.strip()
            tolerations.append(toleration)
    return tuple(tolerations)


@dataclass(frozen=True)
class Spread:
    """How workers spread over a topology: hard (DoNotSchedule), soft, or not at all."""

    mode: str = "soft"
    topology_key: str = DEFAULT_TOPOLOGY_KEY

    def __str__(self) -> str:
        """As --fio-spread takes it (the topology key only when it is not nodes)."""
        if self.topology_key == DEFAULT_TOPOLOGY_KEY:
            return self.mode
        return f"{self.mode}:{self.topology_key}"


def parse_spread(text: str, where: str) -> Spread:
    """``hard``, ``soft``, ``none``, optionally ``:TOPOLOGY_KEY`` (default: nodes)."""
    mode, _colon, key = text.strip().partition(":")
    mode = parse_mode(mode, where, SPREADS)
    key = key.strip() or DEFAULT_TOPOLOGY_KEY
    check_label_key(key, f"{where}: topology key")
    return Spread(mode, key)


def parse_id(text: str, where: str) -> int:
    """A user or group id (0..2^31-1)."""
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_ID:
        raise ConfigError(f"{where}: {text!r} is not a user or group id (0..{MAX_ID})")
    return value


def parse_existing_pvcs(text: str, where: str) -> tuple[str, ...]:
    """Claim names, or name patterns (``bench-*``) matched against the namespace's PVCs."""
    names = split_list(text)
    if not names:
        raise ConfigError(f"{where}: no claim names in {text!r}")
    for name in names:
        if _GLOB.search(name):
            if not re.match(r"^[a-z0-9*?\[\]!.-]+$", name):
                raise ConfigError(f"{where}: {name!r} is not a claim name pattern")
        else:
            check_dns_subdomain(name, f"{where}: claim")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: a claim is listed twice in {text!r}")
    return tuple(names)


def is_pattern(name: str) -> bool:
    return bool(_GLOB.search(name))
