"""Capture real fio 3.33 histogram logs for the timeline tests in tests/data/timeline.

Run from the checkout: ``python tests/data/make_timeline_golden.py``. Each case directory
holds fio's stdout (json+) as ``output.json``, the client's start and end on this
machine's clock as ``span.json``, and every log file fio's client wrote, gzipped (the
histogram logs are mostly zeros and compress about 40:1).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.fio import timeseries
from pytest_fioloadgen.fio.timeline import hist_logging

HERE = Path(__file__).parent / "timeline"
INTERVAL_MS = 250

COMMON = "[global]\nioengine=libaio\ndirect=1\niodepth=4\nsize=32m\ntime_based\n"
CASES = {
    # name: (workers, job sections)
    "randrw-w2": (2, "runtime=3\nramp_time=1\n[mix]\nrw=randrw\nbs=4k\n"),
    # numjobs and a stonewall: a worker's jobs are numbered 1..3 in its log names.
    "phases-w2": (
        2,
        "runtime=1\n[reader]\nrw=randread\nbs=4k\nnumjobs=2\n[writer]\nstonewall\nrw=randwrite\nbs=4k\n",
    ),
}


def main() -> None:
    HERE.mkdir(exist_ok=True)
    backend = LocalBackend([LocalTarget("golden")], session_id=uuid.uuid4().hex)
    env = backend.deploy(["golden"], 2)
    try:
        for name, (workers, jobs) in CASES.items():
            chosen = backend.resolve(env, "golden", workers)
            case_dir = HERE / name
            shutil.rmtree(case_dir, ignore_errors=True)
            case_dir.mkdir()
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                (work / "hosts").write_text(
                    "".join(w.address.hostfile_line() + "\n" for w in chosen)
                )
                job = timeseries.with_logging(COMMON + jobs, INTERVAL_MS, hist_logging(INTERVAL_MS))
                (work / "job.fio").write_text(job)
                start = time.time() * 1000.0
                done = subprocess.run(
                    ["fio", "--client=hosts", "job.fio", "--output-format=json+"],
                    cwd=work,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                end = time.time() * 1000.0
                (case_dir / "output.json").write_text(done.stdout)
                workers_by_host = {w.address.host: w.address.name for w in chosen}
                span = {
                    "client_span_ms": [start, end],
                    "interval_ms": INTERVAL_MS,
                    "workers": workers_by_host,
                }
                (case_dir / "span.json").write_text(json.dumps(span, indent=1))
                # The averaged IOPS and latency logs and the histogram logs (not the
                # clat/slat logs write_lat_log also writes: nothing reads them).
                kept = [*work.glob("fioloadgen_iops.*"), *work.glob("fioloadgen_lat.*")]
                for log in sorted([*kept, *work.glob("fioloadgen_clat_hist.*")]):
                    (case_dir / f"{log.name}.gz").write_bytes(gzip.compress(log.read_bytes(), 9))
            print(f"{name}: {len(list(case_dir.iterdir()))} files")
    finally:
        backend.teardown(env)


if __name__ == "__main__":
    main()
