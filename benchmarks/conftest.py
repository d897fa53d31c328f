"""Defaults of the shipped benchmark suite (below CLI, FIO_* variables and ini keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest


def pytest_fioloadgen_defaults(config: pytest.Config) -> Mapping[str, Any]:
    # Three worker counts show scaling; 10 s per case keeps the whole suite near five
    # minutes on the local backend while leaving fio past its ramp-up.
    return {"workers": "1,2,4", "runtime": 10, "size": "128m"}
