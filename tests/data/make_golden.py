"""Capture the golden fio outputs in tests/data/golden from real fio client/server runs.

Run from the checkout: ``python tests/data/make_golden.py``. Each file is fio's stdout
exactly as the runner received it (json+, with the per-client histogram bins).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio.runner import run_fio

HERE = Path(__file__).parent / "golden"

COMMON = "[global]\nioengine=psync\nsize=16m\nruntime=1\ntime_based\n"
CASES = {
    # name: (workers, job sections)
    "randread-w1": (1, "[rr]\nrw=randread\nbs=4k\n"),
    "randread-w2": (2, "[rr]\nrw=randread\nbs=4k\n"),
    "randread-w4": (4, "[rr]\nrw=randread\nbs=4k\n"),
    "seqwrite-w2": (2, "[sw]\nrw=write\nbs=64k\n"),
    "randrw-w4": (4, "[mix]\nrw=randrw\nrwmixread=70\nbs=4k\n"),
    # Two concurrent job sections: fio drops the "All clients" entry here.
    "two-sections-w2": (2, "[reader]\nrw=randread\nbs=4k\n[writer]\nrw=randwrite\nbs=4k\n"),
    # Sequential phases (stonewall) and numjobs: several reporting groups per worker.
    "phases-w2": (
        2,
        "[write-phase]\nrw=write\nbs=64k\nnumjobs=2\n[read-phase]\nstonewall\nrw=randread\nbs=4k\n",
    ),
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    backend = LocalBackend([LocalTarget("golden")], session_id=uuid.uuid4().hex)
    env = backend.deploy(["golden"], 4)
    try:
        for name, (workers, jobs) in CASES.items():
            chosen = backend.resolve(env, "golden", workers)
            result, invocation = run_fio(
                COMMON + jobs, [w.address for w in chosen], expected_runtime_s=2
            )
            (HERE / f"{name}.json").write_text(invocation.stdout)
            print(f"{name}: {len(result.workers)} workers, iops {result.metrics['iops']:.0f}")
    finally:
        backend.teardown(env)


if __name__ == "__main__":
    main()
