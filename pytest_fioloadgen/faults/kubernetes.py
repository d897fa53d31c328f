"""The Kubernetes faults: ``delete-pod`` and ``drain-node`` (see builtin.py for the rest)."""

from __future__ import annotations

from collections.abc import Mapping

from .builtin import FaultType

KUBERNETES: Mapping[str, FaultType] = {}
