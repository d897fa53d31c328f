"""The allow-list safety policy: fio's own option table as the oracle of what exists, the
reported escapes refused with a line that names the option, and the explicit allowances."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fioloadgen.exceptions import ConfigError, ProfileError
from pytest_fioloadgen.profiles import Allowance, check_safety, parse_profile
from pytest_fioloadgen.profiles.fio_options import (
    ALIASES,
    ENGINE_OPTIONS,
    FILE_ENGINES,
    JOB_OPTIONS,
)
from pytest_fioloadgen.profiles.policy import allowed_engines

needs_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio")
FIO_EXAMPLES = Path("/usr/share/doc/fio/examples")


def _fio_names(*args: str) -> set[str]:
    output = subprocess.run(["fio", *args], capture_output=True, text=True, check=False).stdout
    return {match.group(1) for match in re.finditer(r"^\s*([\w-]+)\s*:", output, re.MULTILINE)}


@needs_fio
def test_every_option_fio_knows_is_classified():
    """A newer fio's new option is refused until someone classifies it here."""
    assert _fio_names("--cmdhelp=all") - set(JOB_OPTIONS) == set()


@needs_fio
@pytest.mark.parametrize("engine", sorted(ENGINE_OPTIONS))
def test_engine_options_match_fio(engine):
    listed = _fio_names(f"--enghelp={engine}")
    if not listed:
        pytest.skip(f"this fio has no {engine} engine")
    assert listed == set(ENGINE_OPTIONS[engine])


@needs_fio
def test_every_alias_is_one_fio_resolves():
    for alias, name in ALIASES.items():
        help_text = subprocess.run(
            ["fio", f"--cmdhelp={alias}"], capture_output=True, text=True, check=False
        ).stdout
        assert f"alias: {alias}" in help_text or name in help_text, alias


def refusal(text: str, env: dict[str, str] | None = None) -> str:
    profile = parse_profile(text, name="p", env=env or {})
    with pytest.raises(ProfileError) as info:
        check_safety(profile)
    return str(info.value)


def test_a_job_name_that_is_a_path_is_refused():
    message = refusal(
        "[../../../../tmp/pwn.sh]\nfilename_format=$jobname\nrw=write\n"
        "buffer_pattern=0x23212f62696e2f73680a\n"
    )
    assert message.startswith(
        "profile 'p' line 1 section: job name '../../../../tmp/pwn.sh' is not allowed"
    )


def test_a_bare_log_under_a_path_name_is_refused_by_its_name():
    assert "job name '../x' is not allowed" in refusal("[../x]\nrw=read\nwrite_bw_log\n")


def test_double_expansion_is_refused():
    # U allowed (and empty): what is left is a reference fio would expand on the worker.
    message = refusal("[j]\nfilename=$${U}{HOME}/x\n", env={"U": ""})
    assert message == (
        "profile 'p' line 2: option filename=$${U}{HOME}/x is not allowed ('${' is left after"
        " variable substitution: fio on the worker would expand it again with the worker's"
        " environment)"
    )


def test_a_variable_spliced_into_an_option_name_is_checked_as_that_option():
    message = refusal("[j]\n${V}=touch /tmp/x\n", env={"V": "exec_prerun"})
    assert message == (
        "profile 'p' line 2: option exec_prerun is not allowed (runs a command on the worker)"
    )


def test_ioscheduler_is_refused():
    assert "option ioscheduler is not allowed (writes the device's I/O scheduler" in refusal(
        "[j]\nioscheduler=none\n"
    )


def test_the_engine_option_of_an_unused_engine_is_refused_and_a_typo_gets_a_hint():
    assert "an option of ioengine libaio" in refusal("[j]\nuserspace_reap=1\n")
    assert "did you mean iodepth?" in refusal("[j]\niodepht=4\n")


def test_a_device_is_allowed_only_when_granted_and_only_that_one():
    profile = parse_profile("[j]\nfilename=/dev/vdb\nrw=read\n", name="p")
    with pytest.raises(ProfileError, match="device nodes are never allowed"):
        check_safety(profile)
    check_safety(profile, Allowance(devices=("/dev/vdb",)))
    with pytest.raises(ProfileError):
        check_safety(profile, Allowance(devices=("/dev/vdc",)))


def test_network_engines_need_an_explicit_allowance_and_say_how():
    profile = parse_profile("[j]\nioengine=rbd\npool=rbd\nrbdname=img\n", name="p")
    with pytest.raises(ProfileError, match="allow it with fio_allow_engines = rbd"):
        check_safety(profile)
    check_safety(profile, Allowance(engines=("rbd",)))


def test_only_network_storage_engines_can_be_allowed():
    assert allowed_engines(["rbd", " nfs", ""], "ini fio_allow_engines") == ("rbd", "nfs")
    for engine in ("exec", "external:/x.so", "sg", "net"):
        with pytest.raises(ConfigError, match=f"ini fio_allow_engines: ioengine '{engine}'"):
            allowed_engines([engine], "ini fio_allow_engines")


def test_the_static_target_rebases_paths_fio_takes_from_the_servers_cwd():
    profile = parse_profile(
        "[global]\nwrite_iolog=.bashrc\nmem=mmap:buf\n[j]\nopendir=sub\nverify=md5\n",
        name="p",
    ).with_directory("/srv/target")
    text = profile.render()
    assert "write_iolog=/srv/target/.bashrc" in text
    assert "mem=mmap:/srv/target/buf" in text
    assert "opendir=/srv/target/sub" in text
    assert "verify_state_save=0" in text and "verify_dump=0" in text
    assert any("resolves it against the server's working directory" in n for n in profile.notes)


def test_file_engines_are_allowed():
    for engine in sorted(FILE_ENGINES):
        check_safety(parse_profile(f"[j]\nioengine={engine}\n", name="p"))


@needs_fio
@pytest.mark.skipif(not FIO_EXAMPLES.is_dir(), reason="needs Debian's fio-examples")
def test_every_fio_example_gets_one_verdict_line_and_no_traceback():
    files = sorted(FIO_EXAMPLES.glob("*.fio"))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_fioloadgen.cli", "profile", "check", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # One verdict line per file; lint findings are indented below it.
    lines = [line for line in completed.stdout.splitlines() if not line.startswith("  ")]
    assert len(lines) == len(files)
    for path, line in zip(files, lines, strict=True):
        assert line.startswith((f"{path}: accepted", f"{path}: refused"))
    assert "Traceback" not in completed.stderr
    assert completed.returncode in (0, 1)
