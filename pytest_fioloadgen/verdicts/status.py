"""The one status type of a run and its one severity order.

Every run gets exactly one status, decided once by the session (verdicts.gating.decide)
and stored with the run; every view renders the stored status. Severity, worst first:

* ``error``: the run did not produce a result (fio failed, a worker was lost);
* ``fail``: a threshold was broken;
* ``regression``: worse than its baseline beyond the tolerance, with statistical
  evidence, confirmed by the configured re-runs;
* ``unstable``: the repeats disagree more than the metric's variation limit allows;
* ``suspect``: looks like a regression, a confirmation run follows;
* ``inconclusive``: the comparison could not have detected the tolerance (the baseline is
  too noisy or too small for this many samples): not a pass;
* ``improved``: better than its baseline beyond the tolerance, with evidence;
* ``pass``: thresholds held and/or no change against the baseline;
* ``none``: nothing was checked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.StrEnum):
    ERROR = "error"
    FAIL = "fail"
    REGRESSION = "regression"
    UNSTABLE = "unstable"
    SUSPECT = "suspect"
    INCONCLUSIVE = "inconclusive"
    IMPROVED = "improved"
    PASS = "pass"
    NONE = "none"

    @property
    def severity(self) -> int:
        """Higher is worse; the order of the enum, worst first."""
        return len(_ORDER) - _ORDER.index(self)

    @property
    def fails_the_test(self) -> bool:
        """Whether a pytest test whose run ends with this status fails."""
        return self in (Status.ERROR, Status.FAIL, Status.REGRESSION, Status.UNSTABLE)

    @classmethod
    def parse(cls, value: str | None) -> Status:
        """A stored status; unknown or missing values (old records) read as none."""
        if value is None:
            return cls.NONE
        try:
            return cls(value)
        except ValueError:
            return cls.NONE


_ORDER = tuple(Status)
STATUSES = tuple(status.value for status in Status)


def worst(statuses: Iterable[Status | str | None]) -> Status:
    """The most severe of ``statuses`` (none when there are none)."""
    parsed = [status if isinstance(status, Status) else Status.parse(status) for status in statuses]
    return max(parsed, key=lambda status: status.severity, default=Status.NONE)
