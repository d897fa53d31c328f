"""The pytest plugin, driven in-process with pytester (real fio for the runs)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from pytest_fioloadgen.store import open_store

# Short real runs: 1 s of fio on a 4 MiB file per worker.
FAST = ("--fio-runtime", "1", "--fio-size", "4m", "-p", "no:cacheprovider")

STORAGE_TEST = """
def test_storage(fio_case, fio_run):
    result = fio_run(fio_case)
    assert len(result.workers) == fio_case.workers
"""

QUICK_PROFILE = """# A quick random read.
[global]
ioengine=psync
size=4m
runtime=1
time_based
[rr]
rw=randread
bs=4k
"""


INI = """[pytest]
filterwarnings =
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
"""


@pytest.fixture
def profiles(pytester):
    """A profiles directory with two small profiles; returns its option.

    The ini file pins the rootdir: path arguments (targets, this directory) would
    otherwise move it and change the node ids.
    """
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "quick.fio").write_text(QUICK_PROFILE)
    (directory / "quickwrite.fio").write_text(
        QUICK_PROFILE.replace("rw=randread", "rw=randwrite").replace("random read", "random write")
    )
    return ("--fio-profiles-dir", str(directory))


def store_rows(pytester, name="history.db"):
    store = open_store(str(pytester.path / name))
    try:
        return store.query(with_raw=True)
    finally:
        store.close()


def test_options_are_in_help(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*storage benchmarking with fio*",
            "*--fio-backend=NAME*",
            "*--fio-workers=N,N*",
            "*--fio-target=*NAME=*DIR*",
            "*--fio-store=URI*",
            "*--fio-keep*",
            "*fio_workers (string)*",
        ]
    )


def test_markers_are_registered_and_strict_clean(pytester, profiles):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.fio(profile="quick", workers=[1])
        def test_marked(fio_case):
            assert fio_case.profile.name == "quick"
        """
    )
    result = pytester.runpytest("--strict-markers", "--collect-only", "-q", *profiles)
    result.stdout.fnmatch_lines(
        ["test_markers_are_registered_and_strict_clean.py::test_marked[quick-w1-local]"]
    )
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.benchmark:*", "@pytest.mark.fio(profile=None*"])


def test_ids_cover_profiles_workers_and_targets(pytester, profiles, tmp_path):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = pytester.runpytest(
        "--collect-only",
        "-q",
        "--fio-workers",
        "4,1",
        "--fio-target",
        f"fast={tmp_path / 'a'}",
        "--fio-target",
        str(tmp_path / "b"),
        *profiles,
    )
    result.stdout.fnmatch_lines(
        [
            "test_storage.py::test_storage[quick-w1-fast]",
            "test_storage.py::test_storage[quick-w1-b]",
            "test_storage.py::test_storage[quick-w4-fast]",
            "test_storage.py::test_storage[quick-w4-b]",
            "test_storage.py::test_storage[quickwrite-w1-fast]",
            "*8 tests collected*",
        ]
    )


def test_repeats_interleave_cases(pytester, profiles):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--collect-only",
        "-q",
        "--fio-repeat",
        "2",
        "--fio-profiles",
        "quick",
        "--fio-workers",
        "1,2",
        *profiles,
    )
    result.stdout.fnmatch_lines(
        [
            "test_storage.py::test_storage[quick-w1-local-r1]",
            "test_storage.py::test_storage[quick-w2-local-r1]",
            "test_storage.py::test_storage[quick-w1-local-r2]",
            "test_storage.py::test_storage[quick-w2-local-r2]",
        ]
    )


def test_benchmark_marker_is_applied_automatically(pytester, profiles):
    pytester.makepyfile(
        STORAGE_TEST
        + """
def test_adhoc(fio_run):
    pass

def test_plain():
    pass
"""
    )
    selected = pytester.runpytest("--collect-only", "-q", "-m", "benchmark", *profiles)
    selected.stdout.fnmatch_lines(
        ["*::test_storage[[]quick-w1-local]", "*test_adhoc", "*3/4 tests collected (1 deselected)*"]
    )
    skipped = pytester.runpytest("--collect-only", "-q", "-m", "not benchmark", *profiles)
    skipped.stdout.fnmatch_lines(["*::test_plain", "*1/4 tests collected (3 deselected)*"])


def test_precedence_cli_env_ini(pytester, profiles, monkeypatch):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    pytester.makeini(INI + "fio_workers = 2\nfio_profiles = quick\n")
    ini_only = pytester.runpytest("--collect-only", "-q", *profiles)
    ini_only.stdout.fnmatch_lines(
        ["test_storage.py::test_storage[quick-w2-local]", "*1 test collected*"]
    )
    monkeypatch.setenv("FIO_WORKERS", "3")
    env = pytester.runpytest("--collect-only", "-q", *profiles)
    env.stdout.fnmatch_lines(["test_storage.py::test_storage[quick-w3-local]"])
    cli = pytester.runpytest("--collect-only", "-q", "--fio-workers", "5", *profiles)
    cli.stdout.fnmatch_lines(["test_storage.py::test_storage[quick-w5-local]"])


def test_suite_defaults_from_a_conftest_hook(pytester, profiles):
    pytester.makeconftest(
        "def pytest_fioloadgen_defaults(config):\n    return {'workers': [1, 3]}\n"
    )
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest("--collect-only", "-q", "--fio-profiles", "quick", *profiles)
    result.stdout.fnmatch_lines(["*[[]quick-w1-local]", "*[[]quick-w3-local]"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fio-workers", "1,x"), "ERROR: --fio-workers: 'x' is not a positive integer"),
        (("--fio-size", "big"), "ERROR: --fio-size: 'big' is not a fio size*"),
        (("--fio-label", "oops"), "ERROR: --fio-label: label 'oops' is not KEY=VALUE"),
        (("--fio-backend", "cloud"), "*argument --fio-backend: invalid choice: 'cloud'*"),
    ],
)
def test_bad_options_are_usage_errors(pytester, args, message):
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_env_value_names_the_variable(pytester, monkeypatch):
    monkeypatch.setenv("FIO_REPEAT", "zero")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: FIO_REPEAT: 'zero' is not a positive integer"])


def test_bad_thresholds_file_names_file_and_key(pytester):
    pytester.makefile(".toml", limits="[profile.quick]\niopz = 5\n")
    result = pytester.runpytest("--fio-thresholds", "limits.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: thresholds file *limits.toml (from --fio-thresholds): key profile.quick.iopz: unknown name 'iopz'*"
        ]
    )


def test_unknown_profile_is_a_clear_collection_error(pytester, profiles):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest("--fio-profiles", "nosuch", *profiles)
    result.stdout.fnmatch_lines(["*nosuch*quick*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "Traceback" not in result.stdout.str()


def test_unsafe_profile_is_refused_with_profile_line_and_option(pytester, profiles):
    (pytester.path / "myprofiles" / "evil.fio").write_text(
        "[global]\nioengine=psync\n[x]\nrw=read\nexec_prerun=rm -rf /\n"
    )
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest("--fio-profiles", "evil", *profiles)
    result.stdout.fnmatch_lines(["*evil.fio*line 5*exec_prerun*"])
    assert result.ret != pytest.ExitCode.OK


def test_runs_are_recorded_with_everything(pytester, profiles):
    (pytester.path / "myprofiles" / "mnt.fio").write_text(
        QUICK_PROFILE.replace("[global]\n", "[global]\ndirectory=/mnt\n")
    )
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-profiles",
        "mnt",
        "--fio-workers",
        "1,2",
        "--fio-store",
        "history.db",
        "--fio-label",
        "branch=main",
        "--fio-json",
        "session.json",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*fioloadgen results*",
            "test*case*runs*baseline IOPS*IOPS (min-max)*delta*MiB/s*read p99*write p99*verdict",
            "*mnt-w1-local*",
            "*mnt-w2-local*",
            "2 runs recorded in sqlite://*history.db (session *)",
        ]
    )
    runs = sorted(store_rows(pytester), key=lambda run: run.workers)
    assert [run.workers for run in runs] == [1, 2]
    first, second = runs
    assert first.session_id == second.session_id
    assert first.profile_name == "mnt" and first.backend == "local" and first.target == "local"
    assert first.labels["branch"] == "main"
    assert first.status == "complete" and first.verdict == "none"
    assert "directory" not in first.profile_text
    assert any("directory=/mnt" in note and "removed" in note for note in first.notes)
    assert first.fingerprint["fio_version"].startswith("fio-")
    assert first.fingerprint["targets"]["local"]["workers"] == 2
    assert first.metrics["iops"] > 0 and first.metrics["read_lat_p99_ms"] > 0
    assert second.metrics["scaling_efficiency"] > 0
    assert len(second.raw["client_stats"]) >= 2
    assert first.test_id.endswith("test_storage[mnt-w1-local]")
    exported = json.loads((pytester.path / "session.json").read_text())
    assert exported["session_id"] == first.session_id
    assert [run["case"] for run in exported["runs"]] == ["mnt-w1-local", "mnt-w2-local"]
    assert set(exported["runs"][1]["per_worker"]) == {w.name for w in []} | set(
        exported["runs"][1]["per_worker"]
    )
    assert len(exported["runs"][1]["per_worker"]) == 2


def test_threshold_violation_fails_with_metric_limit_value_and_source(pytester, profiles):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.fio(profile="quick", workers=1, thresholds={"iops": 1e12, "read_lat_p99_ms": 1e6})
        def test_fast(fio_run):
            result = fio_run()
            assert result.iops > 0
        """
    )
    result = pytester.runpytest("--fio-store", "none", *FAST, *profiles)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*quick-w1-local: fail: threshold: iops * < min 1e+12 (marker fio(thresholds=...))",
        ]
    )
    assert (
        "read_lat_p99_ms"
        not in result.stdout.str()
        .split("short test summary")[0]
        .split("fail: threshold")[1]
        .split("\n")[0]
    )
    result.stdout.fnmatch_lines(["*quick-w1-local*fail*"])


def test_thresholds_file_per_worker_count(pytester, profiles):
    pytester.makefile(
        ".toml",
        limits="[profile.quick]\niops = 1\n[profile.quick.workers.2]\niops = 1e12\n",
    )
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-thresholds",
        "limits.toml",
        "--fio-profiles",
        "quick",
        "--fio-workers",
        "1,2",
        "--fio-store",
        "history.db",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*quick-w2-local: fail: threshold: iops * < min 1e+12 (*limits.toml* [[]profile.quick.workers.2])"
        ]
    )
    verdicts = {run.workers: run.verdict for run in store_rows(pytester)}
    assert verdicts == {1: "pass", 2: "fail"}


def test_adhoc_run_with_overrides(pytester, profiles):
    pytester.makepyfile(
        """
        def test_adhoc(fio_run, fio_store):
            result = fio_run("quick", bs="64k", iodepth=2)
            assert len(result.workers) == 1
            run = fio_store.query()[0]
            assert "bs=64k" in run.profile_text and "iodepth=2" in run.profile_text
            assert "bs=64k (override)" in " ".join(run.notes)
        """
    )
    result = pytester.runpytest("--fio-store", "history.db", *FAST, *profiles)
    result.assert_outcomes(passed=1)


def test_missing_fio_is_a_clear_collection_error(pytester, profiles):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-binary", "/nonexistent/fio", "--fio-profiles", "quick", *profiles
    )
    result.stdout.fnmatch_lines(
        ["*profile 'quick.fio': cannot check it, fio binary '/nonexistent/fio' not found"]
    )
    assert "Traceback" not in result.stdout.str()


def test_deploy_failure_is_one_line_per_test(pytester, profiles):
    # A fio whose servers cannot start (as when every port is taken) but that parses jobs.
    fake = pytester.path / "fio-no-server"
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *--server*) echo "fio: bind: Address already in use"; exit 1;; esac\n'
        'exec fio "$@"\n'
    )
    fake.chmod(0o755)
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-binary",
        str(fake),
        "--fio-workers",
        "1,2",
        "--fio-store",
        "none",
        "--fio-profiles",
        "quick",
        *profiles,
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*fio workers could not be deployed: local fio server local-w* exited with status 1: fio: bind: Address already in use*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_environment_is_torn_down_after_failures(pytester, profiles, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    pytester.makepyfile(
        """
        def test_boom(fio_case, fio_run):
            fio_run(fio_case)
            raise RuntimeError("test body failed")
        """
    )
    result = pytester.runpytest(
        "--fio-target",
        f"t={target}",
        "--fio-profiles",
        "quick",
        "--fio-store",
        "none",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(failed=1)
    assert list(target.iterdir()) == []


def test_keep_leaves_worker_directories(pytester, profiles, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-keep",
        "--fio-target",
        f"t={target}",
        "--fio-profiles",
        "quick",
        "--fio-store",
        "none",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(passed=1)
    (session_dir,) = target.iterdir()
    assert (session_dir / "w0" / "rr.0.0").exists()


def test_html_report_has_the_results_table(pytester, profiles):
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--html",
        "report.html",
        "--self-contained-html",
        "--fio-profiles",
        "quick",
        "--fio-store",
        "none",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(passed=1)
    html = (pytester.path / "report.html").read_text()
    assert "fio-summary" in html and "fio-workers" in html
    assert "quick-w1-local" in html
    # results-table columns, the session matrix and the fingerprint in the Environment
    assert "col-fioiops" in html and "delta vs baseline" in html
    assert "fio-matrix" in html and "fioloadgen fingerprint" in html


def test_a_conftest_can_supply_the_backend(pytester, profiles):
    pytester.makeconftest(
        """
        from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget

        calls = []

        class CountingBackend(LocalBackend):
            name = "counting"

            def deploy(self, targets, workers):
                calls.append((tuple(targets), workers))
                return super().deploy(targets, workers)

        def pytest_fioloadgen_make_backend(config, settings, session_id):
            return CountingBackend([LocalTarget("local")], session_id=session_id)

        def pytest_sessionfinish(session):
            assert calls == [(("local",), 2)], calls
        """
    )
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-profiles",
        "quick",
        "--fio-workers",
        "1,2",
        "--fio-store",
        "history.db",
        *FAST,
        *profiles,
    )
    result.assert_outcomes(passed=2)
    assert {run.backend for run in store_rows(pytester)} == {"counting"}


def test_store_failure_loses_nothing(pytester, profiles):
    (pytester.path / "broken.db").write_bytes(b"this is not sqlite" * 100)
    pytester.makepyfile(test_storage=STORAGE_TEST)
    result = pytester.runpytest(
        "--fio-store", "broken.db", "--fio-profiles", "quick", *FAST, *profiles
    )
    # One usage line naming the option, no test runs, nothing written.
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --fio-store: history store *broken.db is not an sqlite*"])
    assert (pytester.path / "broken.db").read_bytes() == b"this is not sqlite" * 100
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(pytester.path / "broken.db").execute("select 1 from runs").fetchall()


@pytest.mark.slow
def test_progress_is_shown_on_a_terminal_only(pytester, profiles):
    """On a TTY the running case shows elapsed/expected seconds; not with -q, not piped."""
    import os
    import pty
    import subprocess
    import sys

    pytester.makepyfile(test_storage=STORAGE_TEST)
    args = [
        sys.executable,
        "-m",
        "pytest",
        "--fio-profiles",
        "quick",
        "--fio-store",
        "none",
        "--fio-runtime",
        "2",
        *profiles,
        "-p",
        "no:cacheprovider",
    ]

    def run_on_pty(extra):
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            args + extra, cwd=pytester.path, stdin=follower, stdout=follower, stderr=follower
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait()
        os.close(leader)
        return b"".join(chunks).decode(errors="replace")

    shown = run_on_pty([])
    assert "fio quick-w1-local:" in shown
    assert "/2 s" in shown
    assert "fio quick-w1-local:" not in run_on_pty(["-q"])
    piped = subprocess.run(args, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert "1 passed" in piped.stdout
    assert "fio quick-w1-local:" not in piped.stdout


def test_a_spaced_path_option_that_moved_the_rootdir_is_named(pytester, tmp_path_factory):
    """`--fio-thresholds /elsewhere/t.toml` with a space: pytest counts the file when it
    picks the rootdir and drops the project's ini file; the plugin says how to write it."""
    pytester.makeini(INI)
    pytester.makepyfile(test_storage=STORAGE_TEST)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    thresholds = elsewhere / "t.toml"
    thresholds.write_text("")
    spaced = pytester.runpytest("--fio-thresholds", str(thresholds), "--collect-only", "-q")
    assert spaced.ret == pytest.ExitCode.USAGE_ERROR
    line = f"--fio-thresholds {thresholds}: pytest took this path for a test path"
    assert [text for text in spaced.stderr.lines if line in text]
    assert f"write --fio-thresholds={thresholds}" in spaced.stderr.str()
    assert "tox.ini was not read" in spaced.stderr.str()
    # With `=`, or a path inside the project (it does not move the rootdir): no complaint.
    joined = pytester.runpytest(f"--fio-thresholds={thresholds}", "--collect-only", "-q")
    assert joined.ret == pytest.ExitCode.OK, joined.stderr.str()
    inside = pytester.path / "t.toml"
    inside.write_text("")
    assert pytester.runpytest("--fio-thresholds", str(inside), "--collect-only", "-q").ret == 0
    # A target directory is a path option too.
    target = pytester.runpytest("--fio-target", f"{elsewhere}", "--collect-only", "-q")
    assert target.ret == pytest.ExitCode.USAGE_ERROR
    assert f"write --fio-target={elsewhere}" in target.stderr.str()


def test_a_spaced_path_that_only_moved_the_rootdir_is_a_warning(pytester, tmp_path_factory):
    """No ini file either way: pytest still runs, with one warning naming the fix."""
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    elsewhere = tmp_path_factory.mktemp("store-elsewhere")
    store = elsewhere / "h.db"
    store.write_text("")
    result = pytester.runpytest("--fio-store", str(store), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"*--fio-store {store}: pytest took this path*write --fio-store={store}"]
    )
