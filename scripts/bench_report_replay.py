"""conftest.py of the project scripts/bench_report.py generates: a backend that replays a
real fio 3.33 json+ document (path in $FIOLOADGEN_BENCH_GOLDEN) instead of running fio,
with a 60 s time series per worker and the last worker of each case at 60 % speed."""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_fioloadgen.backends.base import Environment, Worker
from pytest_fioloadgen.fio.results import RunResult, parse_result
from pytest_fioloadgen.fio.runner import WorkerAddress, with_timeseries

GOLDEN = json.loads(Path(os.environ["FIOLOADGEN_BENCH_GOLDEN"]).read_text())
WINDOWS_MS = range(500, 60_001, 500)


class ReplayBackend:
    name = "replay"

    def deploy(self, targets: Sequence[str], workers: int) -> Environment:
        return Environment(
            "replay",
            {
                target: [
                    Worker(f"{target}-w{i}", WorkerAddress(f"127.0.{t}.{i + 2}", 8765), target)
                    for i in range(workers)
                ]
                for t, target in enumerate(targets)
            },
        )

    def resolve(self, env: Environment, target: str, count: int) -> list[Worker]:
        return env.workers[target][:count]

    def run_job(
        self,
        env: Environment,
        job_text: str,
        workers: Sequence[Worker],
        *,
        expected_runtime_s: float,
        on_progress: Any = None,
        timeline: bool = False,
    ) -> RunResult:
        entry = GOLDEN["client_stats"][0]
        document = copy.deepcopy(GOLDEN)
        document["client_stats"] = []
        series = {}
        for index, worker in enumerate(workers):
            clone = copy.deepcopy(entry)
            clone["hostname"], clone["port"] = worker.address.host, worker.address.port
            slow = index == len(workers) - 1 and len(workers) > 1
            share = 0.6 if slow else random.uniform(0.95, 1.05)
            clone["read"]["iops"] *= share
            clone["read"]["bw_bytes"] = int(clone["read"]["bw_bytes"] * share)
            document["client_stats"].append(clone)
            iops = clone["read"]["iops"]
            series[worker.address.name] = {
                "read_iops": [[t, round(iops * random.uniform(0.9, 1.1), 1)] for t in WINDOWS_MS],
                "read_lat_ms": [[t, round(random.uniform(0.05, 0.2), 4)] for t in WINDOWS_MS],
            }
        result = parse_result(document)
        return with_timeseries(result, {"interval_ms": 500, "workers": series})

    def teardown(self, env: Environment) -> None:
        pass

    def fingerprint(self, env: Environment) -> dict[str, Any]:
        storage = {target: {"fs": "ext4"} for target in env.targets}
        return {"host": "bench", "fio_version": "fio-3.33", "targets": storage}


def pytest_fioloadgen_make_backend(config: Any, settings: Any, session_id: str) -> ReplayBackend:
    return ReplayBackend()
