"""Every manifest the backend (and the results server's deploy) can render, over the
volume, scheduling and security options combined pairwise, is valid against the
Kubernetes schemas of the three newest minor versions kubernetes-validate ships, in strict
mode (an unknown field is an error, as an API server with fieldValidation=Strict)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

kubernetes_validate = pytest.importorskip("kubernetes_validate")

from fioloadgen_server import k8s_deploy  # noqa: E402

from pytest_fioloadgen.backends.kubernetes import manifests  # noqa: E402
from pytest_fioloadgen.backends.kubernetes.namespace import holder_of  # noqa: E402
from pytest_fioloadgen.backends.kubernetes.options import Spread  # noqa: E402
from pytest_fioloadgen.backends.kubernetes.patching import load_pod_patch  # noqa: E402
from pytest_fioloadgen.backends.kubernetes.settings import KubernetesSettings  # noqa: E402
from pytest_fioloadgen.exceptions import ConfigError  # noqa: E402

VERSIONS = kubernetes_validate.utils.all_versions()[-3:]

PATCHES = {
    "none": None,
    "json-patch": [
        {"op": "add", "path": "/metadata/annotations", "value": {"team": "storage"}},
        {"op": "add", "path": "/spec/containers/0/env", "value": [{"name": "A", "value": "b"}]},
    ],
    "merge-patch": {"spec": {"dnsPolicy": "Default", "hostNetwork": False}},
}
#: Every option of the worker pods and the values that shape different manifests.
PARAMETERS: dict[str, list[object]] = {
    "volume_mode": ["filesystem", "block"],
    "access_mode": ["rwo", "rwx"],
    "claims": [(), ("bench-a", "bench-b")],
    "node_selector": [{}, {"disk": "ssd"}],
    "tolerations": [
        (),
        ({"key": "dedicated", "operator": "Equal", "value": "storage", "effect": "NoSchedule"},),
        ({"key": "gpu", "operator": "Exists"},),
    ],
    "spread": [Spread("soft"), Spread("hard"), Spread("none"), Spread("hard", "zone")],
    "priority_class": [None, "bench"],
    "fs_group": [None, 2000],
    "run_as_user": [None, 1001],
    "pod_patch": list(PATCHES),
    "resources": ["none", "both"],
    "server_fs_group": [None, 1001],
}


def valid(case: dict[str, object]) -> bool:
    # Refused by the factory (block with rwx): not a manifest the backend renders.
    return not (case["volume_mode"] == "block" and case["access_mode"] == "rwx")


def all_pairs(parameters: dict[str, list[object]]) -> list[dict[str, object]]:
    """A small set of cases covering every valid pair of values at least once (greedy)."""
    names = list(parameters)
    uncovered = {
        ((a, i), (b, j))
        for a, b in itertools.combinations(names, 2)
        for i in range(len(parameters[a]))
        for j in range(len(parameters[b]))
        if valid(_partial({a: parameters[a][i], b: parameters[b][j]}))
    }
    cases: list[dict[str, object]] = []
    while uncovered:
        # Seed with an uncovered pair, then choose each other value to cover the most.
        (a, i), (b, j) = min(uncovered)
        chosen = {a: i, b: j}
        for name in names:
            if name in chosen:
                continue

            def gain(k: int, name: str = name, chosen: dict = chosen) -> int:
                trial = {**chosen, name: k}
                if not valid(_partial({n: parameters[n][v] for n, v in trial.items()})):
                    return -1
                return sum(
                    1
                    for other, v in chosen.items()
                    if tuple(sorted([(name, k), (other, v)], key=lambda p: names.index(p[0])))
                    in uncovered  # noqa: B023 (read while the loop waits)
                )

            chosen[name] = max(range(len(parameters[name])), key=gain)
        case = {name: parameters[name][index] for name, index in chosen.items()}
        assert valid(case)
        cases.append(case)
        uncovered -= {
            tuple(sorted([(x, chosen[x]), (y, chosen[y])], key=lambda p: names.index(p[0])))
            for x, y in itertools.combinations(names, 2)
        }
    return cases


def _partial(values: dict[str, object]) -> dict[str, object]:
    return {"volume_mode": "filesystem", "access_mode": "rwo", **values}


CASES = all_pairs(PARAMETERS)


def test_the_cases_cover_every_valid_pair():
    names = list(PARAMETERS)
    for a, b in itertools.combinations(names, 2):
        for x, y in itertools.product(PARAMETERS[a], PARAMETERS[b]):
            if valid(_partial({a: x, b: y})):
                assert any(case[a] == x and case[b] == y for case in CASES), (a, x, b, y)
    # Pairwise is the point: far fewer cases than the full product.
    assert len(CASES) < 40


def rendered(case: dict[str, object], tmp_path: Path) -> list[dict]:
    patch = None
    if case["pod_patch"] != "none":
        path = tmp_path / "patch.json"
        path.write_text(json.dumps(PATCHES[str(case["pod_patch"])]))
        patch = load_pod_patch(path, "--fio-pod-patch")
    spec = KubernetesSettings(
        namespace="bench",
        image="registry.example/fio:3.33",
        requests={"cpu": "500m", "memory": "1Gi"} if case["resources"] == "both" else {},
        limits={"cpu": "2", "memory": "2Gi"} if case["resources"] == "both" else {},
        volume_mode=str(case["volume_mode"]),
        access_mode=str(case["access_mode"]),
        node_selector=dict(case["node_selector"]),  # type: ignore[call-overload]
        tolerations=tuple(case["tolerations"]),  # type: ignore[arg-type]
        spread=case["spread"],  # type: ignore[arg-type]
        priority_class=case["priority_class"],  # type: ignore[arg-type]
        fs_group=case["fs_group"],  # type: ignore[arg-type]
        run_as_user=case["run_as_user"],  # type: ignore[arg-type]
        pod_patch=patch,
    )
    claims = tuple(case["claims"])  # type: ignore[arg-type]
    if spec.shared:
        claims = claims[:1]
    objects = [manifests.namespace("bench"), manifests.lock("bench", holder_of("s"))]
    for storage_class in ("ocs-storagecluster-ceph-rbd", "gp3.encrypted"):
        objects += manifests.target_objects(spec, storage_class, 4, claims)
    objects.append(manifests.run_configmap(spec, "fio-run-1", "[rr]\nrw=read\n", ["a,8765"]))
    objects.append(manifests.run_job(spec, "fio-run-1", 600))
    server = k8s_deploy.ServerSpec(
        namespace="bench", storage_class="fast", fs_group=case["server_fs_group"]
    )
    objects += k8s_deploy.server_objects(server)
    return objects


@pytest.mark.parametrize("index", range(len(CASES)))
def test_every_rendered_manifest_is_valid_in_strict_mode(index, tmp_path):
    case = CASES[index]
    kinds = set()
    for obj in rendered(case, tmp_path):
        kinds.add(obj["kind"])
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                path = ".".join(str(p) for p in err.path)
                pytest.fail(
                    f"{obj['kind']} {obj['metadata']['name']} invalid for Kubernetes {version} "
                    f"with {case}: {path}: {err.message}"
                )
    assert {"StatefulSet", "Service", "Job", "ConfigMap", "Deployment"} <= kinds


def test_the_validator_is_strict():
    """The oracle rejects what a strict API server rejects (else the test above is void)."""
    sts = manifests.statefulset(KubernetesSettings(), "sc", 1)
    sts["spec"]["template"]["spec"]["containers"][0]["cpuPinning"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="cpuPinning"):
        kubernetes_validate.validate(sts, VERSIONS[-1], strict=True)


def test_block_with_rwx_is_not_renderable():
    from pytest_fioloadgen.backend_factory.kubernetes import kubernetes_settings
    from pytest_fioloadgen.settings import resolve

    settings = resolve(
        rootdir=Path("/r"),
        cli={"volume_mode": "block", "access_mode": "rwx"},
        env={},
        ini={},
    )
    with pytest.raises(ConfigError):
        kubernetes_settings(settings)
