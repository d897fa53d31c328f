"""Fixtures for the kubernetes backend's tests: one API emulator per module, a fresh
namespace per test, and faults and emulator settings reset after each test."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest

pytest.importorskip("kubernetes")
pytest.importorskip("aiohttp")

from pytest_fioloadgen.backends.kubernetes.backend import KubernetesBackend
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings
from tests.k8s_emulator.controllers import Config
from tests.k8s_emulator.harness import Emulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with Emulator(config=Config(ready_delay_s=0.2)) as running:
        yield running
    assert running.runtime.leftovers() == [], "emulator left namespaces or links behind"


@pytest.fixture(scope="module")
def kubeconfig(emulator, tmp_path_factory) -> Path:
    return emulator.kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture
def core(kubeconfig):
    """The official client, as a user (or kubectl) would act on the cluster."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(kubeconfig))
    yield client.CoreV1Api(api_client)
    api_client.close()


@pytest.fixture
def namespace(emulator) -> str:
    return f"fio-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _reset_emulator(emulator):
    yield
    emulator.clear_faults()
    emulator.configure(**vars(Config(ready_delay_s=0.2)))


@pytest.fixture
def make_backend(kubeconfig, namespace):
    """Backends that are destroyed at the end of the test whatever happened."""
    made = []

    def make(
        *,
        image="fio:emulated",
        ns=None,
        ready_timeout_s=30.0,
        keep=False,
        existing_namespace=False,
        **spec_fields,
    ):
        backend = KubernetesBackend(
            KubernetesSettings(
                namespace=ns or namespace,
                image=image,
                pvc_size="1Gi",
                kubeconfig=Path(kubeconfig),
                ready_timeout=ready_timeout_s,
                existing_namespace=existing_namespace,
                **spec_fields,
            ),
            session_id=uuid.uuid4().hex,
            keep=keep,
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        # Best effort: the test may have destroyed it already or left the API faulty.
        with contextlib.suppress(Exception):
            backend.destroy(force=True)
        backend.close()
