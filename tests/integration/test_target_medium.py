"""Targets on memory: a real tmpfs (and an overlay on one) stops the run with one line."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.base import Environment
from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.backends.medium import OPT_IN, Medium, classify, mount_of
from pytest_fioloadgen.exceptions import BackendError

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs mounted under tmp_path, unmounted afterwards."""
    mount_point = tmp_path / "ram"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "none", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@needs_root
def test_a_tmpfs_target_is_refused_with_one_line(tmpfs: Path) -> None:
    backend = LocalBackend([LocalTarget("ram", tmpfs)], session_id=uuid.uuid4().hex)
    with pytest.raises(BackendError) as caught:
        backend.deploy(["ram"], 1)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        f"target 'ram' ({tmpfs}) is on tmpfs (memory-backed: figures would measure RAM);"
        " choose a directory on a real device with --fio-target [NAME=]DIR, or pass"
        f" {OPT_IN} to measure it anyway (recorded in every run)"
    )
    assert caught.value.setting == "target"
    assert list(tmpfs.iterdir()) == []  # nothing deployed


@needs_root
def test_an_allowed_tmpfs_target_is_recorded_with_every_run(tmpfs: Path) -> None:
    backend = LocalBackend(
        [LocalTarget("ram", tmpfs)], session_id=uuid.uuid4().hex, allow_memory_target=True
    )
    env = backend.deploy(["ram"], 1)
    try:
        facts = backend.fingerprint(env)["targets"]["ram"]
        assert facts["medium"] == {
            "fstype": "tmpfs",
            "memory": True,
            "o_direct": True,  # Linux >= 6.6: why the probe alone cannot tell
            "allowed_by": OPT_IN,
        }
        assert env.target_notes["ram"] == [
            f"target 'ram' is on tmpfs (memory-backed: figures would measure RAM); run anyway"
            f" because of {OPT_IN}"
        ]
    finally:
        backend.teardown(env)


@needs_root
def test_an_overlay_on_tmpfs_is_memory_backed(tmpfs: Path) -> None:
    for name in ("upper", "work", "lower", "merged"):
        (tmpfs / name).mkdir()
    merged = tmpfs / "merged"
    options = f"lowerdir={tmpfs / 'lower'},upperdir={tmpfs / 'upper'},workdir={tmpfs / 'work'}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        medium = classify(merged, probe=False)
        assert (medium.fstype, medium.upper_fstype, medium.memory) == ("overlay", "tmpfs", True)
        assert "is on overlay over tmpfs (memory-backed" in medium.refusal("o")
    finally:
        subprocess.run(["umount", "-l", str(merged)], check=False)


def test_the_default_directory_is_a_real_disk_under_the_rootdir(tmp_path: Path) -> None:
    default = tmp_path / ".fioloadgen" / "local"
    backend = LocalBackend([LocalTarget("local")], session_id=uuid.uuid4().hex, default_dir=default)
    env = backend.deploy(["local"], 1)
    try:
        assert Path(env.details["directories"]["local"]).parent == default
        # A target that can measure a device keeps the fingerprint (and history key) it had.
        assert "medium" not in backend.fingerprint(env)["targets"]["local"]
        assert env.target_notes == {}
    finally:
        backend.teardown(Environment(backend.name, {}))


def test_a_file_system_refusing_o_direct_gets_the_same_kind_of_line() -> None:
    medium = Medium("/mnt/x", "fuse.sshfs", "/mnt/x", memory=False, o_direct=False,
                    o_direct_error="open: Invalid argument")  # fmt: skip
    assert medium.refusal("remote") == (
        "target 'remote' (/mnt/x) is on fuse.sshfs, which refuses O_DIRECT (open: Invalid"
        " argument): direct=1 profiles cannot run there; choose a directory on a real device"
        f" with --fio-target [NAME=]DIR, or pass {OPT_IN} to measure it anyway (recorded in"
        " every run)"
    )


def test_mountinfo_overlay_upper_dir_is_followed() -> None:
    mountinfo = (
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "30 22 0:40 / /run rw - tmpfs none rw,size=100m\n"
        "31 22 0:41 / /srv/data rw - overlay overlay rw,lowerdir=/lower,upperdir=/run/up,"
        "workdir=/run/work\n"
    )
    mount = mount_of(Path("/srv/data/x"), mountinfo)
    assert mount is not None and mount.fstype == "overlay"
    assert mount.option("upperdir") == "/run/up"
    upper = mount_of(Path("/run/up"), mountinfo)
    assert upper is not None and upper.fstype == "tmpfs"


@needs_root
def test_the_plugin_stops_at_a_tmpfs_target_with_a_usage_error(
    pytester: pytest.Pytester, tmpfs: Path
) -> None:
    pytester.makepyfile("def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n")
    result = pytester.runpytest(
        "--fio-target", f"ram={tmpfs}", "--fio-runtime", "1", "--fio-size", "4m",
        "--fio-profiles", "lat-qd1-4k", "--fio-store", "none", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --fio-target: target 'ram' ({tmpfs}) is on tmpfs (memory-backed*{OPT_IN}*"]
    )


@needs_root
def test_an_allowed_tmpfs_is_said_next_to_the_figures(
    pytester: pytest.Pytester, tmpfs: Path
) -> None:
    pytester.makepyfile("def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n")
    result = pytester.runpytest(
        "--fio-target", f"ram={tmpfs}", "--fio-allow-memory-target", "--fio-runtime", "1",
        "--fio-size", "4m", "--fio-profiles", "lat-qd1-4k", "--fio-store", "none",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["NOT A DEVICE: target 'ram' is on tmpfs (memory-backed*; run anyway because of*"]
    )
