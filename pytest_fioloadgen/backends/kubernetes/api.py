"""The Kubernetes API as the backend uses it: connection, retries and one-line errors.

The ``kubernetes`` package is imported here and only when a connection is made, so the
plugin works without the optional extra until ``--fio-backend kubernetes`` is chosen.

Transient answers (429, 5xx, a dropped connection) are retried with exponential backoff,
honouring Retry-After; everything else becomes a KubeApiError whose message names the
object and the API's reason ("create statefulset fio/fio-standard: Forbidden: ...").
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ...exceptions import BackendError

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIES = 5
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0


class KubeApiError(BackendError):
    """The API refused a request; ``status`` and ``reason`` tell how."""

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        #: The API's Retry-After, in seconds, when it gave one.
        self.retry_after = retry_after


def _import_client() -> Any:
    try:
        import kubernetes
    except ImportError as err:
        raise BackendError(
            "the kubernetes backend needs the kubernetes client: "
            "pip install 'pytest-fioloadgen[kubernetes]'"
        ) from err
    return kubernetes


def _status_of(err: Any) -> tuple[str, str]:
    """(reason, message) from an ApiException's ``kind: Status`` body."""
    try:
        body = json.loads(err.body or "{}")
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason") or err.reason or "")
    message = str(body.get("message") or "").splitlines()
    return reason, message[0] if message else ""


@dataclass(frozen=True)
class ClusterInfo:
    """Where the client points: for messages and the fingerprint."""

    server: str
    context: str


class KubeApi:
    """Typed API groups of one configured client, with retrying calls."""

    def __init__(self, *, kubeconfig: str | None = None, context: str | None = None) -> None:
        kubernetes = _import_client()
        self._k8s = kubernetes
        config = kubernetes.config
        client_config = kubernetes.client.Configuration()
        context_name = context or ""
        try:
            if kubeconfig is None and context is None and _in_cluster():
                config.load_incluster_config(client_configuration=client_config)
                context_name = "in-cluster"
            else:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=client_config
                )
                if not context_name:
                    _contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
                    context_name = str(active.get("name", "")) if active else ""
        except (config.ConfigException, OSError, TypeError, ValueError) as err:
            source = kubeconfig or "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise BackendError(f"cannot load Kubernetes config from {source}: {detail}") from err
        # The client's own urllib3 retries would hide 5xx answers from our backoff.
        client_config.retries = False
        self.api_client = kubernetes.client.ApiClient(client_config)
        self.core = kubernetes.client.CoreV1Api(self.api_client)
        self.apps = kubernetes.client.AppsV1Api(self.api_client)
        self.batch = kubernetes.client.BatchV1Api(self.api_client)
        self.storage = kubernetes.client.StorageV1Api(self.api_client)
        self.policy = kubernetes.client.PolicyV1Api(self.api_client)
        self.version = kubernetes.client.VersionApi(self.api_client)
        self.info = ClusterInfo(server=str(client_config.host), context=context_name)

    def close(self) -> None:
        self.api_client.close()

    def call(
        self,
        what: str,
        function: Callable[..., Any],
        *args: Any,
        transient: frozenset[int] = TRANSIENT_STATUSES,
        **kwargs: Any,
    ) -> Any:
        """``function(*args, **kwargs)`` with retries; ``what`` names the action and object
        ("create statefulset fio/fio-standard") for the error message. ``transient``: the
        statuses retried here (an eviction's 429 is a PodDisruptionBudget's answer that the
        caller retries against its own deadline)."""
        exceptions = self._k8s.client.exceptions
        backoff = FIRST_BACKOFF_S
        for attempt in range(RETRIES + 1):
            try:
                return function(*args, **kwargs)
            except exceptions.ApiException as err:
                status = int(err.status or 0)
                reason, message = _status_of(err)
                if status in transient and attempt < RETRIES:
                    time.sleep(_retry_after(err) or backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                detail = f"{reason}: {message}" if message else reason or f"HTTP {status}"
                raise KubeApiError(
                    f"{what}: {detail} (HTTP {status})",
                    status=status,
                    reason=reason,
                    retry_after=_retry_after(err),
                ) from err
            except ValueError as err:
                # The client validates (pydantic) what it sends and what it reads back.
                raise KubeApiError(f"{what}: {_model_error(err)}") from err
            except Exception as err:
                # urllib3 raises its own errors for refused/reset connections.
                if not _is_connection_error(err):
                    raise
                if attempt < RETRIES:
                    time.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                raise KubeApiError(
                    f"{what}: cannot reach the Kubernetes API at {self.info.server} "
                    f"({type(err).__name__})"
                ) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def watch(
        self, what: str, function: Callable[..., Any], *, timeout_s: float, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        """(event type, object) pairs of one watch request that ends after ``timeout_s``."""
        watcher = self._k8s.watch.Watch()
        try:
            stream = watcher.stream(function, timeout_seconds=max(1, int(timeout_s)), **kwargs)
            while True:
                try:
                    event = self.call(what, next, stream)
                except StopIteration:
                    return
                yield str(event["type"]), event["object"]
        finally:
            watcher.stop()


def _model_error(err: ValueError) -> str:
    """One line for the client's model validation: the field and what is wrong with it."""
    errors = getattr(err, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
        except (IndexError, TypeError, ValueError):
            first = None
        if isinstance(first, dict):
            # loc: (argument index, field, ...): the object's own path is what matters.
            path = ".".join(str(part) for part in first.get("loc", ())[1:]) or "<object>"
            field = first.get("msg", "invalid")
            if first.get("loc", (None,))[0] == "response":
                return f"unreadable answer from the API ({path}: {field})"
            return f"the object does not match the Kubernetes API schema ({path}: {field})"
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    return f"unreadable answer from the API ({first_line})"


def _retry_after(err: Any) -> float | None:
    headers = getattr(err, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(float(value), MAX_BACKOFF_S) if value is not None else None
    except ValueError:
        return None


def _is_connection_error(err: BaseException) -> bool:
    try:
        import urllib3
    except ImportError:  # pragma: no cover - urllib3 comes with the kubernetes client
        return False
    return isinstance(err, urllib3.exceptions.HTTPError | ConnectionError)


def _in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and not os.environ.get("KUBECONFIG")
