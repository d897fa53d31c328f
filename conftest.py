"""Test-suite configuration: pytester, and the opt-in flags for slow and real-cluster tests."""

from __future__ import annotations

import pytest

# The plugin imports scipy when a comparison first needs it (2 s of CPU every pytest start
# would pay otherwise). pytester's in-process runs drop the modules a run imported, and
# numpy's C extensions cannot be loaded twice in one process ("cannot load module more
# than once per process"): the test process imports them once, before any run.
import scipy.ndimage  # noqa: F401
import scipy.special  # noqa: F401
import scipy.stats  # noqa: F401

pytest_plugins = ("pytester",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (real fio runs of several seconds)",
    )
    parser.addoption(
        "--with-k8s",
        action="store_true",
        default=False,
        help="also run the kubernetes backend against a real cluster (KUBECONFIG, "
        "FIO_STORAGECLASS; creates and deletes namespace FIO_NAMESPACE or fio-selftest)",
    )
    parser.addoption(
        "--suite-part",
        choices=("measuring", "rest"),
        default=None,
        help="only the tests that measure with fio (run them one after another), or only "
        "the rest (unit, server, pages over stored runs: they can run beside them)",
    )


# A hung fio must not hang CI; benchmarks/ is left alone, its runtimes are the user's.
TEST_TIMEOUT_S = 300

# Tests that judge no figure fio measured: the unit tests, the results server's, the pages
# drawn from stored runs, and fio runs judged only by what they touch (the Kubernetes
# emulator's deploys and teardowns, the confinement oracle's traced file accesses). Every
# other test under tests/ runs fio sessions and judges what they measured (rates,
# timelines, verdicts, process tables, timings): `--suite-part measuring` selects those,
# to run one after another, and `--suite-part rest` the others, which bootstrap.sh runs in
# a second pytest beside them (two cores). pytest-xdist's loadgroup would do it in one
# run, but it names groups through a node attribute pytest 9.2 no longer reads: its
# groups are silently ignored.
MEASURE_NOTHING = (
    "tests/unit/",
    "tests/browser/test_accessibility.py",
    "tests/browser/test_browser_xss.py",
    "tests/browser/test_charts.py",
    "tests/browser/test_distribution_views.py",
    "tests/browser/test_imported_views.py",
    "tests/browser/test_job_list_pages.py",
    "tests/browser/test_key_and_runs_views.py",
    "tests/browser/test_overview_views.py",
    "tests/browser/test_run_page_views.py",
    "tests/integration/k8s/",
    "tests/integration/test_confinement_oracle.py",
    "tests/integration/test_fio_values.py",
    "tests/integration/test_secrets.py",
    "tests/integration/test_server_answer_cache.py",
    "tests/integration/test_server_cli.py",
    "tests/integration/test_server_cli_mistakes.py",
    "tests/integration/test_server_daemon.py",
    "tests/integration/test_server_legacy.py",
    "tests/integration/test_server_limits.py",
    "tests/integration/test_server_load.py",
    "tests/integration/test_server_metrics.py",
    "tests/integration/test_server_probe.py",
    "tests/integration/test_server_tls.py",
)

def _measures(config: pytest.Config, item: pytest.Item) -> bool:
    if not item.path.is_relative_to(config.rootpath / "tests"):
        return False
    relative = item.path.relative_to(config.rootpath).as_posix()
    return not relative.startswith(MEASURE_NOTHING)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = config.getoption("--run-slow")
    has_timeout = config.pluginmanager.hasplugin("timeout")
    skip = pytest.mark.skip(reason="slow: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip)
        in_tests = item.path.is_relative_to(config.rootpath / "tests")
        if has_timeout and in_tests and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))
    part = config.getoption("--suite-part")
    if part is not None:
        chosen = [item for item in items if _measures(config, item) == (part == "measuring")]
        if len(chosen) < len(items):
            kept = set(map(id, chosen))
            config.hook.pytest_deselected(items=[i for i in items if id(i) not in kept])
            items[:] = chosen


def pytest_unconfigure(config: pytest.Config) -> None:
    """A test that leaves a non-daemon thread behind (a cheroot server never stopped) would
    make the interpreter wait for it forever after the last test: CI would hang until its
    time limit. Name the threads and exit with a failure instead."""
    import os
    import sys
    import threading

    left = [
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    if left:
        sys.stderr.write(f"\nERROR: non-daemon threads left running by the tests: {left}\n")
        sys.stderr.flush()
        os._exit(1)
