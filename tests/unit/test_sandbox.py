"""The sandbox's command line: only what fio needs, nothing of the harness's environment,
and ``auto`` never falling back in CI or on the results server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_fioloadgen.backends.sandbox import (
    FIO_ETC,
    bwrap_argv,
    choose_sandbox,
    in_ci,
    program_files,
)
from pytest_fioloadgen.exceptions import ConfigError
from pytest_fioloadgen.fio.process import MARKER_VARIABLE, fio_environment

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio")


def _binds(argv: list[str]) -> list[tuple[str, str, str]]:
    return [
        (argv[i], argv[i + 1], argv[i + 2])
        for i in range(len(argv) - 2)
        if argv[i] in ("--ro-bind", "--ro-bind-try", "--bind")
    ]


@needs_fio
def test_the_sandbox_binds_fio_its_libraries_and_a_minimal_etc_never_the_root(tmp_path):
    argv = bwrap_argv("bwrap", ["fio", "--server"], writable=[tmp_path], cwd=tmp_path)
    binds = _binds(argv)
    sources = {source for _kind, source, _dest in binds}
    assert "/" not in sources
    for forbidden in ("/root", "/home", "/tmp", "/var", "/etc", "/etc/shadow", "/srv", "/usr"):
        assert forbidden not in sources
    fio, files, listed = program_files("fio")
    assert listed and len(files) > 1  # fio and what ldd lists
    assert argv[argv.index("--") + 1] == fio
    assert {(kind, source) for kind, source, _ in binds} >= {
        ("--ro-bind-try", path) for path in FIO_ETC
    }
    assert ("--bind", str(tmp_path), str(tmp_path)) in binds
    # Only the worker directory is writable, and the sandbox's root is read-only.
    assert [b for b in binds if b[0] == "--bind"] == [("--bind", str(tmp_path), str(tmp_path))]
    assert argv[argv.index("--remount-ro") + 1] == "/"


def test_fio_gets_none_of_the_harnesss_environment(monkeypatch):
    monkeypatch.setenv("FAKE_SECRET", "hunter2")
    environment = fio_environment("m1")
    assert set(environment) == {"PATH", "LC_ALL", MARKER_VARIABLE}
    assert environment["LC_ALL"] == "C" and environment[MARKER_VARIABLE] == "m1"
    assert "hunter2" not in repr(fio_environment())


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("yes", True), ("", False), ("false", False), ("0", False)],
)
def test_ci_is_ci_unless_said_otherwise(value, expected):
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False


def test_auto_never_falls_back_in_ci_or_on_the_server(tmp_path):
    missing = str(tmp_path / "no-bwrap")
    with pytest.raises(ConfigError) as info:
        choose_sandbox(
            "auto", where="--fio-sandbox (default)", executable=missing, strict="CI is set"
        )
    assert str(info.value).startswith(f"--fio-sandbox (default) auto: {missing} is not installed")
    assert str(info.value).endswith(
        "; fio never runs unconfined when CI is set (--fio-sandbox none says you mean it)"
    )
    elsewhere = choose_sandbox("auto", where="--fio-sandbox (default)", executable=missing)
    assert not elsewhere.confined and "is not installed" in elsewhere.reason
    assert choose_sandbox("none", where="FIO_SANDBOX", strict="CI is set").kind == "none"


@needs_fio
def test_an_allowed_network_engine_reads_its_configuration(tmp_path, monkeypatch):
    from pytest_fioloadgen.backend_factory import sandbox_of
    from pytest_fioloadgen.settings import resolve

    if choose_sandbox("auto", where="test").kind != "bwrap":
        pytest.skip("bwrap cannot start here")
    monkeypatch.delenv("CI", raising=False)
    settings = resolve(rootdir=tmp_path, cli={"allow_engines": "rbd"}, env={}, ini={})
    sandbox = sandbox_of(settings)
    assert sandbox.readable == ("/etc/ceph",)
    argv = sandbox.command(["fio"], writable=[tmp_path], cwd=tmp_path)
    assert ("--ro-bind-try", "/etc/ceph", "/etc/ceph") in _binds(argv)
    plain = sandbox_of(resolve(rootdir=tmp_path, cli={}, env={}, ini={}))
    assert "/etc/ceph" not in plain.command(["fio"], writable=[tmp_path], cwd=tmp_path)
    assert os.path.isabs(argv[argv.index("--") + 1])
    assert Path(argv[argv.index("--") + 1]).name == "fio"
