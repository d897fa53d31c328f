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
from pytest_fioloadgen.profiles.fio_values import keyword_values
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


# -- the value fio will use (issue 19) -----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        # What the confinement issue ran: dash's echo turns \n into a line break, bc prints
        # the quoted string, fio uses it as the path.
        ('opendir=x=$ncpus/1\\n"/srv/canary\\n"', "'opendir=x=$ncpus/1\\\\n\"/srv/canary\\\\n\"'"),
        ('mem=x=$ncpus/1\\n"mmap:/srv/f\\n"', "'mem=x=$ncpus/1\\\\n\"mmap:/srv/f\\\\n\"'"),
        ('filename=x=$ncpus/1\\n"/etc/hostname\\n"', None),
        ("buffer_pattern=x=$ncpus/1\\n\\0047", None),
    ],
)
def test_the_bc_tricks_are_refused_by_what_they_hold(line, shown):
    message = refusal(f"[j]\nrw=write\n{line}\n")
    assert message.startswith("profile 'p' line 3: option ")
    assert "is not allowed (holds a" in message
    if shown is not None:
        assert f"option {shown} is not allowed" in message


@pytest.mark.parametrize(
    "line",
    [
        "size=$ncpus*0+1m",
        "numjobs=$ncpus/2",
        "iodepth=$ncpus-1",
        "offset=$mb_memory+$pagesize",
        # The key counts: fio looks for + - * / in the whole line.
        "hugepage-size=$pagesize",
        "description=$ncpus-core test",
    ],
)
def test_what_fio_would_hand_to_sh_and_bc_is_refused(line):
    assert refusal(f"[j]\n{line}\n") == (
        f"profile 'p' line 2: option {line} is not allowed (fio would compute it with sh and bc"
        " on the worker ($ncpus, $pagesize or $mb_memory with + - * /), and bc can print any"
        " value: write the number)"
    )


def test_fios_keywords_alone_are_numbers_and_the_policy_judges_them_as_such():
    check_safety(parse_profile("[j]\nnumjobs=$ncpus\nbs=$pagesize\nsize=$mb_memory%\n", name="p"))
    # The number is what is judged: 2 ms of log averaging is per I/O.
    ncpus = int(keyword_values()["$ncpus"])
    if ncpus < 10:
        assert "logs (nearly) every I/O" in refusal("[j]\nlog_avg_msec=$ncpus\n")
    # A path with a keyword has a '/' or is a number: bc, or a plain name.
    assert "sh and bc" in refusal("[j]\nfilename=/$ncpus\n")
    check_safety(parse_profile("[j]\nfilename=data$ncpus\n", name="p"))
    # % and ^ are no operators to fio's bc test: only a substitution happens.
    check_safety(parse_profile("[j]\nsize=$ncpus%\n", name="p"))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("filename=a\\:b", "holds a backslash"),
        ('buffer_pattern="abc"', "holds a quote"),
        ("verify_pattern='/etc/shadow'", "holds a quote"),
        ("description=it's", "holds a quote"),
        ("description=a\x1b]0;owned\x07", "holds the control character U+001B"),
        ("description=a\x85b", "holds the control character U+0085"),
        ("description=tab\there", "holds the control character U+0009"),
    ],
)
def test_backslashes_quotes_and_control_characters_are_refused_in_one_line(line, reason):
    message = refusal(f"[j]\n{line}\n")
    assert message.startswith("profile 'p' line 2: option ")
    assert reason in message
    assert "\n" not in message and "\x1b" not in message and "\x85" not in message


def test_a_nul_byte_cannot_hide_a_job_from_the_worker():
    """``description=a<NUL>b`` then ``[k]``: the policy and fio --parse-only saw jobs j and
    k, the fio server read a C string and ran only j."""
    message = refusal("[j]\nrw=read\ndescription=a\x00b\n[k]\nrw=write\n")
    assert message.startswith("profile 'p' line 3: option 'description=a\\x00b' is not allowed")
    assert "U+0000" in message


def test_a_section_name_with_a_nul_or_escape_is_refused_escaped():
    for name in ("j\x00k", "j\x1b[2J"):
        message = refusal(f"[{name}]\nrw=read\n")
        assert "job name" in message and "\x00" not in message and "\x1b" not in message


@pytest.mark.parametrize(
    "text",
    [
        # The reported one: with the harness's own logs, 0.7 GB per second of runtime.
        "[global]\nlog_avg_msec=0\nioengine=null\ntime_based\nruntime=1\nnumjobs=2\n[j]\n",
        "[j]\nlog_avg_msec=9\n",
        "[j]\nwrite_hist_log=h\nlog_hist_msec=1\n",
    ],
)
def test_logging_every_io_is_refused(text):
    assert "logs (nearly) every I/O" in refusal(text)


def test_a_log_without_an_averaging_window_is_refused_naming_the_job():
    assert refusal("[global]\nwrite_lat_log=lat\n[j]\nrw=read\n") == (
        "profile 'p' line 3 job 'j': write_lat_log without log_avg_msec logs every I/O"
        " (hundreds of MB a second on a fast device): set log_avg_msec to 10 or more"
    )


def test_averaged_and_histogram_logs_are_allowed():
    check_safety(
        parse_profile(
            "[global]\nwrite_bw_log=bw\nwrite_iops_log=io\nlog_avg_msec=10\n"
            "[j]\nwrite_hist_log=h\nlog_hist_msec=100\n[k]\nlog_hist_msec=0\n",
            name="p",
        )
    )
