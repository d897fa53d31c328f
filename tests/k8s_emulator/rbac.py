"""Who is asking, and may they: bearer tokens and the RBAC authorizer, in small.

Authentication: a request without a token, or with the kubeconfig's ``emulator`` token, is
the cluster's administrator (group ``system:masters``, which RBAC always allows; the old
insecure port behaved so too), which keeps every other test as it was. Tokens registered
with ``POST /_emulator/users`` (``{"token", "user", "groups"}``) authenticate as that user:
a ServiceAccount is ``system:serviceaccount:<namespace>:<name>``. An unknown token is a
401 Unauthorized.

Authorization, as Kubernetes' RBAC authorizer decides it: the request's attributes (verb
from the method: get/list/watch/create/update/patch/delete/deletecollection; resource and
subresource such as ``pods/eviction``; API group; namespace; name) are allowed when a rule
of a ClusterRole bound by a ClusterRoleBinding, or of a Role or ClusterRole bound by a
RoleBinding in the request's namespace, matches: apiGroups, resources and verbs each
contain the value or ``*``, and resourceNames (if any) the name. Subjects are a User, a
Group (``system:authenticated`` is every authenticated user's) or a ServiceAccount. A
refusal is the API server's 403, worded as it words it::

    pods "x" is forbidden: User "system:serviceaccount:fio:runner" cannot delete resource
    "pods" in API group "" in the namespace "openshift-storage"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .api import ApiStatus, Resource, Store

ADMIN_GROUP = "system:masters"
ADMIN_TOKEN = "emulator"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def all_groups(self) -> set[str]:
        return {*self.groups, "system:authenticated"}


ADMIN = User("emulator-admin", (ADMIN_GROUP,))


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it."""

    verb: str
    resource: Resource
    subresource: str | None
    namespace: str | None
    name: str | None

    @property
    def resource_text(self) -> str:
        plural = self.resource.plural
        return f"{plural}/{self.subresource}" if self.subresource else plural


def authenticate(tokens: dict[str, User], header: str | None) -> User:
    if not header:
        return ADMIN
    scheme, _space, token = header.partition(" ")
    if scheme.lower() == "bearer" and token == ADMIN_TOKEN:
        return ADMIN
    if scheme.lower() == "bearer" and token in tokens:
        return tokens[token]
    raise ApiStatus(401, "Unauthorized", "Unauthorized")


def _subject_is(subject: dict[str, Any], user: User) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.all_groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace', '')}:{name}"
    return False


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    def has(values: list[str] | None, value: str) -> bool:
        return bool(values) and ("*" in values or value in values)  # type: ignore[operator]

    names = rule.get("resourceNames") or []
    return (
        has(rule.get("apiGroups"), attrs.resource.group)
        and has(rule.get("resources"), attrs.resource_text)
        and has(rule.get("verbs"), attrs.verb)
        and (not names or attrs.name in names)
    )


def _rules(store: Store, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    if ref.get("kind") == "ClusterRole":
        role = store.get("clusterroles", "", ref.get("name", ""))
    else:
        role = store.get("roles", namespace, ref.get("name", ""))
    return list((role or {}).get("rules") or [])


def allowed(store: Store, user: User, attrs: Attributes) -> bool:
    if ADMIN_GROUP in user.groups:
        return True
    bindings = [(binding, "") for binding in store.items("clusterrolebindings")]
    if attrs.namespace:
        bindings += [
            (binding, attrs.namespace) for binding in store.items("rolebindings", attrs.namespace)
        ]
    for binding, namespace in bindings:
        if not any(_subject_is(subject, user) for subject in binding.get("subjects") or []):
            continue
        if any(_rule_allows(rule, attrs) for rule in _rules(store, binding["roleRef"], namespace)):
            return True
    return False


def forbidden(user: User, attrs: Attributes) -> ApiStatus:
    resource = attrs.resource
    subject = f'{resource.qualified} "{attrs.name}"' if attrs.name else resource.qualified
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return ApiStatus(
        403,
        "Forbidden",
        f'{subject} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
        f'"{attrs.resource_text}" in API group "{resource.group}" {where}',
        {"name": attrs.name or "", "group": resource.group, "kind": resource.plural},
    )


def authorize(store: Store, user: User, attrs: Attributes) -> None:
    if not allowed(store, user, attrs):
        raise forbidden(user, attrs)
