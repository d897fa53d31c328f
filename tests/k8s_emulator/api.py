"""The API half of the emulator: resources, discovery, watch, errors and faults over HTTP.

Speaks the Kubernetes REST conventions the official client and kubectl rely on: resource
paths per group/version, ``kind: Status`` errors with real reasons (NotFound,
AlreadyExists, Conflict, Invalid, Forbidden), uid/resourceVersion/creationTimestamp on
every object, label and field selectors, and chunked watches that honour resourceVersion
and timeoutSeconds. Fault rules are checked before a request touches the store.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import json
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from kubernetes_validate.utils import latest_version

#: The newest Kubernetes whose schemas kubernetes-validate ships: what objects are
#: validated against (validation.py), so what the emulator says it is.
_MINOR = latest_version().split(".")[1]
VERSION = {
    "major": "1",
    "minor": _MINOR,
    "gitVersion": f"v1.{_MINOR}.0-fioloadgen-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "python",
    "compiler": "cpython",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


RESOURCES = [
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",)),
    Resource("", "v1", "nodes", "Node", False, ("no",)),
    Resource("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",)),
    Resource("", "v1", "services", "Service", True, ("svc",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "pods", "Pod", True, ("po",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",)),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("batch", "v1", "jobs", "Job", True),
    Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
]
BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
#: The body of a pods/eviction request (a subresource, not stored).
EVICTION = Resource("policy", "v1", "evictions", "Eviction", True)
BY_PLURAL = {r.plural: r for r in RESOURCES}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
WATCH_HISTORY = 20000


class ApiStatus(Exception):
    """An error answer, rendered as a ``kind: Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def body(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def not_found(resource: Resource, name: str) -> ApiStatus:
    return ApiStatus(
        404,
        "NotFound",
        f'{resource.qualified} "{name}" not found',
        {"name": name, "group": resource.group, "kind": resource.plural},
    )


@dataclass
class Fault:
    """Answer matching requests with an error, ``times`` times (-1: always)."""

    verb: str
    resource: str
    code: int
    reason: str
    message: str
    name: str | None = None
    namespace: str | None = None
    times: int = 1
    retry_after: int | None = None

    def matches(self, verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        return (
            self.times != 0
            and self.verb in (verb, "*")
            and self.resource in (resource, "*")
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )


# -- selectors ----------------------------------------------------------------------------
def _requirement(text: str) -> Callable[[dict[str, str]], bool]:
    text = text.strip()
    match = re.match(r"^(\S+?)\s+(in|notin)\s+\((.*)\)$", text)
    if match:
        key, op, values = (
            match.group(1),
            match.group(2),
            {v.strip() for v in match.group(3).split(",")},
        )
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in text:
            key, value = (part.strip() for part in text.split(op, 1))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if text.startswith("!"):
        return lambda labels: text[1:] not in labels
    return lambda labels: text in labels


def _split_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def label_matcher(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    if not selector:
        return lambda obj: True
    requirements = [_requirement(part) for part in _split_selector(selector)]
    return lambda obj: all(req(obj.get("metadata", {}).get("labels") or {}) for req in requirements)


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matcher(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    if not selector:
        return lambda obj: True
    checks = []
    for part in selector.split(","):
        negate = "!=" in part
        path, value = re.split(r"!=|==|=", part, maxsplit=1)
        checks.append((path.strip(), value.strip(), negate))
    return lambda obj: all((_field(obj, p) == v) != n for p, v, n in checks)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also used for strategic merge patches of maps)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- the store ----------------------------------------------------------------------------
Key = tuple[str, str, str]  # (plural, namespace or "", name)


@dataclass
class Store:
    """Objects by key, one global resourceVersion, and the change log watches read."""

    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    #: the same objects by kind (plural), for lists
    by_kind: dict[str, dict[Key, dict[str, Any]]] = field(default_factory=dict)
    revision: int = 1
    log: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Condition | None = None
    #: Called after every change, (event type, plural, object): the controllers.
    listeners: list[Callable[[str, str, dict[str, Any]], None]] = field(default_factory=list)

    def _condition(self) -> asyncio.Condition:
        if self.changed is None:
            self.changed = asyncio.Condition()
        return self.changed

    def _record(self, kind: str, plural: str, obj: dict[str, Any]) -> None:
        self.log.append((self.revision, kind, plural, copy.deepcopy(obj)))
        if len(self.log) > WATCH_HISTORY:
            del self.log[: len(self.log) - WATCH_HISTORY]
        for listener in self.listeners:
            listener(kind, plural, obj)
        condition = self._condition()

        async def notify() -> None:
            async with condition:
                condition.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def _bump(self, obj: dict[str, Any]) -> None:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural, namespace, name))

    def items(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        # One kind's objects only: 256 pods starting at once each look at the namespace's
        # pods, and sorting the whole store for every look was most of the emulator's time.
        of_kind = self.by_kind.get(plural, {})
        return [of_kind[key] for key in sorted(of_kind) if namespace is None or key[1] == namespace]

    def add(self, resource: Resource, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.setdefault("metadata", {})
        name = metadata.get("name")
        if not name and metadata.get("generateName"):
            name = metadata["generateName"] + uuid.uuid4().hex[:5]
            metadata["name"] = name
        if not name or len(name) > 253 or not _NAME.match(name):
            raise ApiStatus(
                422,
                "Invalid",
                f'{resource.kind} "{name}" is invalid: metadata.name: Invalid value: '
                f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.'",
                {"name": name, "kind": resource.kind},
            )
        key = (resource.plural, namespace, name)
        if key in self.objects:
            raise ApiStatus(
                409,
                "AlreadyExists",
                f'{resource.qualified} "{name}" already exists',
                {"name": name, "group": resource.group, "kind": resource.plural},
            )
        obj["apiVersion"] = resource.group_version
        obj["kind"] = resource.kind
        if resource.namespaced:
            metadata["namespace"] = namespace
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now_rfc3339()
        metadata.setdefault("labels", {})
        self._bump(obj)
        self.objects[key] = obj
        self.by_kind.setdefault(resource.plural, {})[key] = obj
        self._record("ADDED", resource.plural, obj)
        return obj

    def update(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        key = (
            resource.plural,
            metadata.get("namespace", "") if resource.namespaced else "",
            metadata["name"],
        )
        if key not in self.objects:
            raise not_found(resource, metadata["name"])
        self._bump(obj)
        self.objects[key] = obj
        self.by_kind.setdefault(resource.plural, {})[key] = obj
        self._record("MODIFIED", resource.plural, obj)
        return obj

    def remove(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        obj = self.objects.pop((resource.plural, namespace, name), None)
        self.by_kind.get(resource.plural, {}).pop((resource.plural, namespace, name), None)
        if obj is None:
            raise not_found(resource, name)
        self._bump(obj)
        self._record("DELETED", resource.plural, obj)
        return obj


# -- HTTP -------------------------------------------------------------------------------
@dataclass
class ApiServer:
    """The aiohttp application; controllers hook in through ``store.listeners`` and
    ``deleting`` (namespace and owner deletion are theirs)."""

    store: Store = field(default_factory=Store)
    faults: list[Fault] = field(default_factory=list)
    #: (resource, namespace, name, body) -> handled; set by the controllers.
    on_delete: Callable[[Resource, str, str, dict[str, Any]], dict[str, Any] | None] | None = None
    logs: Callable[[str, str], str] | None = None
    control: Callable[[dict[str, Any]], None] | None = None
    #: (namespace, pod, eviction body) -> the Status answer; set by the controllers.
    evict: Callable[[str, str, dict[str, Any]], dict[str, Any]] | None = None
    #: (what, body) for controls beyond faults and config (oom); set by the controllers.
    act: Callable[[str, dict[str, Any]], None] | None = None
    #: bearer token -> user, beyond the administrator's (rbac.py)
    tokens: dict[str, rbac.User] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=64 * 1024**2)
        app.router.add_route("*", "/_emulator/{what}", self._emulator)
        app.router.add_get("/version", self._version)
        app.router.add_get("/version/", self._version)
        app.router.add_get("/api", self._api_versions)
        app.router.add_get("/apis", self._api_groups)
        app.router.add_route("*", "/api/{version}", self._discovery)
        app.router.add_route("*", "/apis/{group}/{version}", self._discovery)
        app.router.add_route("*", "/api/{version}/{rest:.+}", self._resource)
        app.router.add_route("*", "/apis/{group}/{version}/{rest:.+}", self._resource)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            # Watches and small JSON answers: no Nagle delay on either.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except ApiStatus as err:
            headers = {}
            if err.details.get("retryAfterSeconds"):
                headers["Retry-After"] = str(err.details["retryAfterSeconds"])
            return web.json_response(err.body(), status=err.code, headers=headers)

    # -- control -----------------------------------------------------------------
    async def _emulator(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        if what == "faults" and request.method == "POST":
            self.faults.append(Fault(**await request.json()))
        elif what == "faults" and request.method == "DELETE":
            self.faults.clear()
        elif what == "config" and request.method == "POST" and self.control is not None:
            self.control(await request.json())
        elif what == "users" and request.method == "POST":
            body = await request.json()
            self.tokens[body["token"]] = rbac.User(body["user"], tuple(body.get("groups", ())))
        elif request.method == "POST" and self.act is not None and what in ("oom", "pdb"):
            self.act(what, await request.json())
        else:
            raise ApiStatus(404, "NotFound", f"no emulator control {what!r}")
        return web.json_response({"ok": True})

    def _check_faults(
        self, verb: str, plural: str, namespace: str | None, name: str | None
    ) -> None:
        for fault in self.faults:
            if fault.matches(verb, plural, namespace, name):
                if fault.times > 0:
                    fault.times -= 1
                details: dict[str, Any] = {"name": name or "", "kind": plural}
                if fault.retry_after:
                    details["retryAfterSeconds"] = fault.retry_after
                raise ApiStatus(fault.code, fault.reason, fault.message, details)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response(VERSION)

    # -- discovery -----------------------------------------------------------------
    async def _api_versions(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}
                ],
            }
        )

    async def _api_groups(self, request: web.Request) -> web.Response:
        groups = sorted({(r.group, r.version) for r in RESOURCES if r.group})
        return web.json_response(
            {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": group,
                        "versions": [{"groupVersion": f"{group}/{version}", "version": version}],
                        "preferredVersion": {
                            "groupVersion": f"{group}/{version}",
                            "version": version,
                        },
                    }
                    for group, version in groups
                ],
            }
        )

    async def _discovery(self, request: web.Request) -> web.Response:
        group = request.match_info.get("group", "")
        version = request.match_info["version"]
        resources = [r for r in RESOURCES if r.group == group and r.version == version]
        if not resources:
            raise ApiStatus(404, "NotFound", f"the server could not find {request.path}")
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        listed: list[dict[str, Any]] = []
        for r in resources:
            listed.append(
                {
                    "name": r.plural,
                    "singularName": r.kind.lower(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": verbs,
                    "shortNames": list(r.short),
                }
            )
            if r.plural in (
                "pods",
                "statefulsets",
                "deployments",
                "daemonsets",
                "jobs",
                "poddisruptionbudgets",
            ):
                listed.append(
                    {
                        "name": f"{r.plural}/status",
                        "singularName": "",
                        "namespaced": True,
                        "kind": r.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
            if r.plural == "pods":
                listed.append(
                    {
                        "name": "pods/log",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get"],
                    }
                )
                # What kubectl drain looks for before it evicts (else it deletes).
                listed.append(
                    {
                        "name": "pods/eviction",
                        "singularName": "",
                        "namespaced": True,
                        "group": "policy",
                        "version": "v1",
                        "kind": "Eviction",
                        "verbs": ["create"],
                    }
                )
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": listed,
            }
        )

    # -- resources -------------------------------------------------------------------
    def _parse(self, request: web.Request) -> tuple[Resource, str | None, str | None, str | None]:
        group = request.match_info.get("group", "")
        version = request.match_info["version"]
        parts = request.match_info["rest"].strip("/").split("/")
        namespace = None
        if parts[0] == "namespaces" and len(parts) >= 3:
            namespace, parts = parts[1], parts[2:]
        resource = BY_PATH.get((group, version, parts[0]))
        if resource is None or len(parts) > 3:
            raise ApiStatus(404, "NotFound", f"the server could not find {request.path}")
        if namespace is not None and not resource.namespaced:
            raise ApiStatus(404, "NotFound", f"{resource.plural} are not namespaced")
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        return resource, namespace, name, sub

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        resource, namespace, name, sub = self._parse(request)
        method = request.method
        query = request.query
        watch = query.get("watch") in ("true", "1")
        verb = {
            "GET": "watch" if watch else ("get" if name else "list"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }.get(method, "unknown")
        user = rbac.authenticate(self.tokens, request.headers.get("Authorization"))
        rbac.authorize(self.store, user, rbac.Attributes(verb, resource, sub, namespace, name))
        self._check_faults(verb, resource.plural, namespace, name)
        ns = namespace or "" if resource.namespaced else ""
        if resource.namespaced and method in ("POST",) and namespace is not None:
            self._check_namespace(namespace)
        if method == "GET" and name is None:
            if watch:
                return await self._watch(request, resource, namespace)
            return web.json_response(self._list(resource, namespace, query))
        if method == "POST" and name is None:
            body = await request.json()
            validation.check(resource, body)
            created = self.store.add(resource, ns, body)
            return web.json_response(created, status=201)
        if method == "POST" and resource.plural == "pods" and sub == "eviction" and name:
            body = await request.json()
            validation.check(EVICTION, body)
            if self.store.get("pods", ns, name) is None:
                raise not_found(resource, name)
            if (body.get("metadata") or {}).get("name") != name:
                raise ApiStatus(
                    400, "BadRequest", "name in URL does not match name in Eviction object"
                )
            assert self.evict is not None
            return web.json_response(self.evict(ns, name, body), status=201)
        if name is None:
            raise ApiStatus(405, "MethodNotAllowed", f"{method} needs a name")
        current = self.store.get(resource.plural, ns, name)
        if current is None:
            raise not_found(resource, name)
        if method == "GET":
            if sub == "log" and self.logs is not None:
                return web.Response(text=self.logs(ns, name), content_type="text/plain")
            return web.json_response(current)
        if method in ("PUT", "PATCH"):
            body = await request.json()
            if method == "PATCH":
                body = merge_patch(current, body)
            else:
                sent = str(body.get("metadata", {}).get("resourceVersion") or "")
                if sent and sent != current["metadata"]["resourceVersion"]:
                    raise ApiStatus(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {resource.qualified} "{name}": the '
                        "object has been modified; please apply your changes to the latest "
                        "version and try again",
                        {"name": name, "kind": resource.plural},
                    )
            updated = copy.deepcopy(body)
            if sub == "status":
                updated = {**current, "status": body.get("status", {})}
            else:
                validation.check(resource, updated)
                updated.setdefault("status", current.get("status", {}))
            # Identity fields belong to the server.
            for keep in ("uid", "creationTimestamp", "namespace", "name"):
                if keep in current["metadata"]:
                    updated["metadata"][keep] = current["metadata"][keep]
            updated["apiVersion"], updated["kind"] = current["apiVersion"], current["kind"]
            return web.json_response(self.store.update(resource, updated))
        if method == "DELETE":
            options: dict[str, Any] = {}
            if request.can_read_body:
                with_body = await request.read()
                if with_body:
                    options = json.loads(with_body)
            if "propagationPolicy" in query:
                options["propagationPolicy"] = query["propagationPolicy"]
            handled = self.on_delete(resource, ns, name, options) if self.on_delete else None
            return web.json_response(handled or self.store.remove(resource, ns, name))
        raise ApiStatus(405, "MethodNotAllowed", f"{method} is not supported")

    def _check_namespace(self, namespace: str) -> None:
        found = self.store.get("namespaces", "", namespace)
        if found is None:
            raise ApiStatus(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if found.get("status", {}).get("phase") == "Terminating":
            raise ApiStatus(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                {"name": namespace, "kind": "namespaces"},
            )

    def _matching(
        self, resource: Resource, namespace: str | None, query: Any
    ) -> Callable[[dict[str, Any]], bool]:
        labels = label_matcher(query.get("labelSelector"))
        fields = field_matcher(query.get("fieldSelector"))

        def matches(obj: dict[str, Any]) -> bool:
            in_ns = namespace is None or obj["metadata"].get("namespace") == namespace
            return in_ns and labels(obj) and fields(obj)

        return matches

    def _list(self, resource: Resource, namespace: str | None, query: Any) -> dict[str, Any]:
        matches = self._matching(resource, namespace, query)
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.group_version,
            "metadata": {"resourceVersion": str(self.store.revision)},
            "items": [obj for obj in self.store.items(resource.plural) if matches(obj)],
        }

    async def _watch(
        self, request: web.Request, resource: Resource, namespace: str | None
    ) -> web.StreamResponse:
        query = request.query
        matches = self._matching(resource, namespace, query)
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = asyncio.get_running_loop().time() + timeout
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)

        async def send(kind: str, obj: dict[str, Any]) -> None:
            await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

        try:
            return await self._stream(response, send, resource, matches, deadline, query)
        except (ConnectionResetError, ClientConnectionResetError):
            # The client stopped watching (the kubernetes client's Watch.stop).
            return response

    async def _stream(
        self,
        response: web.StreamResponse,
        send: Callable[[str, dict[str, Any]], Any],
        resource: Resource,
        matches: Callable[[dict[str, Any]], bool],
        deadline: float,
        query: Any,
    ) -> web.StreamResponse:
        store = self.store
        since_text = query.get("resourceVersion") or ""

        if since_text in ("", "0"):
            since = store.revision
            for obj in store.items(resource.plural):
                if matches(obj):
                    await send("ADDED", obj)
        else:
            since = int(since_text)
            oldest = store.log[0][0] if store.log else store.revision
            if since < oldest - 1:
                gone = ApiStatus(410, "Expired", f"too old resource version: {since} ({oldest})")
                await send("ERROR", gone.body())
                return response
        condition = store._condition()
        while True:
            # Up to a snapshot: changes made while this coroutine writes are sent next turn.
            upto = store.revision
            start = bisect.bisect_right(store.log, since, key=lambda entry: entry[0])
            for revision, kind, plural, obj in store.log[start:]:
                if revision > upto:
                    break
                if plural == resource.plural and matches(obj):
                    await send(kind, obj)
            since = upto
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            seen = since
            async with condition:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        condition.wait_for(lambda seen=seen: store.revision > seen),
                        timeout=remaining,
                    )
        return response


from . import rbac, validation  # noqa: E402  (they use ApiStatus and Resource above)
