"""Profile lint: one stable code and one line per check, at check, collection and run."""

from __future__ import annotations

import pytest

from pytest_fioloadgen.cli import main
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.profiles.lint import (
    CHECKS,
    LintContext,
    blocking,
    lint,
    rate_cap_finding,
)

CLEAN = "[global]\nioengine=libaio\ndirect=1\nsize=1g\ntime_based\nruntime=10\nramp_time=2\n"


def codes(text: str, context: LintContext | None = None) -> list[str]:
    return [finding.code for finding in lint(parse_profile(text, name="p"), context)]


def test_a_clean_profile_has_no_findings() -> None:
    assert codes(CLEAN + "[j]\nrw=randread\n") == []


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (CLEAN + "[a]\nrw=read\n[b]\nrw=write\n", "FL001", "jobs 'a' and 'b' run at the same"),
        (CLEAN + "gtod_reduce=1\n[j]\nrw=read\n", "FL002", "sets gtod_reduce"),
        (CLEAN + "[j]\nrw=read\ndisable_clat=1\n", "FL002", "sets disable_clat"),
        (CLEAN.replace("direct=1", "direct=0") + "[j]\n", "FL003", "uses buffered I/O"),
        (CLEAN.replace("size=1g", "size=4m") + "[j]\n", "FL004", "device or controller cache"),
        (CLEAN.replace("ramp_time=2\n", "") + "[j]\n", "FL005", "without ramp_time"),
        (CLEAN.replace("runtime=10\n", "") + "[j]\n", "FL006", "never ends"),
        (CLEAN + "[j]\nrw=randread\nfilename=/dev/vdb\n", "FL008", "--fio-prefill"),
    ],
)
def test_each_check_has_its_code_and_one_line(text: str, code: str, fragment: str) -> None:
    findings = [f for f in lint(parse_profile(text, name="p")) if f.code == code]
    assert len(findings) == 1
    line = findings[0].line()
    assert line.startswith(f"{code} {CHECKS[code][0]} ({CHECKS[code][1]}): ")
    assert fragment in line
    assert "\n" not in line


def test_stonewall_separates_jobs() -> None:
    assert "FL001" not in codes(CLEAN + "[a]\nrw=read\n[b]\nstonewall\nrw=write\n")


def test_buffered_working_set_against_memory() -> None:
    text = CLEAN.replace("direct=1", "direct=0").replace("size=1g", "size=128m") + "[j]\n"
    small = LintContext(workers=4, memory_bytes=8 * 1024**3)
    assert "FL004" in codes(text, small)
    finding = next(f for f in lint(parse_profile(text, name="p"), small) if f.code == "FL004")
    assert "512 MiB (128m x 1 job(s) x 4 worker(s))" in finding.reason
    assert "FL004" not in codes(text, LintContext(workers=4, memory_bytes=256 * 1024**2))


def test_prefill_answers_the_unwritten_read() -> None:
    text = CLEAN + "[j]\nrw=randread\nfilename=/dev/vdb\n"
    assert "FL008" not in codes(text, LintContext(prefill=True))


def test_strict_turns_warnings_into_errors() -> None:
    findings = lint(parse_profile(CLEAN.replace("ramp_time=2\n", "") + "[j]\n", name="p"))
    assert blocking(findings) == []
    assert [f.code for f in blocking(findings, strict=True)] == ["FL005"]


def test_rate_cap_is_checked_after_the_run() -> None:
    profile = parse_profile(CLEAN + "[j]\nrw=randread\nrate_iops=500\n", name="p")
    assert rate_cap_finding(profile, [499.0, 501.0]) is None
    low = rate_cap_finding(profile, [300.0, 500.0])
    assert low is not None and "reached only 300" in low.line()
    high = rate_cap_finding(profile, [560.0])
    assert high is not None and high.code == "FL007" and "did 560" in high.reason
    assert rate_cap_finding(parse_profile(CLEAN + "[j]\n", name="p"), [1.0]) is None


def test_profile_check_prints_findings_under_the_verdict(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("FIO_LINT_STRICT", raising=False)
    warned = tmp_path / "warned.fio"
    warned.write_text(CLEAN.replace("ramp_time=2\n", "") + "[j]\nrw=randread\n")
    broken = tmp_path / "broken.fio"
    broken.write_text(CLEAN.replace("runtime=10\n", "") + "[j]\nrw=randread\n")
    assert main(["profile", "check", str(warned)]) == 0
    assert main(["profile", "check", str(warned), "--strict"]) == 1
    assert main(["profile", "check", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{warned}: accepted (1 lint finding(s))"
    assert out[1].startswith("  FL005 no-ramp (warn): job 'j' is time_based without ramp_time")
    assert out[-2] == f"{broken}: refused by lint (1 lint finding(s))"
    assert out[-1].startswith("  FL006 endless (error): ")


def test_shipped_profiles_lint_clean() -> None:
    from pytest_fioloadgen.profiles import load_profile, shipped_profiles_dir

    for path in sorted(shipped_profiles_dir().glob("*.fio")):
        context = LintContext(workers=4, memory_bytes=64 * 1024**3)
        assert lint(load_profile(path), context) == [], path.name
