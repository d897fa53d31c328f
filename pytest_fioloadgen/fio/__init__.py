"""Running fio (runner) and understanding its output (results)."""

from .results import METRIC_NAMES, RunResult, WorkerResult, higher_is_better, parse_result
from .runner import WorkerAddress, run_fio

__all__ = [
    "METRIC_NAMES",
    "RunResult",
    "WorkerAddress",
    "WorkerResult",
    "higher_is_better",
    "parse_result",
    "run_fio",
]
