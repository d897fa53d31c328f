"""Test-suite configuration: pytester, and the opt-in flag for slow tests."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (real fio runs of several seconds)",
    )


# A hung fio must not hang CI; benchmarks/ is left alone, its runtimes are the user's.
TEST_TIMEOUT_S = 300


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
