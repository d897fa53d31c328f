"""pytest-xdist: what the plugin does differently on a worker and on the controller.

Measurements never overlap: every run holds the session's cross-process measurement
lock for its device or target (session.measurement_lock), whichever xdist worker runs it,
while other tests still run in parallel. Each worker records its runs in the history
store as usual; the summary table, ``--fio-json`` and the exports are assembled on the
controller, by an ``XdistController`` registered only there (as pytest-xdist registers
its DSession only in distributed mode), from the outcomes the workers attach to their
test reports: one summary, holding every worker's runs.

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
from ..settings import Settings
from ..store import default_store_uri
from ..verdicts.regression import DEFAULT_MIN_BASELINE
from ..verdicts.thresholds import Thresholds
from .results import SessionResults

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


class XdistController:
    """The plugin object of the xdist controller, which runs no test itself: it hands
    its session id to every worker it starts and assembles the session's results from
    the outcomes their reports carry."""

    def __init__(self, session_id: str, settings: Settings, thresholds: Thresholds):
        self.session_id = session_id
        self._settings = settings
        # No BenchmarkSession here to ask: the thresholds file's [gating] table says when
        # gating starts, as it did on the workers.
        self._min_baseline = int(thresholds.gating.get("min_baseline", DEFAULT_MIN_BASELINE))
        self._outcomes: list[CaseOutcome] = []

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Every worker records under this session id."""
        node.workerinput[SESSION_ID_INPUT] = self.session_id

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._outcomes += unpack(getattr(report, REPORT_ATTRIBUTE, None))

    def results(self) -> SessionResults | None:
        """Every worker's outcomes, in the order they started (None before any came)."""
        if not self._outcomes:
            return None
        outcomes = sorted(self._outcomes, key=lambda outcome: outcome.record.started_at)
        settings = self._settings
        store_uri = (
            None
            if settings.store == "none"
            else settings.store or str(default_store_uri(settings.rootdir))
        )
        return SessionResults(
            outcomes=outcomes,
            # One, unless runs came from elsewhere.
            session_ids=",".join(dict.fromkeys(outcome.record.session_id for outcome in outcomes)),
            labels=outcomes[0].record.labels,
            fingerprint=dict(outcomes[0].record.fingerprint),
            store_uri=store_uri,
            min_baseline=self._min_baseline,
            # What each worker flagged at run time.
            cache_suspects=[
                (outcome, outcome.cache_note) for outcome in outcomes if outcome.cache_note
            ],
        )
