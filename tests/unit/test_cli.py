"""The fioloadgen command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_fioloadgen.cli import main

GOOD = "# fine\n[global]\nioengine=psync\nsize=4m\n[rr]\nrw=randread\n"


def test_profile_check_prints_one_verdict_per_file(tmp_path, capsys):
    good = tmp_path / "good.fio"
    good.write_text(GOOD)
    evil = tmp_path / "evil.fio"
    evil.write_text(GOOD + "exec_postrun=reboot\n")
    typo = tmp_path / "typo.fio"
    typo.write_text(GOOD + "bogus=1\n")
    status = main(["profile", "check", str(good), str(evil), str(typo), str(tmp_path / "nope.fio")])
    out = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("  ")]
    assert status == 1
    assert out[0] == f"{good}: accepted (1 lint finding(s))"
    assert out[1].startswith(f"{evil}: refused: profile 'evil.fio' line 7: option exec_postrun")
    assert out[2].startswith(f"{typo}: refused: profile 'typo.fio' line 7")
    assert "bogus" in out[2]
    assert out[3].startswith(f"{tmp_path / 'nope.fio'}: refused:")
    assert len(out) == 4


def test_profile_check_all_accepted_exits_zero(tmp_path, capsys):
    good = tmp_path / "good.fio"
    good.write_text(GOOD)
    assert main(["profile", "check", str(good)]) == 0


def test_shipped_profiles_are_listed_and_shown(capsys):
    assert main(["profile", "ls"]) == 0
    listing = capsys.readouterr().out
    for name in (
        "randread-4k",
        "randrw-70-30",
        "seqwrite-1m",
        "randread-4k-ratelimited",
        "seqread-1m",
        "lat-qd1-4k",
    ):
        assert name in listing
    assert main(["profile", "show", "randread-4k"]) == 0
    assert "rw=randread" in capsys.readouterr().out


def test_unknown_profile_is_one_line_on_stderr(capsys):
    assert main(["profile", "show", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fioloadgen: error: no profile named 'nosuch'")
    assert len(err.splitlines()) == 1


def test_profile_check_refuses_a_profile_linked_to_the_environment_without_printing_it(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("FAKE_SECRET", "hunter2")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "env.fio").symlink_to("/proc/self/environ")
    assert main(["profile", "check", str(profiles / "env.fio")]) == 1
    assert main(["profile", "show", "env", "--dir", str(profiles)]) == 2
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert captured.out.startswith(f"{profiles / 'env.fio'}: refused: profile 'env.fio': ")
    assert "is a symbolic link to /proc/" in captured.out
    assert len(captured.err.splitlines()) == 1


def test_profile_check_refuses_the_arithmetic_tricks_before_fio_parses_anything(tmp_path, capsys):
    tricks = {
        "opendir.fio": '[j]\nrw=read\nopendir=x=$ncpus/1\\n"/srv/canary\\n"\n',
        "spin.fio": "[j]\nrw=read\nsize=$ncpus*0+1m\\ni=0\\nwhile(i<3*10^8){i=i+1}\n",
        "plain.fio": "[j]\nrw=read\nsize=$ncpus*0+1m\n",
    }
    for name, text in tricks.items():
        (tmp_path / name).write_text(text)
    assert main(["profile", "check", *(str(tmp_path / name) for name in tricks)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": refused: ")[0] for line in out] == [
        str(tmp_path / name) for name in tricks
    ]
    assert "holds a backslash" in out[0] and "holds a backslash" in out[1]
    assert "fio would compute it with sh and bc on the worker" in out[2]


def test_profile_check_expands_only_the_variables_it_is_told_to(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("POOL_NAME", "bench")
    monkeypatch.delenv("FIO_ENV", raising=False)
    profile = tmp_path / "var.fio"
    profile.write_text(GOOD + "description=pool ${POOL_NAME}\n")
    assert main(["profile", "check", str(profile)]) == 1
    assert "allow it with --fio-env POOL_NAME" in capsys.readouterr().out
    assert main(["profile", "check", "--fio-env", "POOL_NAME", str(profile)]) == 0
    monkeypatch.setenv("FIO_ENV", "POOL_NAME")
    assert main(["profile", "check", str(profile)]) == 0


def test_profile_check_applies_the_caps(tmp_path, capsys):
    profile = tmp_path / "many.fio"
    profile.write_text(GOOD + "numjobs=400\n")
    assert main(["profile", "check", str(profile)]) == 1
    assert "400 jobs at once per worker" in capsys.readouterr().out
    assert main(["profile", "check", "--fio-caps", "numjobs=400", str(profile)]) == 0


def test_console_script_is_installed():
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_fioloadgen.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("fioloadgen ")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (["profile", "--ls"], ["profile", "ls"]),
        (["profile", "--show", "x"], ["profile", "show", "x"]),
        (["--debug", "job", "--ls", "--queued"], ["--debug", "job", "ls", "--status", "queued"]),
        (["job", "--show", "ID", "--raw"], ["job", "show", "ID", "--raw"]),
        (["job", "--show", "ID", "--with-spec"], ["job", "show", "ID", "--raw"]),
        (["job", "--delete", "ID"], ["job", "delete", "ID"]),
        (["db", "dump"], ["db", "export"]),
        (["db-dump", "--table", "jobs", "--out", "f"], ["db", "export", "--out", "f"]),
        (
            ["profile-add", "--name", "n", "--file", "f.fio"],
            ["profile", "add", "f.fio", "--name", "n"],
        ),
        (["profile-rm", "--name", "n"], ["profile", "rm", "n"]),
        (
            [
                "run",
                "--profile",
                "p",
                "--workers",
                "2",
                "--title",
                "t",
                "--storageclass",
                "ssd",
                "--provider",
                "aws",
                "--platform=openshift",
                "--wait",
            ],
            [
                "run",
                "--profile",
                "p",
                "--workers",
                "2",
                "--title",
                "t",
                "--target",
                "ssd",
                "--wait",
            ],
        ),
    ],
)
def test_fioloadgen_15_verb_forms_map_to_one_new_form(old, new):
    from pytest_fioloadgen.cli.legacy_forms import translate

    translated, note = translate(old)
    assert translated == new
    assert note is not None and "FIOLoadGen 1.5's form" in note
    assert note.endswith(f"`fioloadgen {' '.join(a for a in new if a != '--debug')}`")


@pytest.mark.parametrize(
    "argv",
    [
        ["profile", "ls"],
        ["run", "--profile", "p", "--workers", "1", "--title", "t"],
        ["job", "show", "--ls"],
        [],
    ],
)
def test_our_forms_pass_unchanged(argv):
    from pytest_fioloadgen.cli.legacy_forms import translate

    assert translate(argv) == (argv, None)


def test_a_15_form_parses_into_the_new_command(capsys):
    from pytest_fioloadgen.cli import build_parser
    from pytest_fioloadgen.cli.legacy_forms import translate

    args = build_parser().parse_args(translate(["job", "--show", "abc", "--raw"])[0])
    assert (args.job_command, args.id, args.raw) == ("show", "abc", True)
