"""Verdicts: everything that judges a run, in one place.

* ``status``: the one Status type and its severity order;
* ``thresholds``: the thresholds file, limits and their checks on a result;
* ``regression``: a metric against its baseline (statistics, power);
* ``gating``: the gating policy and ``decide``, where a run's status is composed once;
* ``changepoints``, ``trends``, ``summaries``: level shifts over a key's history and the
  per-key summaries the site, the server and the CLI share.
"""

from .gating import GatingPolicy, Verdict, decide
from .status import Status, worst

__all__ = ["GatingPolicy", "Status", "Verdict", "decide", "worst"]
