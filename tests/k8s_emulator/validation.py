"""What a real API server refuses: every object sent is checked against the Kubernetes
schemas (kubernetes-validate, strict), as an API server does with fieldValidation=Strict.

An unknown field is a 400 BadRequest "strict decoding error: unknown field" (the
decoder's answer); any other schema violation (a wrong type, a missing required field,
a value outside an enum) a 422 Invalid naming the field path, as the API's validation
does. The schema version is the newest kubernetes-validate ships, and the emulator
reports that version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError, latest_version

from .api import ApiStatus, Resource

SCHEMA_VERSION = latest_version()
_UNEXPECTED = re.compile(r"'([^']+)'")


def field_path(parts: Iterable[Any]) -> str:
    """spec.template.spec.containers[0].image, as the API server writes paths."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check(resource: Resource, obj: dict[str, Any]) -> None:
    """Refuse ``obj`` (about to be stored as ``resource``) like a strict API server."""
    body = {"apiVersion": resource.group_version, "kind": resource.kind, **obj}
    name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get(
        "generateName", ""
    )
    try:
        kubernetes_validate.validate(body, SCHEMA_VERSION, strict=True)
    except SchemaNotFoundError as err:
        raise AssertionError(f"emulator: no schema for {resource.kind}: {err.message}") from err
    except ValidationError as err:
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            fields = _UNEXPECTED.findall(err.message.split("(", 1)[-1])
            unknown = ", ".join(f'unknown field "{field_path([*path, f])}"' for f in fields)
            raise ApiStatus(
                400,
                "BadRequest",
                f'{resource.kind} in version "{resource.version}" cannot be handled as a '
                f"{resource.kind}: strict decoding error: {unknown}",
            ) from err
        where = field_path(path) or "<root>"
        raise ApiStatus(
            422,
            "Invalid",
            f'{resource.kind} "{name}" is invalid: {where}: Invalid value: {err.message}',
            {"name": name, "kind": resource.kind},
        ) from err
