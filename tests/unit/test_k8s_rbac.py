"""The shipped RBAC (backends/kubernetes/rbac.yaml) grants every API call the backend and
the results server's deploy make: the calls are read from the source, so a new call
without its rule fails here, not on a user's cluster."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *sorted((ROOT / "pytest_fioloadgen" / "backends" / "kubernetes").glob("*.py")),
    ROOT / "pytest_fioloadgen" / "backends" / "ceph.py",
    ROOT / "server" / "k8s_deploy.py",
]
GROUPS = {"core": "", "apps": "apps", "batch": "batch", "storage": "storage.k8s.io"}
VERBS = {
    "create": "create",
    "read": "get",
    "list": "list",
    "replace": "update",
    "delete": "delete",
    "connect_get": "create",
}
_CALL = re.compile(
    r"\b(core|apps|batch|storage)\.(connect_get|create|read|list|replace|delete)_"
    r"(namespaced_)?(\w+?)(_log|_exec)?\b"
)
#: Listers that follow() also watches.
WATCHED = {("", "pods"), ("", "namespaces")}


def plural(snake: str) -> str:
    word = snake.replace("_", "")
    return word + "es" if word.endswith("s") else word + "s"


def used_calls() -> set[tuple[str, str, str]]:
    calls = set()
    for path in SOURCES:
        for group, verb, _ns, resource, sub in _CALL.findall(path.read_text()):
            name = plural(resource) + (f"/{sub.strip('_')}" if sub else "")
            calls.add((GROUPS[group], name, VERBS[verb]))
            if verb == "list" and (GROUPS[group], name) in WATCHED:
                calls.add((GROUPS[group], name, "watch"))
    return calls


def granted() -> set[tuple[str, str, str]]:
    text = (
        importlib.resources.files("pytest_fioloadgen.backends.kubernetes") / "rbac.yaml"
    ).read_text()
    rules = set()
    for document in yaml.safe_load_all(text):
        assert document["kind"] == "ClusterRole"
        for rule in document["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        rules.add((group, resource, verb))
    return rules


def test_every_call_is_granted():
    calls = used_calls()
    assert ("", "pods/log", "get") in calls and ("apps", "statefulsets", "update") in calls
    missing = sorted(calls - granted())
    assert missing == [], f"rbac.yaml lacks {missing}"


def test_the_manifests_are_valid_rbac():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    text = (
        importlib.resources.files("pytest_fioloadgen.backends.kubernetes") / "rbac.yaml"
    ).read_text()
    for document in yaml.safe_load_all(text):
        kubernetes_validate.validate(
            document, kubernetes_validate.utils.latest_version(), strict=True
        )
