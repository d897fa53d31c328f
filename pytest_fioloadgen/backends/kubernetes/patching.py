"""The pod patch file (``--fio-pod-patch``): whatever the options do not model.

A JSON Patch (RFC 6902: a list of operations, applied with ``jsonpatch``) or a JSON merge
patch (RFC 7386: an object merged into the template) applied to the worker pod template
(``{"metadata": ..., "spec": ...}``) after every option has been rendered. Kubernetes'
own strategic merge (lists merged by key) is not offered: no Python library implements
it, and a merge patch that replaced a whole ``containers`` list would silently drop fio.
The file is JSON, or YAML when PyYAML is installed (it comes with the kubernetes client).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...exceptions import ConfigError

JSON_PATCH = "json-patch"
MERGE_PATCH = "merge-patch"
_OPS = {"add", "remove", "replace", "move", "copy", "test"}


@dataclass(frozen=True)
class PodPatch:
    """A parsed patch and where it came from (for messages)."""

    kind: str
    document: Any
    source: str

    def apply(self, template: dict[str, Any]) -> dict[str, Any]:
        """The patched copy of a pod template, or a ConfigError naming the file."""
        if self.kind == MERGE_PATCH:
            patched = merge_patch(template, self.document)
        else:
            try:
                import jsonpatch
            except ImportError as err:
                raise ConfigError(
                    f"{self.source}: a JSON Patch needs the jsonpatch package: "
                    "pip install 'pytest-fioloadgen[kubernetes]'"
                ) from err
            try:
                patched = jsonpatch.apply_patch(template, self.document)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
                raise ConfigError(
                    f"{self.source}: the JSON Patch does not apply to the worker pod "
                    f"template: {err}"
                ) from err
        if not isinstance(patched, dict) or not isinstance(patched.get("spec"), dict):
            raise ConfigError(f"{self.source}: the patched pod template has no spec")
        containers = patched["spec"].get("containers")
        if not isinstance(containers, list) or not any(
            isinstance(c, dict) and c.get("name") == "fio" for c in containers
        ):
            raise ConfigError(f"{self.source}: the patched pod template lost its 'fio' container")
        return patched


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _load(path: Path, where: str) -> Any:
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{where}: cannot read pod patch {path}: {err.strerror}") from err
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                f"{where}: pod patch {path} is not JSON ({json_error}); YAML needs PyYAML"
            ) from json_error
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            first = str(err).splitlines()[0]
            raise ConfigError(
                f"{where}: pod patch {path} is neither JSON nor YAML ({first})"
            ) from err


def load_pod_patch(path: Path, where: str) -> PodPatch:
    """Read and check a patch file: a list of RFC 6902 operations or an RFC 7386 object."""
    document = _load(path, where)
    source = f"pod patch {path} (from {where})"
    if isinstance(document, dict):
        return PodPatch(MERGE_PATCH, document, source)
    if not isinstance(document, list) or not document:
        raise ConfigError(
            f"{source}: expected a JSON Patch (a list of operations) or a merge patch (an "
            f"object), got {type(document).__name__}"
        )
    for index, operation in enumerate(document):
        if (
            not isinstance(operation, dict)
            or operation.get("op") not in _OPS
            or not isinstance(operation.get("path"), str)
        ):
            raise ConfigError(
                f"{source}: operation {index} is not an RFC 6902 operation "
                f"(op one of {', '.join(sorted(_OPS))}, and a path)"
            )
    return PodPatch(JSON_PATCH, document, source)
