"""A run whose workers did not measure one window together (window skew alone) is
recorded as unstable and measured again (--fio-remeasure-skew); real fio, two workers,
one of them held back at the start of the first run, as a loaded host or fio's client
starting servers one by one does."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

from pytest_fioloadgen.backends.local import LocalBackend, LocalTarget
from pytest_fioloadgen.cases import Case
from pytest_fioloadgen.profiles import parse_profile
from pytest_fioloadgen.session import BenchmarkSession
from pytest_fioloadgen.store import open_store
from pytest_fioloadgen.verdicts.gating import GatingPolicy
from pytest_fioloadgen.verdicts.status import Status
from pytest_fioloadgen.verdicts.thresholds import Thresholds

PROFILE = (
    "[global]\nioengine=psync\ndirect=1\nsize=8m\nruntime=4\ntime_based\nrate_iops=300\n"
    "[r]\nrw=randread\nbs=4k\n"
)
HELD_S = 2.0


class LateWorkerBackend(LocalBackend):
    """The local backend; in the first measured run, the second worker's server is
    stopped (SIGSTOP) as the client starts and continued HELD_S later: its job starts
    and, time based, ends that much after the other's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.measured = 0

    def run_job(self, env, job_text, workers, **kwargs):
        if "rate_iops=300" not in job_text or self.measured > 0:
            self.measured += "rate_iops=300" in job_text
            return super().run_job(env, job_text, workers, **kwargs)
        self.measured += 1
        pids = self.worker_pids(workers[1])
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)

        def resume() -> None:
            time.sleep(HELD_S)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

        thread = threading.Thread(target=resume)
        thread.start()
        try:
            return super().run_job(env, job_text, workers, **kwargs)
        finally:
            thread.join()


def test_a_skewed_run_is_recorded_unstable_and_measured_again(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    backend = LateWorkerBackend([LocalTarget("t", target)], session_id=uuid.uuid4().hex)
    store = open_store(str(tmp_path / "history.db"))
    bench = BenchmarkSession(
        backend=backend,
        targets=["t"],
        max_workers=2,
        store=store,
        thresholds=Thresholds.empty(),
        timeline=True,
        gating=GatingPolicy(baseline="none", metrics=("iops",), remeasure_skew=1),
    )
    try:
        outcome = bench.run(Case(parse_profile(PROFILE, name="steady"), 2, "t"), test_id="t")
    finally:
        bench.close()
    try:
        runs = sorted(store.query(), key=lambda run: run.started_at)
        assert backend.measured == 2
        assert [run.verdict for run in runs] == ["unstable", outcome.status.value]
        first = store.get(runs[0].run_id)
        codes = [f["code"] for f in first.evidence["timeline"]["findings"] if f["unstable"]]
        assert codes == ["TL001"], first.evidence["timeline"]
        assert outcome.status is not Status.UNSTABLE
        assert any("measured again (1 of up to 1" in note for note in outcome.record.notes)
    finally:
        store.close()
