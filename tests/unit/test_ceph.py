"""The Ceph collector's parsing, on outputs in the documented ``ceph ... --format json``
shapes (tests/data/ceph: version, osd tree, osd pool ls detail, node ls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_fioloadgen.backends import ceph
from pytest_fioloadgen.exceptions import BackendError

DATA = Path(__file__).parents[1] / "data" / "ceph"


def load(name):
    return json.loads((DATA / f"{name}.json").read_text())


def test_summary_of_a_rook_cluster():
    facts = ceph.summarize({key: load(key) for key in ("version", "osd_tree", "pools", "nodes")})
    assert facts["version"] == "17.2.6 quincy"
    assert facts["osds"] == 4 and facts["osds_up"] == 3
    assert facts["osds_by_device_class"] == {"hdd": 1, "ssd": 3}
    assert facts["osd_hosts"] == 3
    assert facts["pools"]["replicapool"] == {
        "type": "replicated",
        "size": 3,
        "min_size": 2,
        "pg_num": 32,
        "erasure_code_profile": None,
        "applications": ["rbd"],
    }
    assert facts["pools"]["ec-data"]["type"] == "erasure"
    assert facts["pools"]["ec-data"]["erasure_code_profile"] == "ec-2-1"
    assert facts["daemon_hosts"] == {"mgr": 1, "mon": 3, "osd": 3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ceph version 18.2.1 (7fe91d5d5842e04be3b4f514d6dd990c54b29c76) reef (stable)",
            "18.2.1 reef",
        ),
        (
            "ceph version 16.2.10-138.el8cp (a63ae467c8e1f7503ea3855893f1e5ca189a71b9) pacific (stable)",
            "16.2.10-138.el8cp pacific",
        ),
    ],
)
def test_versions(text, expected):
    assert ceph.parse_version({"version": text}) == expected


def test_unexpected_shapes_are_named():
    with pytest.raises(BackendError, match="ceph version: unexpected output"):
        ceph.parse_version({"version": "garbage"})
    with pytest.raises(BackendError, match="ceph osd tree: no 'nodes' list"):
        ceph.parse_osd_tree({"stray": []})
    with pytest.raises(BackendError, match="expected a JSON list of pools"):
        ceph.parse_pools({"pool_name": "x"})


def test_pool_of_a_storage_class():
    assert ceph.pool_of({"clusterID": "rook-ceph", "pool": "replicapool"}) == "replicapool"
    assert ceph.pool_of({"fsName": "myfs", "pool": "myfs-replicated"}) == "myfs-replicated"
    assert ceph.pool_of({"dataPool": "ec-data", "pool": ""}) == "ec-data"
    assert ceph.pool_of({}) is None
