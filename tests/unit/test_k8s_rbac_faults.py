"""The opt-in RBAC of the Kubernetes faults (backends/kubernetes/rbac-faults.yaml) grants
every API call faults/kubernetes.py makes, is valid RBAC, and none of what only the faults
need ever creeps into the default role (rbac.yaml)."""

from __future__ import annotations

import importlib.resources
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "pytest_fioloadgen" / "faults" / "kubernetes.py"
GROUPS = {"core": "", "policy": "policy"}
VERBS = {"create": "create", "read": "get", "list": "list", "patch": "patch", "delete": "delete"}
_CALL = re.compile(
    r"\b(core|policy)\.(create|read|list|patch|delete)_(namespaced_)?(\w+?)"
    r"(_eviction)?(_for_all_namespaces)?\b"
)
#: What only the faults need: never in the default role.
FAULT_ONLY = {("", "nodes", "patch"), ("", "pods/eviction", "create")}


def plural(snake: str) -> str:
    word = snake.replace("_", "")
    return word + "es" if word.endswith("s") else word + "s"


def used_calls() -> set[tuple[str, str, str]]:
    text = SOURCE.read_text()
    calls = set()
    for group, verb, _ns, resource, sub, _all in _CALL.findall(text):
        name = plural(resource) + ("/eviction" if sub else "")
        calls.add((GROUPS[group], name, VERBS[verb]))
    if "follow(" in text:
        # The replacement wait follows pods: a list, then watches.
        calls.add(("", "pods", "watch"))
    return calls


def documents(name: str) -> list[dict]:
    text = (importlib.resources.files("pytest_fioloadgen.backends.kubernetes") / name).read_text()
    return list(yaml.safe_load_all(text))


def granted(name: str) -> set[tuple[str, str, str]]:
    rules = set()
    for document in documents(name):
        if document["kind"] != "ClusterRole":
            continue
        for rule in document["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        rules.add((group, resource, verb))
    return rules


def test_every_fault_call_is_granted_by_the_opt_in_file():
    calls = used_calls()
    # The scan sees the calls that matter (a renamed call must not pass unseen).
    assert {
        ("", "pods", "delete"),
        ("", "pods/eviction", "create"),
        ("", "nodes", "patch"),
        ("policy", "poddisruptionbudgets", "list"),
        ("", "pods", "watch"),
    } <= calls
    missing = sorted(calls - granted("rbac-faults.yaml"))
    assert missing == [], f"rbac-faults.yaml lacks {missing}"


def test_the_default_role_grants_nothing_only_faults_need():
    assert granted("rbac.yaml") & FAULT_ONLY == set()
    assert granted("rbac-faults.yaml") >= FAULT_ONLY


def test_every_binding_points_at_a_role_of_the_file():
    roles = {
        d["metadata"]["name"] for d in documents("rbac-faults.yaml") if d["kind"] == "ClusterRole"
    }
    bindings = [d for d in documents("rbac-faults.yaml") if d["kind"].endswith("Binding")]
    assert {b["roleRef"]["name"] for b in bindings} == roles


def test_the_opt_in_manifests_are_valid_rbac():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for document in documents("rbac-faults.yaml"):
        kubernetes_validate.validate(
            document, kubernetes_validate.utils.latest_version(), strict=True
        )
