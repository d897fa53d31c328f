"""Hooks a conftest or another plugin can implement to extend pytest-fioloadgen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends.base import Backend, Environment
    from .cases import CaseOutcome
    from .faults.builtin import FaultType
    from .settings import Settings


@pytest.hookspec(firstresult=True)
def pytest_fioloadgen_make_backend(
    config: pytest.Config, settings: Settings, session_id: str
) -> Backend | None:
    """Return the Backend for this session, or None to let the next implementation decide.

    The plugin's own implementation runs last and builds the backend named by
    ``--fio-backend``; a conftest can supply its own (for example a lab's machine pool).
    """


@pytest.hookspec(historic=False)
def pytest_fioloadgen_defaults(config: pytest.Config) -> Mapping[str, Any] | None:
    """Suite defaults below ini values (e.g. a benchmark suite's worker counts).

    Keys are option names (``workers``, ``runtime``...). Only conftests loaded before
    configuration (those of the directories given on the command line, and the rootdir's)
    take part.
    """


def pytest_fioloadgen_fingerprint(env: Environment) -> Mapping[str, Any] | None:
    """Extra facts to store in every run's environment fingerprint (merged in order)."""


def pytest_fioloadgen_result_recorded(outcome: CaseOutcome) -> None:
    """Called after a run was evaluated and stored."""


@pytest.hookspec(firstresult=True)
def pytest_fioloadgen_fault_type(name: str) -> FaultType | None:
    """Register a named fault: return its ``FaultType`` (its keys and how to make it for a
    run, see pytest_fioloadgen.faults) for ``name``, or None for names of others.

    A registered fault is used like a built-in one: ``--fio-fault 'NAME:key=value,at=..'``,
    the ``fio`` marker's ``fault=`` and ``fio_run(faults=[...])``; its keys are checked, it
    is injected on time, undone on every exit, and its run is measured in phases.
    """
