"""--fio-store http://server: the plugin records its runs through the results server."""

from __future__ import annotations

import pytest
import requests

from tests.plugin.test_plugin import FAST, INI, QUICK_PROFILE, STORAGE_TEST


@pytest.fixture
def quick_profiles(pytester):
    pytester.makeini(INI)
    directory = pytester.mkdir("myprofiles")
    (directory / "quick.fio").write_text(QUICK_PROFILE)
    return ("--fio-profiles-dir", str(directory))


@pytest.mark.slow
def test_runs_are_recorded_on_the_server(pytester, quick_profiles, start_server, monkeypatch):
    live = start_server()
    monkeypatch.setenv("FIO_API_TOKEN", live.token)
    pytester.makepyfile(STORAGE_TEST)
    result = pytester.runpytest(
        *FAST,
        *quick_profiles,
        "--fio-profiles",
        "quick",
        "--fio-workers",
        "1,2",
        "--fio-store",
        live.url,
    )
    result.assert_outcomes(passed=2)
    runs = requests.get(f"{live.url}/api/v1/runs", timeout=10).json()["data"]
    assert sorted(run["workers"] for run in runs) == [1, 2]
    assert all(run["profile_name"] == "quick" and run["metrics"]["iops"] > 0 for run in runs)
    jobs = requests.get(f"{live.url}/api/v1/jobs", timeout=10).json()["data"]
    assert {job["source"] for job in jobs} == {"recorded"}


def test_a_wrong_token_fails_the_session_with_one_line(
    pytester, quick_profiles, start_server, monkeypatch
):
    live = start_server()
    monkeypatch.setenv("FIO_API_TOKEN", "wrong-token-wrong-token")
    pytester.makepyfile(STORAGE_TEST)
    result = pytester.runpytest(
        *FAST, *quick_profiles, "--fio-profiles", "quick", "--fio-store", live.url
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*history store http://127.0.0.1:*cannot record run*token*"])
