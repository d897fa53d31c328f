"""The emulator's own API behaviour, through the unmodified kubernetes client: what the
backend's tests rely on being faithful."""

from __future__ import annotations

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException


@pytest.fixture
def core(kubeconfig):
    return client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))


def test_objects_carry_server_metadata_and_status_errors(core, namespace):
    created = core.create_namespace({"metadata": {"name": namespace, "labels": {"a": "1"}}})
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    with pytest.raises(ApiException) as exists:
        core.create_namespace({"metadata": {"name": namespace}})
    assert exists.value.status == 409 and '"reason":"AlreadyExists"' in exists.value.body.replace(
        " ", ""
    )
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "Not_Valid"}})
    assert invalid.value.status == 422
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("nope", namespace)
    assert missing.value.status == 404
    cm = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "c"}, "data": {"k": "1"}}
    )
    stale = {"metadata": {"name": "c", "resourceVersion": "1"}, "data": {"k": "2"}}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("c", namespace, stale)
    assert conflict.value.status == 409 and "Conflict" in conflict.value.body
    fresh = {
        "metadata": {"name": "c", "resourceVersion": cm.metadata.resource_version},
        "data": {"k": "2"},
    }
    assert core.replace_namespaced_config_map("c", namespace, fresh).data == {"k": "2"}
    core.delete_namespace(namespace)


def test_label_selectors(core, namespace):
    core.create_namespace({"metadata": {"name": namespace}})
    for name, labels in (("a", {"app": "x", "tier": "1"}), ("b", {"app": "y"}), ("c", {})):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": labels}})

    def names(selector):
        listed = core.list_namespaced_config_map(namespace, label_selector=selector)
        return [item.metadata.name for item in listed.items]

    assert names("app=x") == ["a"]
    assert names("app!=x") == ["b", "c"]
    assert names("app") == ["a", "b"]
    assert names("!app") == ["c"]
    assert names("app in (x,y),tier") == ["a"]
    core.delete_namespace(namespace)


def test_watch_resumes_from_a_resource_version_and_times_out(core, namespace):
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}})
    version = core.list_namespaced_config_map(namespace).metadata.resource_version
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "after"}})
    core.delete_namespaced_config_map("before", namespace)
    seen = [
        (event["type"], event["object"].metadata.name)
        for event in watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=version, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "after"), ("DELETED", "before")]
    core.delete_namespace(namespace)


def test_faults_are_checked_before_anything_is_stored(core, emulator, namespace):
    emulator.fault(
        verb="create",
        resource="namespaces",
        code=500,
        reason="InternalError",
        message="injected",
        times=1,
    )
    with pytest.raises(ApiException) as failed:
        core.create_namespace({"metadata": {"name": namespace}})
    assert failed.value.status == 500
    with pytest.raises(ApiException):
        core.read_namespace(namespace)
    core.create_namespace({"metadata": {"name": namespace}})  # the fault was used up
    core.delete_namespace(namespace)
