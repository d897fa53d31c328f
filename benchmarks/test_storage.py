"""The shipped benchmark suite: every profile x worker count x target.

Run it with ``pytest -m benchmark benchmarks/``; limits live in thresholds.toml beside
this file, every run is recorded in the history store.
"""

from __future__ import annotations


def test_storage(fio_case, fio_run):
    result = fio_run(fio_case)
    # Every worker must have taken part: a silent worker would skew every figure.
    assert len(result.workers) == fio_case.workers
    assert all(worker.iops > 0 for worker in result.workers)
