"""The cache? flag fires: a buffered read served by the page cache beats the direct-I/O
read ceiling a probe measured on the same target. A direct read of the same data is never
flagged by bandwidth, however fast the host serves it that day (a VM's hypervisor cache
serves direct reads too): at most it carries the weaker "host cache?" note (pytester,
real fio on the local backend's ext4 target)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.cgroups import IoLimits, IoThrottle, block_device_of, io_controller

pytestmark = pytest.mark.slow

INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
# invalidate=0 keeps what fio's layout just wrote in the page cache: the buffered reads
# are then served from memory, the direct ones from the disk.
READ = """# cached read
[global]
ioengine=psync
size=32m
runtime=2
time_based
ramp_time=1
invalidate=0
bs=1m
direct={direct}
[rr]
rw=randread
"""


#: The disk's direct reads are capped for the session (cgroup v1 blkio): a page-cache read
#: is a memory copy whose speed is this machine's CPU time, and a VM's host serves direct
#: reads from its own cache at 0.4-2.5 GB/s depending on the day. Uncapped, a busy 2-core
#: machine made the two meet (1.3 GB/s buffered beside a 0.86 GB/s probe); capped, the
#: probe reads 100 MB/s whatever the host does, and the test no longer depends on it.
READ_CAP_BPS = 100 * 1024 * 1024


@contextlib.contextmanager
def direct_reads_capped(path: Path) -> Iterator[None]:
    """This process (and the fio servers it starts) read ``path``'s disk at READ_CAP_BPS."""
    controller = io_controller()
    if controller is None or os.geteuid() != 0:
        pytest.skip("needs root and a cgroup io controller (the project's CI has both)")
    throttle = IoThrottle(controller, block_device_of(path), IoLimits(read_bps=READ_CAP_BPS))
    throttle.apply([os.getpid()])
    try:
        yield
    finally:
        throttle.lift()


def run_session(pytester: pytest.Pytester, *extra: str) -> tuple[pytest.RunResult, dict]:
    pytester.makeini(INI)
    pytester.makepyfile(test_storage=TEST)
    directory = pytester.mkdir("myprofiles")
    (directory / "buffered.fio").write_text(READ.format(direct=0))
    (directory / "direct.fio").write_text(READ.format(direct=1))
    with direct_reads_capped(pytester.path):
        result = pytester.runpytest(
            "--fio-profiles-dir", str(directory), "--fio-store", "none", "--fio-json", "out.json",
            "-p", "no:cacheprovider", *extra,
        )  # fmt: skip
    exported = json.loads((pytester.path / "out.json").read_text())
    return result, exported


def notes_by_case(exported: dict) -> dict[str, list[str]]:
    return {run["case"]: run["profile"]["notes"] for run in exported["runs"]}


def test_a_cached_read_is_flagged_against_the_probed_ceiling(pytester) -> None:
    result, exported = run_session(pytester, "--fio-read-probe", "on")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["cache? buffered-w1-local: likely cache hit: read * exceeds the direct-I/O probe's *"]
    )
    assert "cache? direct-w1-local" not in result.stdout.str()
    assert "direct-w1-local* (cache?)" not in result.stdout.str()
    notes = notes_by_case(exported)
    assert any("likely cache hit" in note for note in notes["buffered-w1-local"])
    assert not any("likely cache hit" in note for note in notes["direct-w1-local"])
    # Whatever the host's cache did, a direct read's note is the weaker one, or none.
    assert all(
        note.startswith("host cache? direct read")
        for note in notes["direct-w1-local"]
        if "ceiling" in note
    )
    by_case = {run["case"]: run for run in exported["runs"]}
    assert by_case["buffered-w1-local"]["cache_note"]
    assert not by_case["direct-w1-local"]["cache_note"]


def test_without_the_probe_nothing_measures_the_ceiling(pytester) -> None:
    result, exported = run_session(pytester, "--fio-read-probe", "off")
    result.assert_outcomes(passed=2)
    assert "cache?" not in result.stdout.str()
    assert not any(run["cache_note"] for run in exported["runs"])
