"""pytest-xdist: what the plugin does differently on a worker and on the controller.

Measurements never overlap: every run holds the session's cross-process measurement
lock for its device or target (session.measurement_lock), whichever xdist worker runs it,
while other tests still run in parallel. Each worker records its runs in the history
store as usual; the summary table, ``--fio-json`` and the exports are assembled on the
controller from the outcomes the workers attach to their test reports, so there is one
summary, holding every worker's runs.

The outcomes travel pickled: xdist serializes reports to plain JSON-like values, and the
controller's views need the same CaseOutcome objects a single process has. The data goes
only from the worker processes the controller itself started to that controller, over
xdist's own channel; nothing else is ever unpickled.
"""

from __future__ import annotations

import base64
import pickle
import zlib
from collections.abc import Sequence
from typing import Any

import pytest

from ..cases import CaseOutcome

#: The TestReport attribute a worker's outcomes travel in.
REPORT_ATTRIBUTE = "fioloadgen_outcomes"


def is_worker(config: pytest.Config) -> bool:
    """This process is an xdist worker (xdist sets ``workerinput`` there)."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """This process distributes tests to xdist workers (and runs none itself)."""
    return not is_worker(config) and config.pluginmanager.hasplugin("dsession")


#: The workerinput key the controller hands its session id to every worker under.
SESSION_ID_INPUT = "fioloadgen_session_id"


def shared_session_id(config: pytest.Config) -> str | None:
    """On an xdist worker, the session id its controller chose: one pytest invocation is
    one session in the history, however many workers ran its cases."""
    workerinput = getattr(config, "workerinput", None)
    if not isinstance(workerinput, dict):
        return None
    value = workerinput.get(SESSION_ID_INPUT)
    return value if isinstance(value, str) else None


def worker_id(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput.get("workerid", "")) if isinstance(workerinput, dict) else ""


def pack(outcomes: Sequence[CaseOutcome]) -> str:
    """Outcomes as one text value a report can carry (compressed: fio's JSON documents
    come along, the controller's charts are drawn from them)."""
    return base64.b64encode(zlib.compress(pickle.dumps(list(outcomes)))).decode("ascii")


def unpack(packed: Any) -> list[CaseOutcome]:
    if not isinstance(packed, str):
        return []
    outcomes = pickle.loads(zlib.decompress(base64.b64decode(packed)))  # see the module doc
    return [outcome for outcome in outcomes if isinstance(outcome, CaseOutcome)]
