"""One run, one identity: the test and the overrides are part of a case's id, of its
stored run and of its history key; different tests never share a row, a cell or a key."""

from __future__ import annotations

import pytest

from pytest_fioloadgen.identity import case_test_part, override_tags
from pytest_fioloadgen.store import open_store

PROFILE = "[global]\nioengine=psync\nsize=1m\n[job]\nrw=randread\nbs=4k\n"

THREE_TESTS = """
import pytest

def test_storage(fio_case, fio_run):
    fio_run(fio_case)

@pytest.mark.fio(profile="my-randread", bs="16k")
def test_marker(fio_run):
    fio_run()

def test_adhoc(fio_run):
    fio_run("my-randread", iodepth=32)
"""


@pytest.fixture
def project(pytester):
    profiles = pytester.mkdir("profiles")
    (profiles / "my-randread.fio").write_text(PROFILE)
    pytester.makepyfile(test_three=THREE_TESTS)
    return pytester


def test_three_tests_on_one_profile_are_three_measurements(project):
    result = project.runpytest(
        "-p", "no:cacheprovider", "-v", "--fio-profiles-dir", "profiles", "--fio-store", "h.db"
    )
    result.assert_outcomes(passed=3)
    # Readable ids with the override tags.
    result.stdout.fnmatch_lines(
        [
            "*test_three.py::test_storage[[]my-randread-w1-local[]] PASSED*",
            "*test_three.py::test_marker[[]my-randread-bs16k-w1-local[]] PASSED*",
        ]
    )
    # The summary has a test column and one row per test.
    result.stdout.fnmatch_lines(
        [
            "test*case*IOPS*",
            "*",
            "test_storage*my-randread-w1-local*",
            "test_marker*my-randread-bs16k-w1-local*",
            "test_adhoc*my-randread-qd32-w1-local*",
        ]
    )
    store = open_store(str(project.path / "h.db"))
    try:
        runs = store.query()
    finally:
        store.close()
    assert len(runs) == 3
    assert len({run.history_key for run in runs}) == 3
    assert {case_test_part(run.test_id).rsplit("::", 1)[1] for run in runs} == {
        "test_storage",
        "test_marker",
        "test_adhoc",
    }


def test_the_same_test_and_case_share_its_history(project):
    for _ in range(2):
        project.runpytest(
            "-p", "no:cacheprovider", "--fio-profiles-dir", "profiles", "--fio-store", "h.db"
        ).assert_outcomes(passed=3)
    store = open_store(str(project.path / "h.db"))
    try:
        runs = store.query()
    finally:
        store.close()
    assert len(runs) == 6
    by_key: dict[str, int] = {}
    for run in runs:
        by_key[run.history_key] = by_key.get(run.history_key, 0) + 1
    assert sorted(by_key.values()) == [2, 2, 2]


@pytest.mark.parametrize(
    ("overrides", "tags"),
    [
        ({"iodepth": 16}, ["qd16"]),
        ({"bs": "16k", "iodepth": "1"}, ["qd1", "bs16k"]),
        ({"numjobs": 4, "rwmixread": 70}, ["nj4", "rw70"]),
        ({"direct": 0}, ["buffered"]),
        ({"rw": "randwrite", "ioengine": "io_uring"}, ["randwrite", "io_uring"]),
    ],
)
def test_one_tag_scheme_for_overrides(overrides, tags):
    assert override_tags(overrides) == tags


def test_server_jobs_share_one_test_part():
    assert case_test_part("job:1a2b") == case_test_part("job") == "job"
    assert case_test_part("bench/test_x.py::test_storage[randread-w1-local]") == (
        "bench/test_x.py::test_storage"
    )
