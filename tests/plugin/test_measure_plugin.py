"""Lint at collection and on every run, and repeatability in the summary (pytester, real
fio)."""

from __future__ import annotations

import pytest

from pytest_fioloadgen.store import open_store

FAST = ("--fio-runtime", "1", "--fio-size", "4m", "-p", "no:cacheprovider")
INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""
TEST = "def test_storage(fio_case, fio_run):\n    fio_run(fio_case)\n"
PROFILE = (
    "# p\n[global]\nioengine=psync\ndirect=1\nsize=4m\nruntime=1\ntime_based\n[rr]\nrw=randread\n"
)


@pytest.fixture
def profile_dir(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makepyfile(test_storage=TEST)
    directory = pytester.mkdir("myprofiles")

    def write(text: str = PROFILE, name: str = "quick") -> tuple[str, str]:
        (directory / f"{name}.fio").write_text(text)
        return ("--fio-profiles-dir", str(directory))

    return write


def test_a_lint_error_stops_the_test_at_collection(pytester, profile_dir) -> None:
    args = profile_dir(PROFILE.replace("runtime=1\n", ""))
    result = pytester.runpytest("--collect-only", "-q", *args, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*marker fio on test_storage: profile 'quick.fio' case quick-w1-local:"
         " FL006 endless (error): job 'rr' is time_based without a runtime*"]
    )  # fmt: skip


def test_strict_lint_turns_a_warning_into_a_collection_error(pytester, profile_dir) -> None:
    args = profile_dir()
    assert pytester.runpytest("--collect-only", "-q", *args).ret == 0
    strict = pytester.runpytest("--collect-only", "-q", "--fio-lint-strict", *args)
    assert strict.ret == pytest.ExitCode.INTERRUPTED
    strict.stdout.fnmatch_lines(
        ["*(fio_lint_strict): FL004 fits-in-cache (warn): job 'rr' works on 4 MiB*(+1 more: FL005)"]
    )


def test_lint_findings_are_notes_of_every_run_and_cv_is_reported(pytester, profile_dir) -> None:
    args = profile_dir()
    pytester.makefile(
        ".toml",
        limits="[gating]\nmax_cv = { iops = 1000, read_lat_mean_ms = 900, read_lat_p99_ms = 900 }\n",
    )
    result = pytester.runpytest(
        *FAST, *args, "--fio-repeat", "2", "--fio-thresholds", "limits.toml",
        "--fio-store", "h.db", "--fio-baseline", "none",
    )  # fmt: skip
    result.assert_outcomes(passed=2)
    # iops under its configured limit; the latency families keep their defaults.
    result.stdout.fnmatch_lines(
        ["CV quick-w1-local over 2 runs: iops *% <= 1000%, read_lat_mean_ms *% <= 900%, *"]
    )
    store = open_store(str(pytester.path / "h.db"))
    try:
        runs = store.query()
    finally:
        store.close()
    assert len(runs) == 2
    for run in runs:
        assert any(note.startswith("lint FL005 no-ramp (warn): ") for note in run.notes)
        assert any(note.startswith("lint FL004 fits-in-cache (warn): ") for note in run.notes)
    last = max(runs, key=lambda run: run.repeat)
    assert last.evidence["variation"][0]["metric"] == "iops"
    assert last.evidence["variation"][0]["limit_pct"] == 1000


def test_max_cv_on_the_command_line_makes_noisy_repeats_unstable(pytester, profile_dir) -> None:
    args = profile_dir()
    # No two real runs agree to 0.001%: every repeated case is unstable.
    result = pytester.runpytest(
        *FAST, *args, "--fio-repeat", "2", "--fio-max-cv", "0.001", "--fio-store", "none"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*quick-w1-local-r2: unstable: repeats disagree: iops CV *(limit 0.001%)*"]
    )
